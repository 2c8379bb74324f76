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
        if node.name in params:
            raise ValueError(
                f"two trainable nodes are named {node.name!r}; give each a unique name to save "
                "or load the model"
            )
        params[node.name] = node
    return params


def save_model(path, graph: list[Node]):
    """Write every trainable value of ``graph`` to ``path`` (a ``.npz`` file), atomically."""
    params = _named_trainables(graph)
    missing = [name for name, node in params.items() if node.value is None]
    if missing:
        raise ValueError(f"cannot save {path}: these trainable nodes have no value: {missing}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **{name: node.value for name, node in params.items()})
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


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
