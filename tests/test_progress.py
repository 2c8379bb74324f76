"""The learner's edition runs once (with nbclient, errors kept) and is read twice; the
solutions are read as committed. The checks are honest both ways, and tools/progress.py reports
0 done and all done.

- In the learner's edition every check cell raises on its blank, with the stub's "Exercise NN.K
  is not done yet" message, and every other cell runs without an error. (nbval only *permits*
  an error in a cell tagged raises-exception; this is where it is required.)
- In the solutions edition no cell raises, so every check passes on the solution. The committed
  outputs say so: strict nbval re-runs solutions/, where no cell is tagged raises-exception, and
  fails on any error or any output that differs from the committed one. Running the solutions a
  second time here would only repeat that (about a minute of this machine's two cores).
"""

import copy
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import progress  # noqa: E402
import workbook  # noqa: E402

NAMES = sorted(path.name for path in (ROOT / "solutions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def learners_run():
    """{name: executed notebook}: each notebook of the learner's edition runs once."""
    executed = progress.execute_all([ROOT / "notebooks" / n for n in NAMES], bar=False)
    return {n: executed[ROOT / "notebooks" / n] for n in NAMES}


@pytest.fixture(scope="module")
def solutions_run():
    """{name: notebook as committed}: its outputs are a run's, as strict nbval checks."""
    return {n: nbformat.read(ROOT / "solutions" / n, as_version=4) for n in NAMES}


def test_nbval_runs_every_solutions_cell_and_allows_no_error(solutions_run):
    """What makes the committed outputs of solutions/ trustworthy here: no cell is skipped or
    allowed to raise (by a tag or by an NBVAL_ comment), so nbval runs every cell and fails the
    suite if one raises."""
    for name, notebook in solutions_run.items():
        exempt = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and (
            {"raises-exception", "nbval-skip"} & set(cell.metadata.get("tags", []))
            or "NBVAL_RAISES_EXCEPTION" in cell.source or "NBVAL_SKIP" in cell.source)]
        assert exempt == [], f"{name}: cells {exempt} may raise or are skipped under nbval"


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
