"""Run a notebook's exercise checks on typical wrong answers, as a learner would write them.

A ``WrongAnswer`` replaces the marked regions of one exercise's solution cell in ``solutions/``
(each ``### BEGIN SOLUTION`` ... ``### END SOLUTION``, in order) with the wrong code. The notebook
runs top to bottom in one kernel; at each exercise that has wrong answers, each of them is run
(its solution cell, then the check cell) before the right solution and its check run again, so
the cells after it see the right answer. ``run_wrong_answers`` returns, for each wrong answer,
the error the check cell raised (or None when it passed: a check that misses the mistake).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
sys.path.insert(0, str(ROOT / "tools"))

import workbook  # noqa: E402


@dataclass(frozen=True)
class WrongAnswer:
    exercise: str                 # "6.1"
    why: str                      # "a mean for a sum": the mistake, as the test's id
    regions: tuple[str, ...]      # the code in place of each marked region, in order
    says: str                     # what the check's message must contain (where to look)
    error: str = "AssertionError"
    must_not_say: tuple[str, ...] = ()  # what would give the answer away


@dataclass(frozen=True)
class CheckResult:
    ename: str | None
    evalue: str

    def __str__(self):
        return f"{self.ename}: {self.evalue}" if self.ename else "the check passed"


def replace_regions(source: str, regions: tuple[str, ...]) -> str:
    """``source`` with its marked regions replaced, in order, each indented like its markers."""
    lines, out, taken = source.split("\n"), [], 0
    i = 0
    while i < len(lines):
        if lines[i].strip() != workbook.BEGIN:
            out.append(lines[i])
            i += 1
            continue
        pad = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == workbook.END)
        if taken == len(regions):
            raise ValueError(f"the solution has more marked regions than the {len(regions)} given")
        code = textwrap.dedent(regions[taken]).strip("\n")
        out.extend(pad + line if line.strip() else line for line in code.split("\n"))
        taken += 1
        i = end + 1
    if taken != len(regions):
        raise ValueError(f"the solution has {taken} marked regions, {len(regions)} were given")
    return "\n".join(out)


def _error(cell) -> CheckResult:
    error = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    return CheckResult(error.ename, error.evalue) if error else CheckResult(None, "")


def run_wrong_answers(name: str, wrong_answers: list[WrongAnswer]) -> dict:
    """{wrong answer: CheckResult of its check cell}, and {(exercise, "right"): the right one's}."""
    notebook = nbformat.read(SOLUTIONS / name, as_version=4)
    exercises = {e.solution: e for e in workbook.find_exercises(notebook, name)}
    unknown = {w.exercise for w in wrong_answers} - {e.number for e in exercises.values()}
    if unknown:
        raise ValueError(f"{name} has no exercise {sorted(unknown)}")
    client = NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=600,
                            resources={"metadata": {"path": str(SOLUTIONS)}})
    results = {}
    with client.setup_kernel(stderr=subprocess.DEVNULL):
        checks = {e.check for e in exercises.values()}
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or index in checks:
                continue
            exercise = exercises.get(index)
            if exercise:
                check = notebook.cells[exercise.check]
                for wrong in (w for w in wrong_answers if w.exercise == exercise.number):
                    attempt = new_code_cell(replace_regions(cell.source, wrong.regions))
                    client.execute_cell(attempt, index)
                    tried = new_code_cell(check.source)
                    client.execute_cell(tried, exercise.check)
                    results[wrong] = _error(tried)
            client.execute_cell(cell, index)
            if exercise:
                client.execute_cell(notebook.cells[exercise.check], exercise.check)
                results[(exercise.number, "right")] = _error(notebook.cells[exercise.check])
    return results


def assert_caught(wrong: WrongAnswer, result: CheckResult):
    """The check raised the expected error, saying where to look, without giving the answer."""
    assert result.ename == wrong.error, (
        f"exercise {wrong.exercise}, {wrong.why}: expected {wrong.error}, got {result}")
    assert wrong.says in result.evalue, (
        f"exercise {wrong.exercise}, {wrong.why}: {wrong.says!r} not in the message: {result}")
    for secret in wrong.must_not_say:
        assert secret not in result.evalue, (
            f"exercise {wrong.exercise}, {wrong.why}: the message gives away {secret!r}: {result}")
