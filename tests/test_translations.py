"""The Chinese catalogues keep up with the English notebooks: every message of every page is in
its catalogue, translated, not fuzzy, with the code, formulas and links of the English, and the
Chinese site builds from them with warnings as errors.

An English paragraph changed without its translation fails here, naming the notebook and the
paragraph: run `make translations`, translate what it marks, and run the tests again.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGUES = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
NOTEBOOKS = sorted(path.stem for path in (ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
# What a translation keeps exactly as the English has it: code spans, formulas, link targets,
# bold text's markers.
KEPT = {"backquotes": "`", "dollar signs": "$", "links": "](", "bold markers": "**"}


def catalogue(path: Path):
    with path.open("rb") as file:
        return read_po(file)


def messages(path: Path) -> dict:
    """{English message: the message} of a catalogue or template, without the header."""
    return {message.id: message for message in catalogue(path) if message.id}


def short(text: str) -> str:
    return text if len(text) <= 90 else text[:87] + "..."


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> Path:
    """The message templates of today's English pages, one per notebook."""
    out = tmp_path_factory.mktemp("gettext")
    work = tmp_path_factory.mktemp("work")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "website.py"), "--builder",
                           "gettext", "--out", str(out), "--work", str(work)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_notebook_has_a_catalogue_and_nothing_else_does():
    assert sorted(path.stem for path in CATALOGUES.glob("*.po")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_catalogue_holds_every_message_of_the_page(name, templates):
    missing = set(messages(templates / f"{name}.pot")) - set(messages(CATALOGUES / f"{name}.po"))
    assert not missing, (
        f"{name}: {len(missing)} English paragraphs have no translation yet, the first: "
        f"{short(sorted(missing)[0])!r}. Run `make translations` and translate them in "
        f"locales/zh_CN/LC_MESSAGES/{name}.po")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_message_is_translated_and_not_fuzzy(name):
    for english, message in messages(CATALOGUES / f"{name}.po").items():
        assert message.string, f"{name}: not translated yet: {short(english)!r}"
        assert not message.fuzzy, (
            f"{name}: the English changed since this translation (marked fuzzy): "
            f"{short(english)!r}; translate it again and remove the fuzzy mark")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_translations_keep_the_code_formulas_and_links(name):
    for english, message in messages(CATALOGUES / f"{name}.po").items():
        for what, mark in KEPT.items():
            assert english.count(mark) == message.string.count(mark), (
                f"{name}: the translation of {short(english)!r} has "
                f"{message.string.count(mark)} {what} where the English has {english.count(mark)}")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_translation_starts_like_a_numbered_list(name):
    """MyST reads a heading's text "4. 标量" as a list item and drops it: "4\\. 标量"."""
    for message in messages(CATALOGUES / f"{name}.po").values():
        assert not re.match(r"\d+\.\s", message.string), (
            f"{name}: {short(message.string)!r} starts like a numbered list: escape the period")


def test_the_chinese_site_builds_from_the_catalogues(tmp_path):
    out, work = tmp_path / "site", tmp_path / "work"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "website.py"), "--language",
                           "zh_CN", "--out", str(out), "--work", str(work)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in NOTEBOOKS:
        first = next(iter(messages(CATALOGUES / f"{name}.po").values()))  # the page's title
        title = re.sub(r"\\(.)", r"\1", first.string)
        page = (out / f"{name}.html").read_text(encoding="utf-8")
        assert title in page, f"{name}.html does not show its Chinese title {title!r}"
        for english in ("Show the solution", "<summary>Hint</summary>"):
            assert english not in page, f"zh_CN/{name}.html still says {english!r}"
