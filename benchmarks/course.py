"""The course: how long each notebook takes to run top to bottom, kernel start included.

Each notebook of the solutions edition (solutions/, where every exercise is filled in) runs in
a fresh kernel, in its folder (as JupyterLab and nbval run it), and nothing is written back.
A notebook that fails is reported, not fatal.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "solutions"


@dataclass
class NotebookTiming:
    name: str
    seconds: float
    error: str | None = None


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def can_run() -> bool:
    """nbclient and nbformat come with the dev tools (nbval, JupyterLab)."""
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        return False
    return True


def run_notebook(path: Path, timeout: int = 600) -> NotebookTiming:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        # The kernel's own log lines (a warning about TCP transport) would clutter the table;
        # a failing cell still comes back as an error message.
        client.execute(stderr=subprocess.DEVNULL)
        error = None
    except Exception as exc:  # a broken notebook is a result to report, not a crash
        last_line = (str(exc).strip().splitlines() or [""])[-1]
        error = f"{type(exc).__name__}: {last_line[:100]}"
    return NotebookTiming(path.name, time.perf_counter() - start, error)


def benchmark() -> list[NotebookTiming]:
    return [run_notebook(path) for path in notebooks()]
