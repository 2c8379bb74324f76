"""What a learner sees in JupyterLab: no stored output of either edition is a stream to stderr,
which JupyterLab draws in the pink box it uses for errors (a tqdm bar there read as a failure).
Progress is printed to stdout instead."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = sorted(ROOT.glob("solutions/*.ipynb")) + sorted(ROOT.glob("notebooks/*.ipynb"))


@pytest.mark.parametrize("path", PATHS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_output_is_drawn_as_an_error_unless_a_cell_meant_to_raise(path):
    notebook = nbformat.read(path, as_version=4)
    pink = [(index, output.text.splitlines()[0] if output.text else "")
            for index, cell in enumerate(notebook.cells)
            for output in cell.get("outputs", [])
            if output.output_type == "stream" and output.name == "stderr"]
    assert pink == [], f"{path.name}: cells writing to stderr (drawn as errors): {pink}"
