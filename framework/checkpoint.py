"""Saving and loading the trainable values of a graph, by node name, in a ``.npz`` file.

Loading checks every name and shape before it changes anything, and never unpickles, so a bad
file leaves the model as it was. Saving writes a temporary file and renames it over the target,
so an interrupted save never leaves a torn checkpoint.
"""

import os
import tempfile
import zipfile
import zlib

import numpy as np

from .node import Node
from .optimizers import trainables


def _named_trainables(graph: list[Node]) -> dict:
    params = {}
    for node in trainables(graph):
        if not isinstance(node.name, str) or not node.name:
            raise ValueError(f"{node!r} needs a non-empty text name to be saved or loaded")
        if node.name in params:
            raise ValueError(
                f"two trainable nodes are named {node.name!r}; give each a unique name to save "
                "or load the model"
            )
        params[node.name] = node
    return params


def _write_npz(file, arrays: dict):
    """Write ``arrays`` as the entries of an uncompressed ``.npz`` (a zip of ``.npy`` files).

    Done by hand rather than with ``np.savez(file, **arrays)``, whose own keywords would
    swallow nodes named ``file`` or ``allow_pickle``.
    """
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asarray(array), allow_pickle=False)


def save_model(path, graph: list[Node]):
    """Write every trainable value of ``graph`` to ``path`` (a ``.npz`` file), atomically."""
    params = _named_trainables(graph)
    missing = [name for name, node in params.items() if node.value is None]
    if missing:
        raise ValueError(f"cannot save {path}: these trainable nodes have no value: {missing}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save {path}: the folder {directory} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save {path}: it is a folder")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, {name: node.value for name, node in params.items()})
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; save like any new file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it, so set it back
    os.umask(mask)
    return mask


def _read_arrays(path) -> dict:
    """The named entries of the ``.npz`` file at ``path``, read without ever unpickling."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a lone .npy array has no names
            raise ValueError("it holds a single unnamed array (.npy)")
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    except FileNotFoundError:
        raise
    # A damaged zip can fail in any of these ways (RuntimeError: "encrypted" flag bits).
    except (OSError, ValueError, EOFError, RuntimeError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{path} is not a readable checkpoint (.npz): {error}") from None


def load_model(path, graph: list[Node]):
    """Set every trainable value of ``graph`` from ``path``; on any mismatch change nothing."""
    params = _named_trainables(graph)
    arrays = _read_arrays(path)

    problems = []
    for name, node in params.items():
        if name not in arrays:
            problems.append(f"{name!r} is missing")
        elif not isinstance(arrays[name], np.ndarray) or arrays[name].dtype.kind not in "biuf":
            # Checked here, not at the cast below: a failed cast would leave a half-loaded model.
            found = getattr(arrays[name], "dtype", type(arrays[name]).__name__)
            problems.append(f"{name!r} holds {found}, not real numbers")
        elif node.value is not None and arrays[name].shape != np.shape(node.value):
            problems.append(
                f"{name!r} has shape {arrays[name].shape}, the model expects {np.shape(node.value)}"
            )
    unexpected = sorted(arrays.keys() - params.keys())
    problems += [f"{name!r} is not a trainable node of this graph" for name in unexpected]
    if problems:
        raise ValueError(
            f"{path} does not fit this model, so nothing was loaded: " + "; ".join(problems)
        )
    for name, node in params.items():
        node.value = arrays[name].astype(np.float64)
