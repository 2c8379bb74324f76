"""tools/progress.py on both editions: it reports 0 done on the learner's edition and all done
on the solutions, and a wrong answer with its check's message.

The learner's edition is held to its promise under strict nbval, in one run: every check cell
must raise its stub's error (conftest.py; tests/test_exercise_checks.py shows it fail
otherwise), and no other cell may raise. So here one notebook of it runs, through
``progress.execute_all`` as a learner's ``make progress`` would, and the solutions are read as
committed: strict nbval re-runs solutions/, where no cell is tagged raises-exception, and fails
on any error or any output that differs from the committed one. (Running every notebook again
here would only repeat those runs, at about a minute of this machine's two cores.)
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
RUN = "01_introduction.ipynb"  # the learner's notebook that runs here: a value and a function


@pytest.fixture(scope="module")
def learners_run():
    """{name: executed notebook} for the learner's notebook RUN."""
    path = ROOT / "notebooks" / RUN
    return {RUN: progress.execute_all([path], bar=False)[path]}


@pytest.fixture(scope="module")
def learners_edition():
    """{name: notebook as committed} for every notebook of the learner's edition."""
    return {n: nbformat.read(ROOT / "notebooks" / n, as_version=4) for n in NAMES}


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


def test_in_the_learners_run_exactly_the_check_cells_raise(learners_run):
    notebook = learners_run[RUN]
    exercises = workbook.find_exercises(notebook, RUN)
    errors = _errors(notebook)
    assert sorted(errors) == sorted(e.check for e in exercises), {
        i: f"{e.ename}: {e.evalue}" for i, e in errors.items()}
    for exercise in exercises:
        error = errors[exercise.check]
        assert error.ename == "NotImplementedError", f"{exercise.number}: {error.evalue}"
        assert error.evalue.startswith(f"Exercise {exercise.number} is not done yet: "), (
            error.evalue)


@pytest.mark.parametrize("name", NAMES)
def test_every_check_cell_of_the_learners_edition_is_one_the_nbval_hook_checks(
        learners_edition, name):
    """What conftest.py's hook looks for, and the tag that lets the cell raise under nbval, on
    exactly the check cells."""
    notebook = learners_edition[name]
    checks = [e.check for e in workbook.find_exercises(notebook, name)]
    assert len(checks) >= 3
    marked = [i for i, cell in enumerate(notebook.cells)
              if cell.get("metadata", {}).get("exercise", {}).get("cell") == "check"]
    tagged = [i for i, cell in enumerate(notebook.cells)
              if "raises-exception" in cell.get("metadata", {}).get("tags", [])]
    assert marked == tagged == sorted(checks)


@pytest.mark.parametrize("name", NAMES)
def test_in_the_solutions_edition_no_cell_raises(solutions_run, name):
    errors = _errors(solutions_run[name])
    assert errors == {}, {i: f"{e.ename}: {e.evalue}" for i, e in errors.items()}


def _report(run, names):
    rows = [row for name in names for row in progress.results(run[name], name)]
    return rows, progress.table(rows)


def test_progress_reports_nothing_done_on_the_learners_edition(learners_run):
    rows, text = _report(learners_run, [RUN])
    assert {row.status for row in rows} == {progress.NOT_YET}
    assert text.splitlines()[-1] == f"exercises done: 0/{len(rows)}"
    assert len(rows) >= 3


def test_progress_reports_everything_done_on_the_solutions(solutions_run, learners_edition):
    rows, text = _report(solutions_run, NAMES)
    assert {row.status for row in rows} == {progress.DONE}
    assert text.splitlines()[-1] == f"exercises done: {len(rows)}/{len(rows)}"
    assert [(r.notebook, r.exercise) for r in rows] == [
        (name, e.number) for name in NAMES
        for e in workbook.find_exercises(learners_edition[name], name)]


def test_a_wrong_answer_is_reported_with_the_checks_message(learners_run):
    """One exercise answered wrongly, in a copy of an executed learner's notebook."""
    notebook = copy.deepcopy(learners_run[RUN])
    exercise = workbook.find_exercises(notebook, RUN)[0]
    check = notebook.cells[exercise.check]
    check.outputs = [new_output("error", ename="AssertionError",
                                evalue="expected the shape (4, 7), got (4, 3)", traceback=[])]
    rows = progress.results(notebook, RUN)
    assert (rows[0].status, rows[0].message) == (
        progress.WRONG, "AssertionError: expected the shape (4, 7), got (4, 3)")
    assert "wrong: AssertionError: expected the shape (4, 7), got (4, 3)" in progress.table(rows)


def _solved(solutions_run, name=RUN):
    """A copy of a solutions notebook as committed (a run in which every check passed) and its
    first exercise."""
    notebook = copy.deepcopy(solutions_run[name])
    return notebook, workbook.find_exercises(notebook, name)[0]


def test_a_check_cell_that_was_edited_is_reported_not_done(solutions_run):
    """A check with its raise commented out still runs without an error: that is no answer."""
    notebook, exercise = _solved(solutions_run)
    check = notebook.cells[exercise.check]
    check.source = check.source.replace("raise AssertionError", "pass  # raise AssertionError")
    row = progress.results(notebook, RUN)[0]
    assert (row.status, row.message) == (
        progress.CHANGED, "the check cell differs from the course's; copy it back from solutions/")
    assert "check changed: the check cell differs" in progress.table([row])


def test_a_check_that_did_not_say_correct_is_not_done(solutions_run):
    """Without solutions/ to compare with (a notebook of the learner's own name), the check must
    still have printed its line: an emptied check cell prints nothing."""
    notebook, exercise = _solved(solutions_run)
    notebook.cells[exercise.check].outputs = []
    row = progress.results(notebook, "01_my_copy.ipynb")[0]
    assert (row.status, row.message) == (
        progress.CHANGED, f"the check did not print 'Exercise {exercise.number}: correct'")


def test_an_error_that_is_not_the_blanks_own_is_wrong_not_not_yet(learners_run):
    """A method misspelt (foward) makes Node.forward raise NotImplementedError: the answer is
    written, and wrong."""
    notebook = copy.deepcopy(learners_run[RUN])
    exercise = workbook.find_exercises(notebook, RUN)[0]
    notebook.cells[exercise.check].outputs = [new_output(
        "error", ename="NotImplementedError", evalue="Square must implement forward()",
        traceback=[])]
    row = progress.results(notebook, RUN)[0]
    assert (row.status, row.message) == (
        progress.WRONG, "NotImplementedError: Square must implement forward()")


@pytest.mark.parametrize("damage, message", [
    ("split", "two cells are exercise {n}'s check cell (a copied or split cell?)"),
    ("delete", "exercise {n} has no check cell (deleted?); copy it again from solutions/"),
])
def test_a_check_cell_split_or_deleted_is_one_row_that_says_so(learners_run, damage, message):
    """JupyterLab's split and copy keep a cell's metadata: an empty half of a check cell would
    otherwise be taken for the check, and pass."""
    notebook = copy.deepcopy(learners_run[RUN])
    exercise = workbook.find_exercises(notebook, RUN)[0]
    check = notebook.cells[exercise.check]
    if damage == "split":
        notebook.cells.insert(exercise.check + 1, nbformat.v4.new_code_cell(
            "", metadata=copy.deepcopy(check.metadata)))
    else:
        del notebook.cells[exercise.check]
    rows = progress.results(notebook, RUN)
    assert [(r.exercise, r.status) for r in rows] == [("–", progress.WRONG)]
    assert message.format(n=exercise.number) in rows[0].message


def test_a_notebook_that_cannot_be_read_is_one_row_and_the_others_still_count(tmp_path):
    broken = tmp_path / "99_broken.ipynb"
    broken.write_text("")
    executed = progress.execute_all([broken], workers=1, bar=False)
    rows = progress.results(executed[broken], broken.name)
    assert [(r.notebook, r.exercise, r.status) for r in rows] == [
        ("99_broken.ipynb", "–", progress.WRONG)]
    assert rows[0].message.startswith("NotJSONError")


def test_a_duplicated_notebook_counts_its_exercises_once_and_is_named_as_skipped(
        tmp_path, capsys):
    """JupyterLab's "Duplicate" makes NAME-Copy1.ipynb beside NAME.ipynb: one set of rows."""
    original = (ROOT / "notebooks" / RUN).read_text(encoding="utf-8")
    copy_name = RUN.replace(".ipynb", "-Copy1.ipynb")
    for name in (RUN, copy_name, "scratch.ipynb"):
        (tmp_path / name).write_text(original, encoding="utf-8")
    progress.main([str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    exercises = workbook.find_exercises(nbformat.reads(original, as_version=4), RUN)
    assert lines[-3] == f"exercises done: 0/{len(exercises)}"
    assert lines[-2] == f"skipped {copy_name}: a copy of {RUN}, whose exercises count once"
    assert lines[-1] == "skipped scratch.ipynb: not one of the course's notebooks"
    assert not any(copy_name in line for line in lines[:-2])
