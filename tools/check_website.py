"""Open every page of the built website in Chromium and check it as a reader's browser sees it
(``make site-check``).

    python tools/check_website.py                    # _build/site, every page
    python tools/check_website.py SITE --screenshots DIR

The site is served from 127.0.0.1 on a free port, and every page (index, notebooks, search,
index of terms; every language's folder too) is loaded in headless Chromium through
Playwright. A page fails when:

- it requests anything from another host (a CDN, fonts, thebe, analytics...), or a request
  fails or answers with an HTTP error;
- an image does not load (``naturalWidth`` is 0);
- the console logs an error, or a script raises;
- it has math and MathJax does not render all of it (every formula becomes an
  ``mjx-container``; none holds an ``mjx-merror``).

It also types a word into the search page and expects results, and opens one folded solution.

Chromium: Playwright drives the browser found first among ``$CHROMIUM``, ``chromium``,
``chromium-browser``, ``google-chrome`` on the PATH, and Playwright's own download (``.venv/bin/
playwright install chromium``, which needs the network). On Debian or Ubuntu, as root:
``apt-get install -y chromium``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET_CHROMIUM = (
    "no Chromium found: install one with `apt-get install -y chromium` (Debian or Ubuntu, as "
    "root) or `.venv/bin/playwright install chromium`, or set CHROMIUM=/path/to/chromium")

# In the page: the images that did not load, and how MathJax did.
IMAGES = """() => Array.from(document.images)
    .filter(image => !(image.complete && image.naturalWidth > 0))
    .map(image => image.currentSrc || image.src)"""
MATH = """async () => {
    const formulas = document.querySelectorAll('.math');
    if (formulas.length === 0) return {formulas: 0};
    if (!window.MathJax || !window.MathJax.startup) return {formulas: formulas.length,
                                                           error: 'MathJax did not load'};
    await window.MathJax.startup.promise;
    const unrendered = Array.from(formulas).filter(f => !f.querySelector('mjx-container'));
    return {formulas: formulas.length,
            rendered: document.querySelectorAll('mjx-container').length,
            unrendered: unrendered.map(f => f.textContent.slice(0, 80)),
            errors: Array.from(document.querySelectorAll('mjx-merror'))
                         .map(e => e.getAttribute('data-mjx-error') || e.textContent)};
}"""


def find_chromium() -> str | None:
    """The path of a Chromium to drive, or None for Playwright's own."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The browser cancels what it no longer needs (a page left, a font it found cached) and
        # closes the connection: a broken pipe then is not an error of the site's.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def pages(site: Path) -> list[str]:
    """Every page of the site, as paths relative to it (``_static`` and ``_sources`` aside)."""
    return sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(path.relative_to(site).parts))


def check_page(page, url: str, origin: str) -> tuple[list[str], dict]:
    """Load ``url`` in ``page``; return (the problems found, what was seen)."""
    problems = []
    host = urlsplit(origin).netloc

    def on_request(request):
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != host:
            problems.append(f"request to another host: {request.url}")

    def on_response(response):
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    handlers = {
        "request": on_request,
        "response": on_response,
        "requestfailed": lambda r: problems.append(f"request failed ({r.failure}): {r.url}"),
        "console": lambda m: m.type == "error" and problems.append(
            f"console error: {m.text} ({m.location.get('url', '')}:"
            f"{m.location.get('lineNumber', '')})"),
        "pageerror": lambda error: problems.append(f"script error: {error}"),
    }
    for event, handler in handlers.items():
        page.on(event, handler)
    try:
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")
        broken = page.evaluate(IMAGES)
        problems += [f"image did not load: {src}" for src in broken]
        math = page.evaluate(MATH)
        if math.get("error"):
            problems.append(math["error"])
        problems += [f"formula not rendered: {text!r}" for text in math.get("unrendered", [])]
        problems += [f"MathJax error: {text}" for text in math.get("errors", [])]
        page.wait_for_load_state("networkidle")  # MathJax's fonts, among others
        seen = {"images": page.evaluate("document.images.length"),
                "formulas": math.get("formulas", 0),
                "solutions": page.locator("details.hide summary").count()}
    finally:
        for event, handler in handlers.items():
            page.remove_listener(event, handler)
    return problems, seen


def check_search(page, origin: str, folder: str) -> list[str]:
    page.goto(f"{origin}/{folder}search.html?q=topological", wait_until="load")
    try:
        page.wait_for_selector("#search-results li p.context", timeout=15_000)
    except Exception:  # playwright's TimeoutError
        return [f"{folder}search.html?q=topological: no results with excerpts"]
    return []


def check_solution_opens(page, origin: str, name: str) -> list[str]:
    page.goto(f"{origin}/{name}", wait_until="load")
    summary = page.locator("details.hide summary").first
    code = page.locator("details.hide .cell_input").first
    if code.is_visible():
        return [f"{name}: the first solution is not folded"]
    summary.click()
    if not code.is_visible():
        return [f"{name}: the first solution does not open"]
    return []


def check(site: Path, screenshots: Path | None = None) -> int:
    from playwright.sync_api import Error, sync_playwright

    if not (site / "index.html").exists():
        print(f"{site / 'index.html'} does not exist: build the site first (make site)",
              file=sys.stderr)
        return 2
    chromium = find_chromium()
    server, origin = serve(site)
    failures = 0
    try:
        with sync_playwright() as playwright:
            try:
                browser = playwright.chromium.launch(executable_path=chromium)
            except Error as error:
                print(f"{HOW_TO_GET_CHROMIUM}\n({error.message.splitlines()[0]})",
                      file=sys.stderr)
                return 2
            print(f"Chromium {browser.version} ({chromium or 'Playwright'}), site {site}")
            names = pages(site)
            for name in names:
                # A new context for each page, as a first visit: nothing stored by another page
                # (the theme keeps its mode in localStorage) hides what this one logs.
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                problems, seen = check_page(page, f"{origin}/{name}", origin)
                status = "ok" if not problems else "FAILED"
                print(f"{status:6} {name}: {seen['images']} images, {seen['formulas']} "
                      f"formulas, {seen['solutions']} folded solutions")
                for problem in problems:
                    print(f"         {problem}")
                failures += bool(problems)
                if screenshots:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=screenshots / (name.replace("/", "_") + ".png"))
                context.close()
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            folders = sorted({name.rpartition("/")[0] for name in names if
                              name.endswith("index.html") and name.count("/") <= 1})
            for folder in folders:
                prefix = f"{folder}/" if folder else ""
                extra = check_search(page, origin, prefix)
                exercises = next((n for n in names if n.startswith(prefix) and
                                  n[len(prefix):].startswith("02_")), None)
                if exercises:
                    extra += check_solution_opens(page, origin, exercises)
                for problem in extra:
                    print(f"FAILED {problem}")
                failures += len(extra)
                print(f"{'ok' if not extra else 'FAILED':6} {prefix}search.html finds "
                      "'topological'; a folded solution opens")
            browser.close()
    finally:
        server.shutdown()
    print(f"{len(names)} pages checked: " + ("all passed" if not failures else
                                              f"{failures} failed"))
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path, default=ROOT / "_build" / "site")
    parser.add_argument("--screenshots", type=Path, help="save a screenshot of every page here")
    args = parser.parse_args(argv)
    return check(args.site, args.screenshots)


if __name__ == "__main__":
    sys.exit(main())
