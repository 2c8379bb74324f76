"""The course's website (``make site``, tools/website.py): built once here, with warnings as
errors, into a temporary folder, and read back: one page per notebook in the course's order,
exercises folded, stored outputs shown, links that work, nothing loaded from another host.

The same checks in a real browser (every request, image, formula and console message) are
``make site-check`` (tools/check_website.py), which needs a Chromium besides .venv.
"""

import os
import posixpath
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import website  # noqa: E402
import workbook  # noqa: E402

NOTEBOOKS = sorted((ROOT / "solutions").glob("*.ipynb"))
STEMS = [path.stem for path in NOTEBOOKS]


class Page(HTMLParser):
    """What a page links to and loads, and the ids it defines."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.links, self.loads, self.ids, self.rel = [], [], set(), {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "link" and attrs.get("href"):
            if attrs.get("rel") in ("next", "prev"):
                self.rel[attrs["rel"]] = attrs["href"]
            self.loads.append(attrs["href"])  # stylesheets, preloads, icons
        elif tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and (
                attrs.get("src")):
            self.loads.append(attrs["src"])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the English site once; fail with Sphinx's own report if the build does."""
    work = tmp_path_factory.mktemp("website")
    out = work / "site"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "website.py"), "--out",
                             str(out), "--work", str(work)], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, (
        "make site failed (warnings are errors):\n" + result.stdout + result.stderr)
    return out


@pytest.fixture(scope="module")
def pages(site):
    return {path.relative_to(site).as_posix(): path.read_text(encoding="utf-8")
            for path in site.rglob("*.html") if "_static" not in path.parts}


def test_one_page_per_notebook_in_the_course_order_with_previous_and_next(site, pages):
    assert {f"{stem}.html" for stem in STEMS} <= set(pages)
    assert {"index.html", "search.html"} <= set(pages)
    order = ["index", *STEMS]
    neighbours = zip([None, *order[:-1]], order, [*order[1:], None], strict=True)
    for previous, page, following in neighbours:
        rel = Page(pages[f"{page}.html"]).rel
        assert rel.get("prev") == (previous and f"{previous}.html"), page
        if following:
            assert rel.get("next") == f"{following}.html", page
    # The sidebar lists the notebooks in the same order on every page.
    sidebar = re.findall(r'class="reference internal" href="(\d\d_\w+)\.html"',
                         pages["index.html"].split('id="main-content"')[0])
    assert sidebar == STEMS


def test_search_indexes_every_page(site):
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    for stem in STEMS:
        assert f'"{stem}"' in index, stem


def _exercise_count(path: Path) -> int:
    notebook = nbformat.read(path, as_version=4)
    return len(workbook.find_exercises(notebook, path.name))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=STEMS)
def test_each_solution_is_folded_under_the_learners_blank(path, pages):
    page = pages[f"{path.stem}.html"]
    exercises = _exercise_count(path)
    assert page.count(f'<p class="collapsed admonition-title">{website.SHOW}</p>') == exercises
    assert page.count(f"tag_{website.BLANK_TAG} ") == exercises
    # Each folded solution comes right after its blank, inside a closed <details>.
    folded = re.findall(r'tag_exercise-blank .*?<div class="cell tag_hide-cell '
                        r'tag_exercise-solution docutils container">\s*<details class="[^"]*">',
                        page, re.S)
    assert len(folded) == exercises and all("<details open" not in f for f in folded)
    # The blanks are the learner's edition's: the stub, never its failing check's output.
    if exercises:
        assert "is not done yet" in page or "replace ... with your answer" in page
    assert "Traceback" not in page and 'class="output traceback' not in page


@pytest.mark.parametrize("path", NOTEBOOKS, ids=STEMS)
def test_stored_outputs_are_shown_and_load(path, site, pages):
    notebook = nbformat.read(path, as_version=4)
    images = sum("image/png" in output.get("data", {}) for cell in notebook.cells
                 if cell.cell_type == "code" for output in cell.outputs)
    sources = [src for src in Page(pages[f"{path.stem}.html"]).loads if "_images/" in src]
    assert len(sources) == images
    assert all((site / unquote(src)).stat().st_size > 0 for src in sources)


def test_pages_load_nothing_from_another_host(site, pages):
    for name, text in pages.items():
        page = Page(text)
        external = [src for src in page.loads if urlsplit(src).scheme or src.startswith("//")]
        assert external == [], name
        assert "THEBE" not in text and "thebe" not in text.lower(), name
        for service in ("binder", "colab", "deepnote", "unpkg.com", "jsdelivr", "googleapis",
                        "gstatic"):
            assert service not in text.lower(), (name, service)
    # MathJax is the site's own copy, and no stylesheet imports fonts from elsewhere.
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert '<script defer="defer" src="_static/mathjax/tex-chtml.js">' in (
        pages["04_forward_backward_scalars.html"])
    for css in (site / "_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import\s+url\(['\"]?https?:", text), (
            css.relative_to(site).as_posix())


def test_the_theme_mode_is_set(pages):
    """An empty mode made the theme log "Got invalid theme mode" on every first visit."""
    assert 'localStorage.getItem("mode") || "light"' in pages["index.html"]


def test_every_link_within_the_site_reaches_a_page_and_its_anchor(site, pages):
    parsed = {name: Page(text) for name, text in pages.items()}
    broken = []
    for name, page in parsed.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("mailto:"):
                continue
            target = name
            if parts.path:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                           unquote(parts.path)))
            if not (site / target).exists():
                broken.append((name, link))
            elif parts.fragment and target in parsed and (
                    parts.fragment not in parsed[target].ids):
                broken.append((name, link))
    assert broken == []
    # The notebooks' "Contents" links go to README's table of notebooks, the home page.
    assert 'href="index.html#the-notebooks"' in pages["02_node_and_graph.html"]


def test_links_to_the_repository_go_to_github(pages):
    repository = website.repository_url()
    assert repository.startswith("https://github.com/")
    text = pages["01_introduction.html"]
    assert f'href="{repository}/tree/main/framework"' in text
    for name, page_text in pages.items():
        for link in Page(page_text).links:
            assert not link.endswith((".ipynb", ".md", ".py")) or link.startswith("https://"), (
                name, link)


def test_a_link_to_a_missing_file_is_an_error():
    links = website.Links({"02_node_and_graph.ipynb"}, "https://github.com/o/r")
    assert links.target("02_node_and_graph.ipynb", "notebooks", "x") == "02_node_and_graph.ipynb"
    assert links.target("../README.md#the-notebooks", "notebooks", "x") == (
        "index.md#the-notebooks")
    assert links.target("../framework/", "notebooks", "x") == (
        "https://github.com/o/r/tree/main/framework")
    with pytest.raises(ValueError, match="99_missing.ipynb, which does not exist"):
        links.target("../solutions/99_missing.ipynb", "notebooks", "03_x.ipynb: cell 4")
    with pytest.raises(ValueError, match="a section that README.md does not have"):
        links.target("../README.md#no-such-section", "notebooks", "03_x.ipynb: cell 4")


def test_the_configuration_runs_nothing_and_keeps_outside_services_off():
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["launch_buttons"]["thebe"] is False
    extensions = config["sphinx"]["config"]["extensions"]
    assert "sphinx-mathjax-offline" in extensions
    assert not {"sphinx_thebe", "sphinx_comments", "sphinx.ext.intersphinx"} & set(extensions)


def _make_dry_run(*arguments) -> list[str]:
    """As in test_project_files.py: without the outer make's variables."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    result = subprocess.run(["make", "-n", "--no-print-directory", *arguments], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_make_site_builds_it_and_make_site_check_checks_it_in_a_browser():
    assert [command.split("python ", 1)[-1] for command in _make_dry_run("site")[-2:]] == [
        "tools/website.py", "tools/website.py --language zh_CN"]
    commands = _make_dry_run("site-check")
    assert commands[-2].endswith("python tools/website.py --language zh_CN")
    assert "python tools/check_website.py" in commands[-1]


def test_the_checks_server_is_quiet_about_requests_the_browser_cancelled(tmp_path, capsys):
    """A browser closes connections it no longer needs; the server of make site-check printed a
    BrokenPipe traceback for each. Any other error is still printed."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from check_website import serve
    finally:
        sys.path.remove(str(ROOT / "tools"))
    server, _ = serve(tmp_path)
    try:
        for cancelled in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise cancelled
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a real error")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a real error" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
