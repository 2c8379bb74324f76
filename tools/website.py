"""Build the course as a static website with Jupyter Book 1 (``make site``).

    python tools/website.py                      # the English site: _build/site/index.html
    python tools/website.py --out /tmp/site      # somewhere else
    python tools/website.py --language zh_CN     # a translated site, in _build/site/zh_CN/

Nothing is executed: the pages show the outputs stored in the notebooks. Warnings are errors.

What the pages are made of. The build reads a generated source folder,
``_build/website/source/<language>/``, written here from the repository:

- One page per notebook of ``solutions/``, named after it (``04_forward_backward_scalars.html``),
  in the course's order. Each page reads as the learner's edition with its solutions folded:
  before every solution cell goes a copy of it as ``tools/workbook.py`` makes it for
  ``notebooks/`` (the blank: ``raise NotImplementedError(...)`` or ``name = ...``, outputs
  none), and the solution cell itself is tagged ``hide-cell`` with the prompt "Show the
  solution", which myst-nb renders as a folded ``<details>`` element, code and outputs inside.
  Built from the solutions, no page holds the learner's edition's error outputs (its checks
  fail on the blanks); the check cells show what they print once the exercise is done.
- ``index.md``, the home page: README.md (README_zh.md for Chinese), whose table lists the
  notebooks.
- Links: a notebook's link to another notebook becomes a link between pages, README.md the
  home page (``../README.md#the-notebooks``: its section); a link to any other file or folder
  of the repository (``../framework/``, ``../solutions/02_node_and_graph.ipynb``,
  ``LICENSE``) goes to it on GitHub, at pyproject.toml's project URL ``Source``. A link to a
  path that does not exist is an error.
- ``book/_config.yml`` (Jupyter Book's configuration, copied with the repository's URL
  filled in), ``_toc.yml`` (the page order) and ``book/favicon.svg``.

Jupyter Book 1 turns the configuration into Sphinx's ``conf.py`` (``jupyter-book config
sphinx``) and Sphinx builds it (``sphinx-build -W --keep-going -E``, fresh every time, so a
warning is never hidden by an earlier build) into _build/website/output/, copied to the site's
folder once the build succeeds: a failed build leaves the site as it was. Another language is
Sphinx's own: ``-D language=zh_CN`` with the catalogues of
``locales/<language>/LC_MESSAGES/<page>.po`` (``gettext_compact`` is off: one catalogue per
page); the same source folder gives those catalogues' templates with ``--builder gettext``
(into _build/gettext/<language>/).
"""

from __future__ import annotations

import argparse
import copy
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import workbook  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

LANGUAGES = ("en", "zh_CN")
# The home page of each language's site.
INTRO = {"en": "README.md", "zh_CN": "README_zh.md"}
BRANCH = "main"
SHOW, HIDE = "Show the solution", "Hide the solution"
# What the catalogues cannot reach, in each language: the toggle's labels, and the hints'
# <summary>, which is raw HTML (Sphinx extracts no message from it).
LABELS = {"en": {"show": SHOW, "hide": HIDE, "hint": "Hint"},
          "zh_CN": {"show": "显示答案", "hide": "隐藏答案", "hint": "提示"}}
BLANK_TAG, SOLUTION_TAG = "exercise-blank", "exercise-solution"  # CSS classes tag_<name>

_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def repository_url() -> str:
    """pyproject.toml's project URL ``Source`` (GitHub), without a trailing slash."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["project"]["urls"]["Source"].rstrip("/")


def _section_anchors(text: str) -> list[str]:
    """The anchors MyST gives the ``## `` headings of a markdown text (myst_heading_anchors)."""
    from myst_parser.mdit_to_docutils.base import default_slugify

    return [default_slugify(line[3:].strip().replace("`", ""))
            for line in text.splitlines() if line.startswith("## ")]


class Links:
    """Rewrites the links of a markdown text written in ``folder`` of the repository."""

    def __init__(self, pages: set[str], repository: str, intro: str = "README.md"):
        self.pages = pages            # the course's notebook file names
        self.repository = repository
        # A link to a section of README.md goes to the same section of the home page, made
        # from `intro`: README_zh.md's sections mirror README.md's, one for one
        # (tests/test_readmes.py), under headings of their own.
        english = _section_anchors((ROOT / "README.md").read_text(encoding="utf-8"))
        own = _section_anchors((ROOT / intro).read_text(encoding="utf-8"))
        self.sections = dict(zip(english, own, strict=True))

    def target(self, link: str, folder: str, where: str) -> str:
        if _SCHEME.match(link) or link.startswith("#"):
            return link
        path, _, anchor = link.partition("#")
        anchor = f"#{anchor}" if anchor else ""
        resolved = posixpath.normpath(posixpath.join(folder, path))
        if resolved.startswith("../"):
            raise ValueError(f"{where}: the link {link!r} leaves the repository")
        if resolved == "notebooks/" + posixpath.basename(resolved) and (
                posixpath.basename(resolved) in self.pages):
            return posixpath.basename(resolved) + anchor
        if resolved == "README.md":
            if anchor and anchor[1:] not in self.sections:
                raise ValueError(f"{where}: the link {link!r} points at a section that "
                                 "README.md does not have")
            return "index.md" + (f"#{self.sections[anchor[1:]]}" if anchor else "")
        on_disk = ROOT / resolved
        if not on_disk.exists():
            raise ValueError(f"{where}: the link {link!r} points at {resolved}, which does not "
                             "exist in the repository")
        kind = "tree" if on_disk.is_dir() else "blob"
        return f"{self.repository}/{kind}/{BRANCH}/{resolved}{anchor}"

    def rewrite(self, text: str, folder: str, where: str) -> str:
        return _LINK.sub(lambda m: m[1] + self.target(m[2], folder, where) + m[3], text)


def site_notebook(source: Path, links: Links, language: str = "en"):
    """The page of solutions notebook ``source``: see the module's docstring."""
    notebook = nbformat.read(source, as_version=4)
    workbook.require_exact_markers(notebook, source.name)
    exercises = workbook.find_exercises(notebook, source.name)
    blanks = {}
    for exercise in exercises:
        solution = notebook.cells[exercise.solution]
        blank = copy.deepcopy(solution)
        blank.source = workbook.stub_source(solution.source, exercise.number, source.name)
        blank.outputs, blank.execution_count = [], None
        blank.metadata = {"tags": [BLANK_TAG]}
        blank.pop("id", None)
        blanks[exercise.solution] = blank
        solution.metadata.setdefault("tags", []).extend(["hide-cell", SOLUTION_TAG])
        labels = LABELS[language]
        solution.metadata["mystnb"] = {"code_prompt_show": labels["show"],
                                       "code_prompt_hide": labels["hide"]}
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            # The markdown is the learner's edition's: its links are relative to notebooks/.
            cell.source = links.rewrite(cell.source, "notebooks", f"{source.name}: cell {index}")
            cell.source = cell.source.replace("<summary>Hint</summary>",
                                              f"<summary>{LABELS[language]['hint']}</summary>")
        if index in blanks:
            cells.append(blanks[index])
        cells.append(cell)
    notebook.cells = cells
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # ids of their own: the blank and its solution differ
    return notebook


def table_of_contents(stems: list[str]) -> str:
    toc = {"format": "jb-book", "root": "index", "chapters": [{"file": s} for s in stems]}
    return "# Written by tools/website.py: the course's notebooks in order.\n" + yaml.safe_dump(
        toc, sort_keys=False)


def configuration(repository: str) -> str:
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
    config["repository"]["url"] = repository
    return ("# Written by tools/website.py from book/_config.yml.\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def write_source(folder: Path, language: str) -> list[str]:
    """Write the site's source folder; return the pages' names, in order."""
    repository = repository_url()
    notebooks = sorted((ROOT / "solutions").glob("*.ipynb"))
    links = Links({path.name for path in notebooks}, repository, INTRO[language])
    files = {
        "_config.yml": configuration(repository),
        "_toc.yml": table_of_contents([path.stem for path in notebooks]),
        "index.md": links.rewrite((ROOT / INTRO[language]).read_text(encoding="utf-8"), "",
                                  INTRO[language]),
    }
    for path in notebooks:
        files[path.name] = nbformat.writes(site_notebook(path, links, language))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    shutil.copy(ROOT / "book" / "favicon.svg", folder)
    return [path.stem for path in notebooks]


def default_out(language: str, builder: str = "html") -> Path:
    """_build/site/ for the English pages, _build/site/<language>/ for a translation;
    _build/<builder>/<language>/ for another builder (gettext's message templates)."""
    if builder != "html":
        return ROOT / "_build" / builder / language
    site = ROOT / "_build" / "site"
    return site if language == "en" else site / language


def clean_output(out: Path):
    """Empty the output folder of an earlier build, keeping the translations' sites in it.
    A folder outside _build/ is emptied only if Sphinx built it (it holds .buildinfo)."""
    out.mkdir(parents=True, exist_ok=True)
    entries = [entry for entry in out.iterdir() if entry.name not in LANGUAGES]
    ours = out.resolve().is_relative_to((ROOT / "_build").resolve())
    if entries and not ours and not (out / ".buildinfo").exists():
        raise ValueError(f"{out} is not empty and holds no earlier build: choose another --out")
    for entry in entries:
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def build(language: str = "en", out: Path | None = None, work: Path | None = None,
          builder: str = "html", quiet: bool = True) -> int:
    work = work or ROOT / "_build" / "website"
    out = out or default_out(language, builder)
    source, doctrees = work / "source" / language, work / "doctrees" / language
    write_source(source, language)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "jupyter-book"), "config", "sphinx", str(source)], check=True,
                   stdout=subprocess.DEVNULL)
    # Sphinx writes into a staging folder of its own, since myst-nb puts its files beside the
    # output folder (../jupyter_execute/): inside the English site, for a translation's.
    staging = work / "output" / language / builder
    if staging.parent.exists():
        shutil.rmtree(staging.parent)
    command = [sys.executable, "-m", "sphinx", "-b", builder, "-W", "--keep-going", "-E",
               "-d", str(doctrees), "-D", f"language={language}",
               "-D", f"locale_dirs={ROOT / 'locales'}", str(source), str(staging)]
    if quiet:
        command.insert(3, "-q")
    status = subprocess.run(command).returncode
    if status == 0:  # a failed build leaves the site as it was
        clean_output(out)
        shutil.copytree(staging, out, dirs_exist_ok=True)
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--language", default="en", choices=LANGUAGES)
    parser.add_argument("--out", type=Path, help="the site's folder (default: _build/site, "
                        "and _build/site/<language> for a translation)")
    parser.add_argument("--work", type=Path, help="where the generated source, Sphinx's "
                        "doctrees and its output before it is copied go (default: "
                        "_build/website)")
    parser.add_argument("--builder", default="html",
                        help="Sphinx's builder: html, or gettext for the message templates")
    parser.add_argument("--verbose", action="store_true", help="Sphinx's progress too")
    args = parser.parse_args(argv)
    try:
        status = build(args.language, args.out, args.work, args.builder, quiet=not args.verbose)
    except ValueError as error:  # a broken link or a malformed exercise, named
        print(f"website: {error}", file=sys.stderr)
        return 1
    if status == 0:
        out = args.out or default_out(args.language, args.builder)
        shown = out / "index.html" if args.builder == "html" else out
        print(f"website ({args.language}, {args.builder}): {shown}")
    return status


if __name__ == "__main__":
    sys.exit(main())
