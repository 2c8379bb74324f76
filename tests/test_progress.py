"""Both editions run once each (with nbclient, errors kept), and the runs are read twice: the
checks are honest both ways, and tools/progress.py reports 0 done and all done.

- In the learner's edition every check cell raises on its blank, with the stub's "Exercise NN.K
  is not done yet" message, and every other cell runs without an error. (nbval only *permits*
  an error in a cell tagged raises-exception; this is where it is required.)
- In the solutions edition no cell raises, so every check passes on the solution.
"""

import copy
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import progress  # noqa: E402
import workbook  # noqa: E402

NAMES = sorted(path.name for path in (ROOT / "solutions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def runs():
    """{edition: {name: executed notebook}}: each notebook of both editions runs once."""
    editions = ("notebooks", "solutions")
    executed = progress.execute_all([ROOT / e / n for e in editions for n in NAMES], bar=False)
    return {e: {n: executed[ROOT / e / n] for n in NAMES} for e in editions}


@pytest.fixture(scope="module")
def learners_run(runs):
    return runs["notebooks"]


@pytest.fixture(scope="module")
def solutions_run(runs):
    return runs["solutions"]


def _errors(notebook):
    return {i: progress.cell_error(cell) for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and progress.cell_error(cell) is not None}


@pytest.mark.parametrize("name", NAMES)
def test_in_the_learners_edition_exactly_the_check_cells_raise(learners_run, name):
    notebook = learners_run[name]
    exercises = workbook.find_exercises(notebook, name)
    errors = _errors(notebook)
    assert sorted(errors) == sorted(e.check for e in exercises), {
        i: f"{e.ename}: {e.evalue}" for i, e in errors.items()}
    for exercise in exercises:
        error = errors[exercise.check]
        assert error.ename == "NotImplementedError", f"{exercise.number}: {error.evalue}"
        assert error.evalue.startswith(f"Exercise {exercise.number} is not done yet: "), (
            error.evalue)


@pytest.mark.parametrize("name", NAMES)
def test_in_the_solutions_edition_no_cell_raises(solutions_run, name):
    errors = _errors(solutions_run[name])
    assert errors == {}, {i: f"{e.ename}: {e.evalue}" for i, e in errors.items()}


def _report(run):
    rows = [row for name in NAMES for row in progress.results(run[name], name)]
    return rows, progress.table(rows)


def test_progress_reports_nothing_done_on_the_learners_edition(learners_run):
    rows, text = _report(learners_run)
    assert {row.status for row in rows} == {progress.NOT_YET}
    assert text.splitlines()[-1] == f"exercises done: 0/{len(rows)}"
    assert len(rows) >= 3 * len(NAMES)


def test_progress_reports_everything_done_on_the_solutions(solutions_run, learners_run):
    rows, text = _report(solutions_run)
    assert {row.status for row in rows} == {progress.DONE}
    assert text.splitlines()[-1] == f"exercises done: {len(rows)}/{len(rows)}"
    learner_rows, _ = _report(learners_run)
    assert [(r.notebook, r.exercise) for r in rows] == [
        (r.notebook, r.exercise) for r in learner_rows]


def test_a_wrong_answer_is_reported_with_the_checks_message(learners_run):
    """One exercise answered wrongly, in a copy of an executed learner's notebook."""
    notebook = copy.deepcopy(learners_run["01_introduction.ipynb"])
    exercise = workbook.find_exercises(notebook, "01_introduction.ipynb")[0]
    check = notebook.cells[exercise.check]
    check.outputs = [new_output("error", ename="AssertionError",
                                evalue="expected the shape (4, 7), got (4, 3)", traceback=[])]
    rows = progress.results(notebook, "01_introduction.ipynb")
    assert (rows[0].status, rows[0].message) == (
        progress.WRONG, "AssertionError: expected the shape (4, 7), got (4, 3)")
    assert "wrong: AssertionError: expected the shape (4, 7), got (4, 3)" in progress.table(rows)
