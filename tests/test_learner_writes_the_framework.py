"""Issue 19's promise, kept: the learner writes the framework. The core pieces of notebooks 02 to
15 are blanks of the learner's edition (code between the solution markers), at least 10 lines in
each of those notebooks and 350 in all; each named piece is inside a marked region."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import workbook  # noqa: E402

SOLUTIONS = ROOT / "solutions"
CORE = [path for path in sorted(SOLUTIONS.glob("*.ipynb"))
        if 2 <= int(path.name[:2]) <= 15]


def learners_lines(path: Path) -> list[str]:
    """The lines of code (not blank, not comments) that the learner writes in a notebook."""
    notebook = nbformat.read(path, as_version=4)
    lines = []
    for exercise in workbook.find_exercises(notebook, path.name):
        inside = False
        for line in notebook.cells[exercise.solution].source.splitlines():
            if line.strip() in (workbook.BEGIN, workbook.END):
                inside = line.strip() == workbook.BEGIN
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def test_the_core_notebooks_are_all_there():
    assert [int(path.name[:2]) for path in CORE] == list(range(2, 16))


@pytest.mark.parametrize("path", CORE, ids=lambda path: path.name)
def test_the_learner_writes_at_least_ten_lines_in_each_core_notebook(path):
    assert len(learners_lines(path)) >= 10


def test_the_learner_writes_at_least_350_lines_in_all():
    assert sum(len(learners_lines(path)) for path in CORE) >= 350


def _blank_cells(path: Path) -> str:
    """The learner's edition's solution cells of a notebook, as one text."""
    notebook = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    return "\n".join(notebook.cells[e.solution].source
                     for e in workbook.find_exercises(notebook, path.name))


# Each core piece the issue names, as the text of its blank in the learner's edition.
PIECES = {
    "02": ["write the body of"],
    "03": ["write the body of"],
    "04": [r"\w*Multiply\w*\.backward", r"\w*Add\w*\.backward", r"\w*Sigmoid\w*\.backward"],
    "06": [r"\w*MatMul\w*\.backward", r"\w*Sigmoid\w*\.backward", r"\w*ReLU\w*\.backward",
           r"\w*MSE\w*\.backward", r"\w*Linear\w*\.backward"],
    "10": [r"\w*Divide\w*\.backward", r"\w*Power\w*\.backward", r"\w*Exp\w*\.backward",
           r"\w*Log\w*\.backward", r"\w*Sum\w*\.backward"],
    "12": [r"def parameters", r"\w*Sequential\w*", r"\w*Dropout\w*\.forward",
           r"\w*Dropout\w*\.backward", r"\w*BatchNorm\w*\.backward", r"decay"],
    "14": [r"(?i)rnn\w*cell|cell\w*rnn", r"(?i)lstm", r"(?i)unroll"],
    "15": [r"(?i)attention", r"(?i)heads", r"(?i)layer_?norm"],
}


@pytest.mark.parametrize("number, pattern",
                         [(n, p) for n, patterns in PIECES.items() for p in patterns])
def test_each_named_core_piece_is_a_blank(number, pattern):
    path = next(path for path in CORE if path.name.startswith(number))
    assert re.search(pattern, _blank_cells(path)), f"{path.name}: no blank matches {pattern!r}"
