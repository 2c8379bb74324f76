"""Which exercises of the course are done: ``make progress`` (or ``make progress DIR=solutions``).

    python tools/progress.py [DIR]        # DIR: notebooks (the default) or solutions

Each notebook of DIR is read and run top to bottom in a fresh kernel, in DIR (so ``../data``
works), as a copy in memory: nothing is written back to your files. Two run at a time. An
error does not stop the run, so every exercise is reported.

The exercises are those that ``find_exercises`` of ``tools/workbook.py`` finds: in the
learner's edition, the cells that carry its ``exercise`` metadata (a solution cell and the
check cell after it); in the solutions edition, the cells with the ``### BEGIN SOLUTION``
markers and the code cell after each.

An exercise is
- **done** when its solution cell and its check cell run without an error, and the check cell
  is the course's own (as in ``solutions/``) and printed ``Exercise N.K: correct``;
- **not yet** when one of them raises its blank's ``NotImplementedError("Exercise N.K is not
  done yet: ...")``;
- **wrong** when one of them raises anything else; the table shows the error's message;
- **check changed** when the check cell is no longer the course's own (emptied, edited, split):
  a check that cannot fail says nothing, so copy the cell back from ``solutions/``.

Only the course's own notebooks count (those whose names ``solutions/`` holds): a copy, such as
the ``03_topological_sort-Copy1.ipynb`` that JupyterLab's "Duplicate" makes, would count its
exercises a second time, so it is not run, and a line under the table names it as skipped.

A notebook that cannot be read or run to the end (not a notebook, a kernel that died, a cell
that ran longer than ``--timeout`` seconds, exercise cells deleted or copied) gets one row that
says why; the others are reported as usual. The table's last line is ``exercises done: K/N``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workbook import find_exercises, not_done_yet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Two kernels run at a time: one BLAS thread each, or they fight over the cores (see Makefile).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
DONE, NOT_YET, WRONG, CHANGED = "done", "not yet", "wrong", "check changed"


@dataclass
class Result:
    notebook: str
    exercise: str
    status: str
    message: str = ""


def execute(path: Path, timeout: int = 600):
    """A copy of the notebook at ``path``, executed in its folder; errors are kept, not raised."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    # The kernel's own stderr holds only start-up chatter; errors are in the cells' outputs.
    client.execute(stderr=subprocess.DEVNULL)
    return notebook


def execute_all(paths: list[Path], workers: int = 2, bar: bool = True,
                timeout: int = 600) -> dict:
    """{path: executed copy} for every notebook, ``workers`` kernels at a time; the exception
    instead, for a notebook that could not be read or run to the end."""
    executed = {}
    # Fresh worker processes ("spawn"): the same on every OS, and no state copied from a parent
    # such as a test session.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, \
            tqdm(total=len(paths), disable=not bar, file=sys.stderr, desc="running notebooks",
                 bar_format="{desc}: {bar} {n_fmt}/{total_fmt}") as progress_bar:
        # No rate or time in the bar: it only shows that something happens.
        futures = {pool.submit(execute, path, timeout): path for path in paths}
        for future in as_completed(futures):
            try:
                executed[futures[future]] = future.result()
            except Exception as error:  # noqa: BLE001 (any failure is that notebook's row)
                executed[futures[future]] = error
            progress_bar.update()
    return executed


def cell_error(cell) -> dict | None:
    """The ``error`` output of an executed code cell, or None."""
    return next((out for out in cell.get("outputs", []) if out.output_type == "error"), None)


def cell_stdout(cell) -> str:
    return "".join(out.get("text", "") for out in cell.get("outputs", [])
                   if out.output_type == "stream" and out.get("name") == "stdout")


def reference_checks(name: str) -> dict:
    """{exercise number: check cell source} of ``solutions/NAME``, or {} without one."""
    path = ROOT / "solutions" / name
    if not path.is_file():
        return {}
    notebook = nbformat.read(path, as_version=4)
    return {exercise.number: notebook.cells[exercise.check].source
            for exercise in find_exercises(notebook, name)}


def status(notebook, exercise, reference: str | None) -> tuple[str, str]:
    """(status, message) of one exercise of an executed notebook."""
    for index in (exercise.solution, exercise.check):
        error = cell_error(notebook.cells[index])
        if error is not None:
            first_line = (error.evalue.splitlines() or [""])[0]
            if (error.ename == "NotImplementedError"
                    and first_line.startswith(not_done_yet(exercise.number))):
                return NOT_YET, first_line
            return WRONG, f"{error.ename}: {first_line}"
    check = notebook.cells[exercise.check]
    if reference is not None and check.source != reference:
        return CHANGED, "the check cell differs from the course's; copy it back from solutions/"
    if f"Exercise {exercise.number}: correct" not in cell_stdout(check):
        return CHANGED, f"the check did not print 'Exercise {exercise.number}: correct'"
    return DONE, ""


def results(notebook, name: str) -> list[Result]:
    """The state of each exercise of an executed notebook, or one row saying why there is
    none: ``notebook`` is then the exception that reading or running it raised."""
    try:
        if isinstance(notebook, Exception):
            raise notebook
        exercises = find_exercises(notebook, name)
        references = reference_checks(name)
    except Exception as error:  # noqa: BLE001 (reported in the notebook's row)
        first_line = (str(error).splitlines() or [""])[0]
        return [Result(name, "–", WRONG, f"{type(error).__name__}: {first_line}")]
    return [Result(name, exercise.number,
                   *status(notebook, exercise, references.get(exercise.number)))
            for exercise in exercises]


def table(rows: list[Result]) -> str:
    """The report: one row per exercise, then ``exercises done: K/N``."""
    header = ("notebook", "exercise", "result")
    lines = [(r.notebook, r.exercise,
              r.status + (f": {r.message}" if r.status not in (DONE, NOT_YET) else ""))
             for r in rows]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(2)]
    text = [f"{header[0]:{widths[0]}}  {header[1]:{widths[1]}}  {header[2]}"]
    text += [f"{a:{widths[0]}}  {b:{widths[1]}}  {c}" for a, b, c in lines]
    done = sum(r.status == DONE for r in rows)
    text.append(f"exercises done: {done}/{len(rows)}")
    return "\n".join(text)


def course_names() -> set[str]:
    """The file names of the course's notebooks, as ``solutions/`` holds them."""
    return {path.name for path in (ROOT / "solutions").glob("*.ipynb")}


def skipped_line(name: str) -> str:
    """Why the notebook ``name``, not one of the course's, is not counted."""
    copy_of = re.sub(r"-Copy\d+(?=\.ipynb$)", "", name)
    if copy_of != name and copy_of in course_names():
        return f"skipped {name}: a copy of {copy_of}, whose exercises count once"
    return f"skipped {name}: not one of the course's notebooks"


def progress(folder: Path, bar: bool = True, timeout: int = 600) -> tuple[list[Result], list]:
    """Run every course notebook of ``folder`` and collect the state of its exercises; also the
    paths of the other notebooks there (copies), which are neither run nor counted."""
    found = sorted(folder.glob("*.ipynb"))
    paths = [path for path in found if path.name in course_names()]
    if not paths:
        raise SystemExit(f"no notebooks of the course in {folder}")
    executed = execute_all(paths, bar=bar, timeout=timeout)
    rows = [row for path in paths for row in results(executed[path], path.name)]
    return rows, [path for path in found if path not in paths]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="notebooks",
                        help="notebooks (the learner's edition, the default) or solutions")
    parser.add_argument("--timeout", type=int, default=600,
                        help="seconds one cell may run before its notebook is stopped (600)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_absolute() and not folder.exists():
        folder = ROOT / folder
    rows, skipped = progress(folder, timeout=args.timeout)
    print(table(rows))
    for path in skipped:
        print(skipped_line(path.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
