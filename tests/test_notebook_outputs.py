"""What a learner sees in JupyterLab: no stored output of either edition is a stream to stderr,
which JupyterLab draws in the pink box it uses for errors (a tqdm bar there read as a failure).
Progress is printed to stdout instead. And no stored traceback names a file by the absolute
path of the machine that ran it (tools/tidy_tracebacks.py)."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = sorted(ROOT.glob("solutions/*.ipynb")) + sorted(ROOT.glob("notebooks/*.ipynb"))
ALL_EDITIONS = PATHS + sorted(ROOT.glob("zh_CN/*/*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
sys.path.insert(0, str(ROOT / "tools"))

from tidy_tracebacks import tidy  # noqa: E402


@pytest.mark.parametrize("path", PATHS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_output_is_drawn_as_an_error_unless_a_cell_meant_to_raise(path):
    notebook = nbformat.read(path, as_version=4)
    pink = [(index, output.text.splitlines()[0] if output.text else "")
            for index, cell in enumerate(notebook.cells)
            for output in cell.get("outputs", [])
            if output.output_type == "stream" and output.name == "stderr"]
    assert pink == [], f"{path.name}: cells writing to stderr (drawn as errors): {pink}"


@pytest.mark.parametrize("path", ALL_EDITIONS,
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_no_stored_traceback_names_an_absolute_path(path):
    notebook = nbformat.read(path, as_version=4)
    absolute = [(index, line.strip())
                for index, cell in enumerate(notebook.cells)
                for output in cell.get("outputs", []) if output.output_type == "error"
                for line in ANSI.sub("", "\n".join(output.traceback)).splitlines()
                if re.match(r"\s*File (/|[A-Za-z]:\\)", line)]
    assert absolute == [], (f"{path.name}: tracebacks naming absolute paths (run "
                            f"tools/tidy_tracebacks.py on it): {absolute[:3]}")


def test_tidying_takes_the_repository_out_of_a_path(tmp_path):
    coloured = "\x1b[36mFile \x1b[39m\x1b[32m{}framework/passes.py:52\x1b[39m, in forward"
    assert tidy(coloured.format(f"{tmp_path}/"), tmp_path) == coloured.format("")
    assert tidy("File /elsewhere/numpy/core.py:3", tmp_path) == "File /elsewhere/numpy/core.py:3"
