"""Write the Chinese notebooks, ``zh_CN/solutions/`` and ``zh_CN/notebooks/`` (``make zh``).

    python tools/zh_notebooks.py                 # into zh_CN/
    python tools/zh_notebooks.py --out /tmp/zh   # somewhere else

The English notebooks stay the only source; the Chinese prose comes from the catalogues of the
website, ``locales/zh_CN/LC_MESSAGES/<notebook>.po`` (``make translations`` and a translator
keep them up to date). Each notebook of ``solutions/`` and ``notebooks/`` is copied with:

- its code cells as they are: same source, same stored outputs, same ids and metadata;
- each markdown cell translated block by block. The cell is parsed with the parser the website
  uses (MyST's markdown-it, with book/_config.yml's extensions); each paragraph, heading, list
  item's paragraph and table cell has a message whose key is the block's text as Sphinx
  extracted it: the block's inline source, its lines joined by spaces, with its links rewritten
  as tools/website.py rewrites them for the site (``Links``, reused here). The block's source
  lines are replaced by the translation, keeping what comes before the text on its first line
  (a heading's ``#``, a list marker, indentation); its links get back the English notebook's
  targets, in order, one folder deeper (``../README.md`` becomes ``../../README_zh.md``, at the
  same section of the Chinese README; a link to a notebook of either edition stays as it is,
  to the Chinese one). A formula or code block's message is its text with its line breaks:
  its translation (the words of a ``\\text{}``) replaces that text between the block's fences.
  HTML blocks are kept, with the fixed replacement ``<summary>Hint</summary>`` ->
  ``<summary>提示</summary>``. A block without a translation is an error naming the notebook,
  the cell and the paragraph.
- ``zh_CN/data`` and the few other symbolic links of ``PROJECT`` (to ``../data`` and so on):
  the notebooks read ``Path("..") / "data"``, and notebook 16 builds the package from ``..``.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import sys
from pathlib import Path

import nbformat
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import website  # noqa: E402

LANGUAGE = "zh_CN"
EDITIONS = ("solutions", "notebooks")
CATALOGUES = ROOT / "locales" / LANGUAGE / "LC_MESSAGES"
# What the notebooks read one folder up, as ``Path("..") / ...``: the data (07 to 15) and, for
# notebook 16, which builds the package from the project folder, what the package is made of.
# zh_CN/ holds a symbolic link to each, so that zh_CN/notebooks/ runs as notebooks/ does.
PROJECT = ("data", "framework", "tools", "pyproject.toml", "README.md", "LICENSE",
           "CHANGELOG.md", "MANIFEST.in")
HTML_REPLACEMENTS = {"<summary>Hint</summary>": "<summary>提示</summary>"}
# The blocks whose messages are their own text, kept as they are.
LITERAL = {"math_block", "fence", "code_block"}


class TranslationError(ValueError):
    pass


def markdown_parser():
    """MyST's markdown-it parser, configured as book/_config.yml configures the site's."""
    import yaml
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text(encoding="utf-8"))
    sphinx = config["sphinx"]["config"]
    return create_md_parser(MdParserConfig(
        enable_extensions=set(config["parse"]["myst_enable_extensions"]),
        heading_anchors=sphinx["myst_heading_anchors"],
        linkify_fuzzy_links=sphinx["myst_linkify_fuzzy_links"]), RendererHTML)


def catalogue(name: str) -> dict[str, str]:
    """{English message: its translation} of a notebook's catalogue (empty ones included)."""
    path = CATALOGUES / f"{name}.po"
    if not path.exists():
        raise TranslationError(f"{name}: no catalogue {path.relative_to(ROOT)}; run "
                               "`make translations` and translate it")
    with path.open("rb") as file:
        return {m.id: (m.string if not m.fuzzy else "") for m in read_po(file) if m.id}


def key(text: str) -> str:
    """A block's message key, as Sphinx's gettext builder extracts it from MyST's paragraph."""
    return text.replace("\n", " ").strip()


def short(text: str) -> str:
    text = key(text)
    return text if len(text) <= 90 else text[:87] + "..."


class Translator:
    def __init__(self):
        self.parser = markdown_parser()
        pages = {path.name for path in (ROOT / "solutions").glob("*.ipynb")}
        # The messages were extracted from the English pages: their links are the English
        # site's (README.md's sections); the Chinese README's sections, for the targets.
        self.links = website.Links(pages, website.repository_url())
        self.sections = website.Links(pages, "", website.INTRO[LANGUAGE]).sections

    def target(self, link: str, edition: str) -> str:
        """An English notebook's link target, for the same notebook one folder deeper."""
        if website._SCHEME.match(link) or link.startswith("#"):
            return link
        path, _, anchor = link.partition("#")
        resolved = posixpath.normpath(posixpath.join(edition, path))
        if resolved.split("/")[0] in EDITIONS:
            return link  # a notebook of either edition (or its folder): zh_CN/ has it too
        if resolved == "README.md":
            anchor = self.sections.get(anchor, anchor)
            path = posixpath.join(posixpath.dirname(path), website.INTRO[LANGUAGE])
        return "../" + path + (f"#{anchor}" if anchor else "")

    def blocks(self, source: str):
        """(first line, end line, inline source) of each translatable block of a markdown
        text, and (line, html) of its HTML blocks."""
        tokens = self.parser.parse(source)
        for index, token in enumerate(tokens):
            if token.type == "inline" and index and tokens[index - 1].type in (
                    "paragraph_open", "heading_open", "th_open", "td_open"):
                yield token.type, token.map, token.content
            elif token.type in LITERAL or token.type == "html_block":
                yield token.type, token.map, token.content

    def cell(self, source: str, messages: dict, edition: str, where: str) -> str:
        lines = source.splitlines(keepends=True)
        rewritten = self.links.rewrite(source, "notebooks", where).splitlines(keepends=True)
        assert len(lines) == len(rewritten)
        # The blocks are found, and replaced, in the text with the site's links (the keys');
        # every line no translation touches is then put back as the English has it.
        new = list(rewritten)
        touched = set()
        done_until = {}  # row line -> position after the last replaced table cell
        for kind, (first, end), content in self.blocks("".join(rewritten)):
            if kind == "html_block":
                for line in range(first, end):
                    new[line] = lines[line]  # as the English has it, but for the fixed words
                    for english, chinese in HTML_REPLACEMENTS.items():
                        new[line] = new[line].replace(english, chinese)
                    touched.add(line)
                continue
            if kind in LITERAL:  # its message is its text, kept with its line breaks
                message = next((text for text in (content, content.strip(), key(content))
                                if text in messages), content)
                translation = messages.get(message, message)
                if translation != message:  # words in a formula's \\text{}, say
                    text = "".join(lines[first:end])
                    if not translation or message not in text:
                        raise TranslationError(f"{where}: no translation of the formula or code "
                                               f"block {short(content)!r} (line {first + 1})")
                    new[first:end] = [text.replace(message, translation, 1)] + [""] * (
                        end - first - 1)
                    touched.update(range(first, end))
                continue
            message = key(content)
            if not message:  # an empty table cell: nothing to translate
                continue
            translation = messages.get(message)
            if not translation:
                raise TranslationError(
                    f"{where}: no translation of the paragraph {short(content)!r} (line "
                    f"{first + 1}); run `make translations` and translate it")
            english_targets = [m[2] for m in website._LINK.finditer("".join(lines[first:end]))]
            site_targets = [m[2] for m in website._LINK.finditer(message)]
            own_targets = [m[2] for m in website._LINK.finditer(translation)]
            if own_targets != site_targets or len(english_targets) != len(site_targets):
                raise TranslationError(f"{where}: the translation of {short(content)!r} does "
                                       f"not have the English's links in the same order")
            targets = iter([self.target(t, edition) for t in english_targets])
            translation = website._LINK.sub(lambda m, t=targets: m[1] + next(t) + m[3],
                                            translation)
            first_line = content.split("\n", 1)[0]
            if end - first == 1 and kind == "inline" and "\n" not in content:
                line = new[first]
                start = line.find(first_line, done_until.get(first, 0))
                if start < 0:
                    raise TranslationError(f"{where}: cannot find {short(content)!r}")
                new[first] = line[:start] + translation + line[start + len(first_line):]
                done_until[first] = start + len(translation)
                touched.add(first)
                continue
            line = new[first]
            start = line.find(first_line)
            if start < 0:
                raise TranslationError(f"{where}: cannot find {short(content)!r}")
            ending = "\n" if lines[end - 1].endswith("\n") else ""
            new[first] = line[:start] + translation + ending
            for index in range(first + 1, end):
                new[index] = ""
            touched.update(range(first, end))
        return "".join(new[i] if i in touched else lines[i] for i in range(len(lines)))

    def notebook(self, path: Path, edition: str):
        notebook = nbformat.read(path, as_version=4)
        messages = catalogue(path.stem)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "markdown":
                cell.source = self.cell(cell.source, messages, edition,
                                        f"{edition}/{path.name}: cell {index}")
        return notebook


def generate(out: Path) -> list[Path]:
    """Write the Chinese notebooks into ``out``/<edition>/; return the files changed."""
    translator = Translator()
    changed = []
    for edition in EDITIONS:
        folder = out / edition
        folder.mkdir(parents=True, exist_ok=True)
        sources = sorted((ROOT / edition).glob("*.ipynb"))
        for path in sources:
            text = nbformat.writes(translator.notebook(path, edition)) + "\n"
            target = folder / path.name
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                changed.append(target)
        for stale in set(folder.glob("*.ipynb")) - {folder / p.name for p in sources}:
            stale.unlink()
            changed.append(stale)
    for name in PROJECT:
        link = out / name
        if not link.is_symlink() and not link.exists():
            os.symlink(os.path.relpath(ROOT / name, out), link,
                       target_is_directory=(ROOT / name).is_dir())
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / LANGUAGE)
    args = parser.parse_args(argv)
    try:
        changed = generate(args.out)
    except ValueError as error:  # an untranslated paragraph or a broken link, named
        print(f"zh_notebooks: {error}", file=sys.stderr)
        return 1
    print(f"zh_notebooks: {args.out}: {len(changed)} notebooks written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
