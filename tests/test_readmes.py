"""README.md: its example runs and does what its comments say, and README_zh.md mirrors it."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_trains():
    example = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert example, "README.md has no python example"
    namespace = {}
    exec(compile(example.group(1), str(README), "exec"), namespace)
    loss, w = namespace["loss"], namespace["w"]

    # The loss at the example's starting point, computed independently with NumPy.
    rng = np.random.default_rng(0)
    x0, y0, w0 = rng.normal(size=(8, 3)), rng.random(8), rng.normal(size=(3, 1))
    initial = np.mean((1 / (1 + np.exp(-(x0 @ w0)))[:, 0] - y0) ** 2)
    assert float(loss.value) < 0.5 * initial
    assert w.gradients[w].shape == w.value.shape == (3, 1)


ZH = README.parent / "README_zh.md"


def _code_without_comments(text):
    blocks = re.findall(r"```(?:bash|python)\n(.*?)```", text, re.S)
    return [re.sub(r"\s*#.*", "", block) for block in blocks]


def _links(text):
    return sorted(set(re.findall(r"\]\(([^)]+)\)", text)))


def test_the_readmes_link_to_each_other_from_their_first_line():
    assert "](README_zh.md)" in README.read_text(encoding="utf-8").splitlines()[0]
    assert "](README.md)" in ZH.read_text(encoding="utf-8").splitlines()[0]


def test_the_chinese_readme_mirrors_the_english_one():
    english, chinese = README.read_text(encoding="utf-8"), ZH.read_text(encoding="utf-8")
    # The same sections, the same links (every notebook among them) and the same commands.
    assert english.count("\n## ") == chinese.count("\n## ")
    assert _links(english.replace("](README_zh.md)", "](README.md)")) == _links(chinese)
    assert _code_without_comments(english) == _code_without_comments(chinese)
    notebooks = sorted(p.name for p in (README.parent / "notebooks").glob("*.ipynb"))
    assert [f"notebooks/{name}" for name in notebooks] == [
        link for link in _links(chinese) if link.startswith("notebooks/") and link != "notebooks/"]


def test_the_readmes_say_how_to_work_through_the_course():
    for readme in (README, ZH):
        text = readme.read_text(encoding="utf-8")
        for needle in ("make progress", "](notebooks/)", "](solutions/)", "exercises done"):
            assert needle in text, f"{readme.name} does not mention {needle}"
