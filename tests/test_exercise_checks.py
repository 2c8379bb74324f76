"""The exercise check of conftest.py, run by pytest and nbval on a small learner's notebook: a
check cell passes only if it raises its stub's error; a check that passes on the blank, or
raises something else, fails and says what it expected and what it got."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def check_cell(source: str, number: str):
    return new_code_cell(source, metadata={
        "tags": ["raises-exception"], "exercise": {"number": number, "cell": "check"}})


def test_only_a_check_that_raises_its_stubs_error_passes(pytester):
    notebook = new_notebook(cells=[
        new_code_cell('def f():\n    raise NotImplementedError('
                      '"Exercise 1.1 is not done yet: write the body of f")'),
        check_cell("f()", "1.1"),                                  # raises its stub's error
        check_cell("answer = 3", "1.2"),                           # passes on the blank
        check_cell('raise AssertionError("expected 4, got 3")', "1.3"),
        check_cell("f()", "1.4"),                                  # another exercise's stub
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, pytester.path / "01_lesson.ipynb")
    pytester.makeconftest((ROOT / "conftest.py").read_text().replace(
        'pytest_plugins = ["pytester"]', ""))

    result = pytester.runpytest("--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
                                "-p", "no:xdist")

    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines([
        "*the check of exercise 1.2 passed on the blank answer; expected "
        "NotImplementedError('Exercise 1.2 is not done yet: ...')*",
        "*the check of exercise 1.3 raised AssertionError: expected 4, got 3; expected "
        "NotImplementedError('Exercise 1.3 is not done yet: ...')*",
        "*the check of exercise 1.4 raised NotImplementedError: Exercise 1.1 is not done yet: "
        "write the body of f; expected NotImplementedError('Exercise 1.4 is not done yet: ...')*",
    ])
