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
- **done** when its solution cell and its check cell run without an error;
- **not yet** when one of them raises ``NotImplementedError``, as the blanks do;
- **wrong** when one of them raises anything else; the table shows the error's message.

The table's last line is ``exercises done: K/N``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workbook import find_exercises  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Two kernels run at a time: one BLAS thread each, or they fight over the cores (see Makefile).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
DONE, NOT_YET, WRONG = "done", "not yet", "wrong"


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


def execute_all(paths: list[Path], workers: int = 2, bar: bool = True) -> dict:
    """{path: executed copy} for every notebook, ``workers`` kernels at a time."""
    executed = {}
    # Fresh worker processes ("spawn"): the same on every OS, and no state copied from a parent
    # such as a test session.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool, \
            tqdm(total=len(paths), disable=not bar, file=sys.stderr, desc="running notebooks",
                 bar_format="{desc}: {bar} {n_fmt}/{total_fmt}") as progress_bar:
        # No rate or time in the bar: it only shows that something happens.
        futures = {pool.submit(execute, path): path for path in paths}
        for future in as_completed(futures):
            executed[futures[future]] = future.result()
            progress_bar.update()
    return executed


def cell_error(cell) -> dict | None:
    """The ``error`` output of an executed code cell, or None."""
    return next((out for out in cell.get("outputs", []) if out.output_type == "error"), None)


def results(notebook, name: str) -> list[Result]:
    """The state of each exercise of an executed notebook."""
    found = []
    for exercise in find_exercises(notebook, name):
        status, message = DONE, ""
        for index in (exercise.solution, exercise.check):
            error = cell_error(notebook.cells[index])
            if error is not None:
                first_line = (error.evalue.splitlines() or [""])[0]
                status = NOT_YET if error.ename == "NotImplementedError" else WRONG
                message = f"{error.ename}: {first_line}" if status == WRONG else first_line
                break
        found.append(Result(name, exercise.number, status, message))
    return found


def table(rows: list[Result]) -> str:
    """The report: one row per exercise, then ``exercises done: K/N``."""
    header = ("notebook", "exercise", "result")
    lines = [(r.notebook, r.exercise, r.status + (f": {r.message}" if r.status == WRONG else ""))
             for r in rows]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(2)]
    text = [f"{header[0]:{widths[0]}}  {header[1]:{widths[1]}}  {header[2]}"]
    text += [f"{a:{widths[0]}}  {b:{widths[1]}}  {c}" for a, b, c in lines]
    done = sum(r.status == DONE for r in rows)
    text.append(f"exercises done: {done}/{len(rows)}")
    return "\n".join(text)


def progress(folder: Path, bar: bool = True) -> list[Result]:
    """Run every notebook of ``folder`` and collect the state of its exercises."""
    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        raise SystemExit(f"no notebooks in {folder}")
    executed = execute_all(paths, bar=bar)
    return [row for path in paths for row in results(executed[path], path.name)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="notebooks",
                        help="notebooks (the learner's edition, the default) or solutions")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_absolute() and not folder.exists():
        folder = ROOT / folder
    print(table(progress(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
