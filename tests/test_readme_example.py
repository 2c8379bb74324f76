"""The example in README.md runs and does what its comments say."""

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
