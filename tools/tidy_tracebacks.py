"""Make the stored tracebacks of notebooks name files relative to the repository.

A check cell of the learner's edition raises on purpose, and when it raises from inside the
package its stored traceback says where, as the machine that ran it saw it:
``File /home/someone/course/framework/passes.py:52``. Committed, that path would show on GitHub
and in the site, and differ on the next machine. This rewrites it to
``framework/passes.py:52``, in place; other outputs are left alone.

    python tools/tidy_tracebacks.py notebooks/06*.ipynb     # make notebooks runs it
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def tidy(text: str, root: Path = ROOT) -> str:
    """``text`` with the repository's absolute path (and the separator after it) taken out."""
    for form in {str(root), str(root.resolve())}:
        text = text.replace(form + "/", "").replace(form + "\\", "")
    return text


def tidy_notebook(path: Path) -> bool:
    """Rewrite the tracebacks of ``path``'s error outputs; True if anything changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                tidied = [tidy(line) for line in output.traceback]
                if tidied != output.traceback:
                    output.traceback, changed = tidied, True
    if changed:
        nbformat.write(notebook, path)
    return changed


def main(paths: list[str]) -> None:
    for path in map(Path, paths):
        if tidy_notebook(path):
            print(f"{path}: tracebacks now name files relative to the repository")


if __name__ == "__main__":
    main(sys.argv[1:])
