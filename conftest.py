"""Under nbval, every check cell of the learner's edition must fail on its blank.

nbval lets a cell tagged ``raises-exception`` raise, but does not require it: a check that
passes on a blank answer would go unnoticed. A check cell of the learner's edition is tagged so
and carries the metadata ``"exercise": {"number": "NN.K", "cell": "check"}`` (tools/workbook.py
writes both). After nbval has run such a cell, the hook below fails it unless the cell raised
``NotImplementedError`` with its stub's message, "Exercise NN.K is not done yet: ...". Together
with strict nbval, which fails any other cell that raises, that is one run of the learner's
edition checking both what runs and what must not.

This file sits at the root because a conftest's hooks reach only the tests below it.
"""

import pytest

pytest_plugins = ["pytester"]  # tests/test_exercise_checks.py runs pytest on a notebook


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield  # nbval runs the cell; a failure it finds stops here, as it should
    exercise = getattr(item, "cell", {}).get("metadata", {}).get("exercise")
    if exercise and exercise.get("cell") == "check":
        require_the_stub_error(item, exercise["number"])
    return result


def require_the_stub_error(item, number: str):
    outputs = getattr(item, "test_outputs", None)
    if outputs is None:  # nbval keeps a cell's outputs there (nbval 0.11); fail if it stops
        raise RuntimeError(f"{item.name}: nbval did not leave this cell's outputs in "
                           "item.test_outputs; the exercise check in conftest.py needs updating")
    errors = [output for output in outputs if output.get("output_type") == "error"]
    expected = f"Exercise {number} is not done yet: "
    if not errors:
        raise AssertionError(f"the check of exercise {number} passed on the blank answer; "
                             f"expected NotImplementedError('{expected}...')")
    ename, evalue = errors[0]["ename"], errors[0]["evalue"]
    if ename != "NotImplementedError" or not evalue.startswith(expected):
        raise AssertionError(f"the check of exercise {number} raised {ename}: {evalue}; "
                             f"expected NotImplementedError('{expected}...')")
