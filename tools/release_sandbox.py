"""Housekeeping for notebook 16 (Releasing the package), kept out of the learner's way.

Nothing here is about packaging itself; it lets the notebook build and install the package
quickly, offline, and without leaving anything behind in the project:

- ``copy_project`` copies the project to build it elsewhere, so no ``build/`` or ``.egg-info``
  folder lands in the checkout. It skips what a plain ``shutil.copytree`` trips over in a live
  working tree: the sockets a running Jupyter kernel may leave, and files that another program
  (an autosave, a test) removes while the copy runs.
- ``fresh_environment`` makes an empty virtual environment that borrows this environment's
  libraries (NumPy, Matplotlib, networkx) through a ``.pth`` file, so installing the wheel
  there needs no download. A ``.pth`` file in ``site-packages`` is a list of folders that
  Python adds to its search path at start-up. The package itself still has to come from the
  wheel: this environment's own ``framework`` is an editable install, whose finder the new
  environment does not run. ``tests/test_packaging.py`` does the full install instead, the
  dependencies from the package index.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

NOT_COPIED = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__")


def _copy_plain_file(source, target):
    """Copy a regular file; skip sockets and files removed while we were copying."""
    try:
        if Path(source).is_file():
            shutil.copy2(source, target)
    except FileNotFoundError:
        pass


def copy_project(root: Path, target: Path) -> Path:
    """Copy the project at ``root`` to ``target``, all but hidden folders and build outputs."""
    shutil.copytree(root, target, ignore=NOT_COPIED, copy_function=_copy_plain_file)
    return target


def fresh_environment(folder: Path) -> tuple[Path, Path]:
    """A new virtual environment in ``folder`` that sees this one's libraries but not its
    ``framework``; returns (its python, its site-packages). It has no pip: pip from this
    environment installs into it with ``pip --python``."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    ask = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = Path(subprocess.run([str(python), "-c", ask], capture_output=True,
                                        text=True, check=True).stdout.strip())
    (site_packages / "course-libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n",
                                                        encoding="utf-8")
    return python, site_packages
