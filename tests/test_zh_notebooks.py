"""The Chinese notebooks, zh_CN/solutions/ and zh_CN/notebooks/, are what ``make zh`` makes.

They are committed, written by tools/zh_notebooks.py from the English notebooks and the
catalogues of locales/zh_CN/. Here they are written again into a temporary folder and compared
with the committed ones; their code cells are the English cells, and no block that has a
translation is left in English. They are not run by nbval: their code cells and stored outputs
are the English notebooks' own, which nbval already checks.
"""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import zh_notebooks  # noqa: E402

ZH = ROOT / "zh_CN"
NOTEBOOKS = [(edition, path.name) for edition in zh_notebooks.EDITIONS
             for path in sorted((ROOT / edition).glob("*.ipynb"))]
REMAKE = "run `make zh` and commit zh_CN/"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zh")
    zh_notebooks.generate(out)
    return out


def test_each_edition_has_the_english_notebooks_and_no_other():
    for edition in zh_notebooks.EDITIONS:
        english = sorted(path.name for path in (ROOT / edition).glob("*.ipynb"))
        chinese = sorted(path.name for path in (ZH / edition).glob("*.ipynb"))
        assert chinese == english, f"zh_CN/{edition} does not hold the English notebooks: {REMAKE}"


@pytest.mark.parametrize("edition,name", NOTEBOOKS)
def test_the_committed_notebook_is_what_the_generator_makes(edition, name, generated):
    committed = (ZH / edition / name).read_text(encoding="utf-8")
    assert committed == (generated / edition / name).read_text(encoding="utf-8"), (
        f"zh_CN/{edition}/{name} is not what tools/zh_notebooks.py makes: {REMAKE}")


@pytest.mark.parametrize("edition,name", NOTEBOOKS)
def test_code_cells_are_the_english_ones_and_markdown_is_translated(edition, name):
    english = nbformat.read(ROOT / edition / name, as_version=4)
    chinese = nbformat.read(ZH / edition / name, as_version=4)
    assert chinese.metadata == english.metadata
    assert len(chinese.cells) == len(english.cells)
    messages = zh_notebooks.catalogue(Path(name).stem)
    translated = {zh_notebooks.key(text) for text, chinese_text in messages.items()
                  if chinese_text and chinese_text != text}
    translator = zh_notebooks.Translator()
    for index, (ours, theirs) in enumerate(zip(chinese.cells, english.cells, strict=True)):
        assert (ours.cell_type, ours.get("id"), ours.metadata) == (
            theirs.cell_type, theirs.get("id"), theirs.metadata), f"{name}: cell {index}"
        if ours.cell_type != "markdown":
            assert ours == theirs, f"zh_CN/{edition}/{name}: code cell {index} differs"
            continue
        # The English cell's blocks, with the site's links (their keys) and as written.
        site = translator.links.rewrite(theirs.source, "notebooks", f"{name}: cell {index}")
        keys = [zh_notebooks.key(content) for _, _, content in translator.blocks(site)]
        texts = [content for _, _, content in translator.blocks(theirs.source)]
        left = [text for key, text in zip(keys, texts, strict=True)
                if key in translated and text.strip() in ours.source]
        assert not left, (f"zh_CN/{edition}/{name}: cell {index} still has English: "
                          f"{zh_notebooks.short(left[0])!r}")


def test_a_missing_translation_is_an_error_naming_the_paragraph():
    translator = zh_notebooks.Translator()
    with pytest.raises(zh_notebooks.TranslationError, match="cell 3.*A new paragraph"):
        translator.cell("# Title\n\nA new paragraph.\n", {"Title": "标题"}, "notebooks",
                        "notebooks/01_introduction.ipynb: cell 3")


def test_headings_lists_links_and_hints_keep_their_markup():
    translator = zh_notebooks.Translator()
    source = ("## 2. Links\n\n- See [the package](../framework/) and\n  [notebook 03]"
              "(03_topological_sort.ipynb), [Contents](../README.md#the-notebooks).\n\n"
              "[The solution](../solutions/03_topological_sort.ipynb).\n\n"
              "<details><summary>Hint</summary>\n\nThink.\n\n</details>\n")
    repository = zh_notebooks.website.repository_url()
    messages = {
        "2. Links": "2\\. 链接",
        f"See [the package]({repository}/tree/main/framework) and [notebook 03]"
        "(03_topological_sort.ipynb), [Contents](index.md#the-notebooks).":
            f"见[这个包]({repository}/tree/main/framework)和[第 03 个 notebook]"
            "(03_topological_sort.ipynb)，[目录](index.md#the-notebooks)。",
        f"[The solution]({repository}/blob/main/solutions/03_topological_sort.ipynb).": "[答案]"
            f"({repository}/blob/main/solutions/03_topological_sort.ipynb)。",
        "Think.": "想一想。",
    }
    assert translator.cell(source, messages, "notebooks", "test") == (
        "## 2\\. 链接\n\n- 见[这个包](../../framework/)和[第 03 个 notebook]"
        "(03_topological_sort.ipynb)，[目录](../../README_zh.md#课程目录)。\n\n"
        "[答案](../solutions/03_topological_sort.ipynb)。\n\n"
        "<details><summary>提示</summary>\n\n想一想。\n\n</details>\n")
