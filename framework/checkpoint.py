"""Saving and loading the parameters of a graph, by node name, or of a layer, by dotted name,
in a ``.npz`` file.

The parameters of a graph are the trainable placeholders and every ``Parameter``, frozen ones
included: a model fine-tuned with a frozen part needs that part back too. A layer (a model of
``framework.layers``) is saved as PyTorch's ``state_dict``: its ``named_parameters()`` under
their dotted names ("0.weight", "fc1.bias"), then its ``named_buffers()`` (batch
normalization's "1.running_mean" and "1.running_var"), which evaluation needs as much as the
weights.

Loading checks every name and shape, and that every value is finite, before it changes
anything, and never unpickles, so a bad file leaves the model as it was. Saving checks every
name and value (finite too: a NaN saved over a good checkpoint would leave a file that does
not load) before it writes anything, then writes a temporary file and renames it over the
target, so a refused or interrupted save leaves the file on disk as it was.
"""

import os
import tempfile
import zipfile
import zlib

import numpy as np

from .layers import Layer
from .node import Node, Parameter, Placeholder, require_graph, require_nodes
from .passes import count_non_finite


class _NodeEntry:
    """One array of a checkpoint held by a parameter node: its value."""

    def __init__(self, node: Node, layer: Layer | None = None):
        self.node, self.layer = node, layer  # the layer that holds it, if any, for errors

    def __repr__(self):  # how errors name it
        return f"{self.node!r}" + (f" of {self.layer.describe()}" if self.layer else "")

    @property
    def where(self) -> str:
        """Where the model keeps it, after its name in a load's errors ("" in a graph)."""
        return f" (in {self.layer.describe()})" if self.layer else ""

    @property
    def value(self):
        return self.node.value

    def assign(self, value):
        self.node.value = value


class _BufferEntry:
    """One array of a checkpoint held by a layer as a buffer (an attribute, not trained)."""

    def __init__(self, layer: Layer, attribute: str, name: str):
        self.layer, self.attribute, self.name = layer, attribute, name

    def __repr__(self):
        return f"buffer {self.name!r} of {self.layer.describe()}"

    @property
    def where(self) -> str:
        return f" (a buffer of {self.layer.describe()})"

    @property
    def value(self):
        return getattr(self.layer, self.attribute)

    def assign(self, value):
        setattr(self.layer, self.attribute, value)


def _entries(model) -> dict:
    """{name in the file: entry} for a graph (a list of nodes) or a layer."""
    if isinstance(model, Layer):
        return _layer_entries(model)
    if isinstance(model, type) and issubclass(model, Layer):
        raise TypeError(f"a checkpoint is made of a graph or of a layer; got the class "
                        f"{model.__name__}: make a layer, {model.__name__}(...), and pass it")
    try:
        require_graph(model)
    except TypeError as error:
        raise TypeError(f"{error} (or a layer of framework.layers, saved by the dotted names "
                        "of its parameters and buffers)") from None
    return {name: _NodeEntry(node) for name, node in _named_parameters(model).items()}


def _layer_entries(model: Layer) -> dict:
    """The layer's parameters by their dotted names, then its buffers, as PyTorch's
    ``state_dict`` keys them; each says which layer holds it, for errors."""
    layers = model.named_layers()
    entries = {}
    for name, node in model.named_parameters().items():
        entries[name] = _NodeEntry(node, layers[name.rpartition(".")[0]])
    for name in model.named_buffers():
        path, _, attribute = name.rpartition(".")
        if name in entries:  # an attribute both a buffer and a parameter: set by hand
            raise ValueError(f"{model.describe()}: {name!r} names both a parameter and a "
                             "buffer; a checkpoint keys each array by its name")
        entries[name] = _BufferEntry(layers[path], attribute, name)
    for name, entry in entries.items():
        _require_storable_name(name, entry)
    return entries


def _named_parameters(graph: list[Node]) -> dict:
    require_nodes(graph)
    params = {}
    for node in graph:
        if not (isinstance(node, Placeholder)
                and (node.is_trainable or isinstance(node, Parameter))):
            continue
        if not isinstance(node.name, str) or not node.name:
            raise ValueError(f"{node!r} needs a non-empty text name to be saved or loaded")
        _require_storable_name(node.name, node)
        if params.get(node.name) is node:  # the same node listed twice (two graphs joined)
            continue
        if node.name in params:
            raise ValueError(
                f"two parameters are named {node.name!r}; give each a unique name to save "
                "or load the model"
            )
        params[node.name] = node
    return params


def _require_storable_name(name: str, holder):
    """Refuse a name that a zip entry cannot keep as it is; ``holder`` names it in errors."""
    if "\0" in name or _not_utf8(name):
        # A zip entry name stops at a NUL, and must be valid UTF-8: such a name would
        # come back changed, and the file would not load.
        raise ValueError(
            f"{holder!r}: its name {name!r} cannot be stored in a checkpoint (a NUL "
            "character or a lone surrogate); rename it"
        )
    _require_short_name(name, holder)


# A zip entry keeps the length of its name in two bytes (APPNOTE 4.4.10), so a name holds at
# most 65535 bytes of UTF-8; an entry is the parameter's name followed by ".npy".
LONGEST_NAME = 0xFFFF - len(".npy")


def _require_short_name(name: str, holder):
    """Refuse a name too long for a zip entry, before anything is written (zipfile would
    raise a bare ``struct.error`` half-way through the file). The holder is named by the
    start of its name: the whole of it would be 64 KB of error message."""
    size = len(name.encode("utf-8"))
    if size > LONGEST_NAME:
        start = f"{name[:40]!r}…"
        raise ValueError(
            f"{f'{type(holder).__name__}({start})' if isinstance(holder, Node) else start}: "
            f"its name is {size} bytes long in "
            f"UTF-8 ({len(name)} characters); a checkpoint stores names of at most "
            f"{LONGEST_NAME} bytes (a zip entry's name is limited to 65535 bytes, with "
            "'.npy'): rename it"
        )


def _not_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _checked_path(path, action: str):
    """``path`` as a str; a file object or anything else is refused, naming what it got."""
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(
            f"cannot {action} a checkpoint at {path!r}: give a path (a str or a pathlib.Path), "
            f"not a {type(path).__name__}"
        ) from None


def _write_npz(file, arrays: dict):
    """Write ``arrays`` as the entries of an uncompressed ``.npz`` (a zip of ``.npy`` files).

    Done by hand rather than with ``np.savez(file, **arrays)``, whose own keywords would
    swallow nodes named ``file`` or ``allow_pickle``.
    """
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asarray(array), allow_pickle=False)


def save_model(path, model, allow_non_finite: bool = False):
    """Write the value of every parameter of ``model`` to ``path`` (a ``.npz`` file),
    atomically.

    ``model`` is a graph (the list of nodes that ``topological_sort`` returns), whose
    parameters are keyed by node name, or a layer (``framework.layers``), whose parameters
    and buffers are keyed by their dotted names, as ``named_parameters()`` and
    ``named_buffers()`` give them.

    A value holding a NaN or an infinity is refused, and the file on disk is left as it was:
    ``load_model`` would refuse such a file, and the good checkpoint it replaced would be
    gone. ``allow_non_finite=True`` saves it all the same (to look into a run that diverged,
    say); ``load_model(..., allow_non_finite=True)`` loads it back.
    """
    path = _checked_path(path, "save")
    if not os.path.basename(path):
        raise ValueError(f"cannot save {path!r}: give the name of a file, e.g. 'model.npz'")
    params = _entries(model)
    missing = [name for name, entry in params.items() if entry.value is None]
    if missing:
        raise ValueError(f"cannot save {path}: these parameters have no value: {missing}")
    for entry in params.values():
        value = entry.value
        if not isinstance(value, (np.ndarray, np.generic)) or value.dtype.kind not in "biuf":
            raise TypeError(
                f"cannot save {path}: {entry!r} holds {type(value).__name__}"
                f"{f' of dtype {value.dtype}' if hasattr(value, 'dtype') else ''}, not an array "
                "of real numbers"
            )
    if not allow_non_finite:
        _require_finite(path, params)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save {path}: the folder {directory} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save {path}: it is a folder")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, {name: entry.value for name, entry in params.items()})
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; save like any new file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _require_finite(path, params: dict):
    """Refuse to save a NaN or an infinity, naming each parameter that holds some."""
    broken = [f"{entry!r} holds {count_non_finite(entry.value)}" for entry in params.values()
              if not np.isfinite(entry.value).all()]
    if broken:
        raise ValueError(
            f"cannot save {path}: " + "; ".join(broken) + ". Nothing was written (a file "
            "already there is kept); to save them all the same, pass allow_non_finite=True"
        )


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it, so set it back
    os.umask(mask)
    return mask


def _entry_headers(archive: zipfile.ZipFile) -> dict:
    """{name: (entry, shape, dtype)} for every ``name.npy`` entry, from its header alone: no
    data is read, so a header that claims a huge shape costs nothing."""
    headers = {}
    for entry in archive.namelist():
        if not entry.endswith(".npy"):
            raise ValueError(f"its entry {entry!r} is not a .npy array")
        with archive.open(entry) as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f"its entry {entry!r} has .npy format {version}, not 1.0 or 2.0")
        headers[entry[:-len(".npy")]] = (entry, shape, dtype)
    return headers


def _problems(headers: dict, params: dict, of_what: str) -> list[str]:
    """What keeps the entries from fitting the parameters, one line each, in the model's
    order: the first line names the first parameter that does not fit, and in a layer says
    which layer holds it."""
    problems = []
    for name, entry in params.items():
        where = "" if problems else entry.where
        if name not in headers:
            problems.append(f"{name!r}{where} is missing")
            continue
        _, shape, dtype = headers[name]
        expected = None if entry.value is None else np.shape(entry.value)
        if dtype.kind not in "biuf":
            problems.append(f"{name!r}{where} holds {dtype}, not real numbers")
        elif expected is not None and shape != expected:
            problems.append(f"{name!r}{where} has shape {shape}, the model expects {expected}")
    unexpected = sorted(headers.keys() - params.keys())
    return problems + [f"{name!r} is not {of_what}" for name in unexpected]


def load_model(path, model, allow_non_finite: bool = False):
    """Set every parameter of ``model`` (a graph or a layer, as in ``save_model``; a layer's
    buffers too) from ``path``; on any mismatch change nothing.

    The headers of all entries are checked against the model (names, shapes, dtypes) before
    any data is read, and the data for NaN and infinities before any is set (unless
    ``allow_non_finite=True``, for a file saved so); nothing is ever unpickled. A file of
    another architecture is refused naming the first parameter that does not fit (in the
    model's order) and every other.
    """
    path = _checked_path(path, "load")
    params = _entries(model)
    of_what = ("a parameter or buffer of this model" if isinstance(model, Layer)
               else "a parameter of this graph")
    try:
        with zipfile.ZipFile(path) as archive:
            headers = _entry_headers(archive)
            problems = _problems(headers, params, of_what)
            if problems:
                raise _DoesNotFit("; ".join(problems))
            arrays = {}
            for name, (entry, _, _) in headers.items():
                with archive.open(entry) as file:
                    arrays[name] = np.lib.format.read_array(file, allow_pickle=False)
    except FileNotFoundError:
        raise
    except _DoesNotFit as error:
        raise ValueError(
            f"{path} does not fit this model, so nothing was loaded: {error}"
        ) from None
    # A damaged zip can fail in any of these ways (RuntimeError: "encrypted" flag bits).
    except (OSError, ValueError, EOFError, RuntimeError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(
            f"{path} is not a readable checkpoint (.npz), so nothing was loaded: {error}"
        ) from None
    values = {name: array.astype(np.float64) for name, array in arrays.items()}
    broken = [f"{name!r} holds {count_non_finite(value)}" for name, value in values.items()
              if not np.isfinite(value).all()]
    if broken and not allow_non_finite:
        raise ValueError(f"{path} holds values that are not finite, so nothing was loaded: "
                         + "; ".join(broken) + " (allow_non_finite=True loads them)")
    for name, entry in params.items():  # every array checked: now set them all
        entry.assign(values[name])


class _DoesNotFit(Exception):
    """A readable checkpoint whose entries do not match the model."""
