"""Layers: parameters that belong together, and the nodes to build with them, in one object.

A layer holds its trainable ``Parameter`` nodes, with their initial values, and builds nodes
when it is called on a node: ``h = layer(x)`` adds the layer's ops to the graph and returns
the last one. The graph is still static: a layer is called once per graph, when the graph is
built, and each training step then runs ``forward``, ``backward`` and ``optimizer.step`` on
the sorted graph as before; the layer adds no work per step.

    from framework import layers as L

    model = L.Sequential(L.Linear(64, 128, rng=rng), L.ReLU(), L.Dropout(0.2, rng=rng),
                         L.Linear(128, 10, rng=rng))
    x, y = fw.Input("x"), fw.Input("y")
    loss = fw.SoftmaxCrossEntropy(model(x), y)
    graph = fw.topological_sort({x: X, y: labels})  # the parameters have values already

As in PyTorch's ``nn.Module``:

- a layer's parameters and sub-layers are the ``Parameter`` nodes and layers assigned to its
  attributes, in the order they were assigned (``Sequential`` names its layers "0", "1"...);
- ``named_parameters()`` names each with a dotted path ("0.weight", "fc1.bias"), and each
  ``Parameter`` node carries that same name, so drawings and checkpoints show it;
- ``train()`` and ``eval()`` set ``training`` on the layer and on every sub-layer. The nodes
  that ``Dropout`` and the batch normalizations build read their layer's settings on every
  forward pass, so the switch takes effect at once in every graph built from the layer,
  with no new graph and no new sort;
- ``named_buffers()``: the arrays a layer keeps that are not trained, such as the running
  statistics of batch normalization.

A layer kept in a plain list or dict attribute is not seen: use ``Sequential``, or one
attribute per layer.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import activations, shapes
from .arithmetic import MatMul
from .convolution import Conv2d as _Conv2dOp
from .dropout import Dropout as _DropoutOp
from .dropout import check_generator, check_probability
from .linear import Linear as _LinearOp
from .node import Node, Parameter, as_float_array, as_node
from .normalization import BatchNorm as _BatchNormOp
from .normalization import check_number
from .pooling import MaxPool2d as _MaxPool2dOp

__all__ = ["BatchNorm1d", "BatchNorm2d", "Conv2d", "Dropout", "Flatten", "Layer", "Linear",
           "MaxPool2d", "ReLU", "Sequential", "Sigmoid", "Tanh"]


class _Named:
    """Shows as the text it is given: names a buffer in as_float_array's errors."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


class Layer:
    """The base class of every layer: subclasses build their parameters and sub-layers in
    ``__init__`` (after ``super().__init__()``) and their nodes in ``forward``.

    ``layer(*nodes)`` calls ``forward(*nodes)``, which builds nodes from the inputs and the
    layer's parameters and returns the output node. Plain numbers and arrays are wrapped in
    constants first.
    """

    def __init__(self):
        # Names, in the order of assignment, of the attributes that hold parameters, sub-layers
        # and buffers (the values themselves stay ordinary attributes).
        object.__setattr__(self, "_parameter_names", {})
        object.__setattr__(self, "_layer_names", {})
        object.__setattr__(self, "_buffer_names", {})
        object.__setattr__(self, "_prefix", "")  # "fc1." inside a model; "" on its own
        self.training = True

    # Registration: every assignment of a Parameter or a Layer to an attribute is recorded.

    def __setattr__(self, name, value):
        if "_parameter_names" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before it sets attributes (setting {name!r})")
        for registry in (self._parameter_names, self._layer_names):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameter_names[name] = None
            value.name = self._prefix + name
        elif isinstance(value, Layer):
            if any(layer is self for _, layer in value._walk("")):
                raise ValueError(f"{self.describe()}: cannot hold {value.describe()} as {name!r}: "
                                 "a layer cannot contain itself")
            self._layer_names[name] = None
            value._set_prefix(f"{self._prefix}{name}.")
        elif name in self._buffer_names and not (type(value) is np.ndarray
                                                 and value.dtype == np.float64):
            value = as_float_array(value, self._buffer_owner(name))
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in (self._parameter_names, self._layer_names, self._buffer_names):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value):
        """Keep ``value`` (an array, not trained) as the attribute ``name``, listed by
        ``named_buffers``: running statistics, say. Assigning the attribute later replaces
        the array and keeps it a buffer."""
        self._buffer_names[name] = None
        setattr(self, name, value)

    def _buffer_owner(self, name) -> _Named:
        """What as_float_array's errors call the buffer: "buffer '1.running_mean' of ..."."""
        return _Named(f"buffer {self._prefix + name!r} of {self.describe()}")

    def _set_prefix(self, prefix: str):
        """Put this layer at ``prefix`` ("fc1."), renaming its parameters and sub-layers."""
        object.__setattr__(self, "_prefix", prefix)
        for name in self._parameter_names:
            getattr(self, name).name = prefix + name
        for name in self._layer_names:
            getattr(self, name)._set_prefix(f"{prefix}{name}.")

    # What a layer holds.

    def named_layers(self) -> dict[str, Layer]:
        """{dotted name: layer} for this layer ("") and every layer inside it, parents first
        (PyTorch's ``named_modules``). A layer held twice is listed once."""
        return {path[:-1]: layer for path, layer in self._walk("")}

    def named_parameters(self) -> dict[str, Parameter]:
        """{dotted name: Parameter}: this layer's own parameters first, in the order they were
        assigned, then each sub-layer's, in order ("weight", "0.bias", "fc1.weight"). A
        parameter shared by two sub-layers is listed once, under its first name. The names are
        relative to this layer, as in PyTorch (``model[0].named_parameters()`` has "weight"),
        while each node keeps the full name it has in the outermost model ("0.weight")."""
        named, seen = {}, set()
        for path, layer in self._walk(""):
            for name in layer._parameter_names:
                parameter = getattr(layer, name)
                if id(parameter) not in seen:
                    seen.add(id(parameter))
                    named[path + name] = parameter
        return named

    def parameters(self) -> list[Parameter]:
        """The Parameter nodes of ``named_parameters()``, in the same fixed order."""
        return list(self.named_parameters().values())

    def named_buffers(self) -> dict[str, np.ndarray]:
        """{dotted name: array} of the buffers ("1.running_mean"...), in the same order as the
        parameters: arrays the layers keep and update but that are not trained."""
        return {path + name: getattr(layer, name)
                for path, layer in self._walk("") for name in layer._buffer_names}

    def buffers(self) -> list[np.ndarray]:
        return list(self.named_buffers().values())

    def _walk(self, prefix):
        """(prefix ending in "." or "", layer) for this layer and every one inside, parents
        first, each layer once."""
        order, seen, stack = [], set(), [(prefix, self)]
        while stack:
            path, layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            order.append((path, layer))
            children = [(f"{path}{name}.", getattr(layer, name)) for name in layer._layer_names]
            stack.extend(reversed(children))
        return order

    # Training and evaluation.

    def train(self, mode: bool = True) -> Layer:
        """Set ``training`` to ``mode`` on this layer and every layer inside it; return the
        layer. The nodes already built follow at their next forward pass."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"{self.describe()}: train(mode) takes True or False, got {mode!r}")
        for _, layer in self._walk(""):
            layer.training = bool(mode)
        return self

    def eval(self) -> Layer:
        """``train(False)``: dropout off, batch normalization on its running statistics."""
        return self.train(False)

    # Building nodes.

    def __call__(self, *inputs):
        return self.forward(*(as_node(node) for node in inputs))

    def forward(self, *inputs) -> Node:
        """Build this layer's nodes on ``inputs`` and return the output node."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(), which "
                                  "builds its nodes from the input nodes and returns the last")

    @property
    def path(self) -> str:
        """The layer's dotted name in the model that holds it ("fc1", "0"), or "" alone."""
        return self._prefix[:-1]

    def node_name(self) -> str | None:
        """The name given to the nodes it builds: its path, or None (the default) alone."""
        return self._prefix[:-1] or None

    # Showing it.

    def extra_repr(self) -> str:
        """The settings shown between the parentheses, e.g. "in_features=2, out_features=3"."""
        return ""

    def describe(self) -> str:
        """How errors name the layer, e.g. "Linear layer 'fc1' (in_features=4, ...)"."""
        where = f" {self.path!r}" if self.path else ""
        settings = self.extra_repr()
        return f"{type(self).__name__} layer{where}" + (f" ({settings})" if settings else "")

    def __repr__(self):
        """As PyTorch shows a module: its settings, then each sub-layer on a line of its own."""
        lines = [f"({name}): " + repr(getattr(self, name)).replace("\n", "\n  ")
                 for name in self._layer_names]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        if self.extra_repr():
            lines.insert(0, self.extra_repr())
        return f"{type(self).__name__}(" + "".join(f"\n  {line}" for line in lines) + "\n)"


def _parameter(value: np.ndarray) -> Parameter:
    """A Parameter holding ``value``; it is named when assigned to a layer's attribute."""
    parameter = Parameter()
    parameter.value = np.asarray(value, dtype=np.float64)
    return parameter


def _whole(owner: str, what: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {what} must be an int ≥ {minimum}, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{owner}: {what} must be an int ≥ {minimum}, got {value!r}")
    return int(value)


class _ChecksInput:
    """Mixed into an op that a layer builds: before the op's own forward, the layer checks the
    input's shape (``check_input``), so that a wrong shape is reported by the layer."""

    def forward(self):
        self.layer.check_input(self.inputs[0])
        super().forward()


class _LinearNode(_ChecksInput, _LinearOp):
    pass


class _MatMulNode(_ChecksInput, MatMul):
    """x W, the weight (in, out): a Linear layer without a bias."""


class _Conv2dNode(_ChecksInput, _Conv2dOp):
    pass


# The ops keep their own names in reprs and drawings: Linear('fc1'), not _LinearNode('fc1').
for _node_class, _op in ((_LinearNode, "Linear"), (_MatMulNode, "MatMul"),
                         (_Conv2dNode, "Conv2d")):
    _node_class.__name__ = _node_class.__qualname__ = _op


def _wrong_shape(layer: Layer, x: Node, expected: str) -> ValueError:
    return ValueError(f"{layer.describe()}: its input {x.name} has shape {np.shape(x.value)}; "
                      f"expected {expected}")


class Linear(Layer):
    """y = x W + b for x (batch, in_features): ``fw.Linear`` with the layer's parameters.

    Parameters: "weight" W of shape **(in_features, out_features)**, the course's layout, as in
    ``fw.Linear(x, W, b)`` (PyTorch's ``nn.Linear`` keeps the transpose, (out, in): copy a
    PyTorch weight in as ``weight.T``), and "bias" b of shape (out_features,), unless
    ``bias=False``.

    Initialization, drawn from ``rng`` (a ``np.random.Generator``; a new unseeded one if None):
    He (Kaiming) normal, W ~ N(0, 2 / in_features), which keeps the size of the activations
    through ReLU layers, and b = 0. It is the initialization of notebooks 08 and 11: the same
    generator gives the same weights as ``rng.normal(0.0, np.sqrt(2 / in_features),
    (in_features, out_features))``. (PyTorch's default draws both W and b uniformly from
    ±1/√in_features; set ``layer.weight.value`` to start elsewhere.)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None):
        super().__init__()
        owner = type(self).__name__
        self.in_features = _whole(owner, "in_features", in_features)
        self.out_features = _whole(owner, "out_features", out_features)
        rng = check_generator(rng, owner)
        scale = math.sqrt(2.0 / self.in_features)
        self.weight = _parameter(rng.normal(0.0, scale, (self.in_features, self.out_features)))
        self.bias = _parameter(np.zeros(self.out_features)) if bias else None

    def forward(self, x):
        name = self.node_name()
        if self.bias is None:
            node = _MatMulNode(x, self.weight, name=name)
        else:
            node = _LinearNode(x, self.weight, self.bias, name=name)
        node.layer = self
        return node

    def check_input(self, x: Node):
        shape = np.shape(x.value)
        if len(shape) != 2 or shape[1] != self.in_features:
            raise _wrong_shape(self, x, f"(batch, {self.in_features}): a batch of rows of "
                                        f"{self.in_features} features")

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Conv2d(Layer):
    """``fw.Conv2d`` with the layer's parameters: x (N, in_channels, H, W) to
    (N, out_channels, H', W'), H' = (H + 2 padding - kh) // stride + 1.

    Parameters, in PyTorch's layout: "weight" (out_channels, in_channels, kh, kw) and "bias"
    (out_channels,), unless ``bias=False``. ``kernel_size`` is an int (square) or (kh, kw).
    Initialization from ``rng``: He normal, W ~ N(0, 2 / (in_channels · kh · kw)) (the inputs
    of one output), and b = 0.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1,
                 padding: int = 0, bias: bool = True, rng=None):
        super().__init__()
        owner = type(self).__name__
        self.in_channels = _whole(owner, "in_channels", in_channels)
        self.out_channels = _whole(owner, "out_channels", out_channels)
        sizes = (kernel_size, kernel_size) if isinstance(kernel_size, numbers.Integral) \
            else tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else None
        if sizes is None or len(sizes) != 2:
            raise TypeError(f"{owner}: kernel_size must be an int or a pair (kh, kw), got "
                            f"{kernel_size!r}")
        self.kernel_size = tuple(_whole(owner, "kernel_size", size) for size in sizes)
        self.stride = _whole(owner, "stride", stride)
        self.padding = _whole(owner, "padding", padding, minimum=0)
        rng = check_generator(rng, owner)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = _parameter(rng.normal(0.0, math.sqrt(2.0 / fan_in), shape))
        self.bias = _parameter(np.zeros(self.out_channels)) if bias else None

    def forward(self, x):
        node = _Conv2dNode(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                           name=self.node_name())
        node.layer = self
        return node

    def check_input(self, x: Node):
        shape = np.shape(x.value)
        if len(shape) != 4 or shape[1] != self.in_channels:
            raise _wrong_shape(self, x, f"(N, {self.in_channels}, H, W): a batch of images of "
                                        f"{self.in_channels} channel(s)")

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Layer):
    """``fw.MaxPool2d``: the largest value of each kernel_size × kernel_size window, the
    windows ``stride`` apart (``kernel_size`` if None: side by side). No parameters."""

    def __init__(self, kernel_size: int, stride: int | None = None):
        super().__init__()
        self.kernel_size = _whole(type(self).__name__, "kernel_size", kernel_size)
        self.stride = (self.kernel_size if stride is None
                       else _whole(type(self).__name__, "stride", stride))

    def forward(self, x):
        return _MaxPool2dOp(x, self.kernel_size, self.stride, name=self.node_name())

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class _Elementwise(Layer):
    op = None

    def forward(self, x):
        return self.op(x, name=self.node_name())


class ReLU(_Elementwise):
    """max(x, 0), element by element (``fw.ReLU``)."""

    op = activations.ReLU


class Sigmoid(_Elementwise):
    """1 / (1 + e^(-x)), element by element (``fw.Sigmoid``)."""

    op = activations.Sigmoid


class Tanh(_Elementwise):
    """tanh(x), element by element (``fw.Tanh``)."""

    op = activations.Tanh


class Flatten(Layer):
    """(N, d₁, d₂, ...) to (N, d₁·d₂·...) (``fw.Flatten``): images to rows for a Linear."""

    def forward(self, x):
        return shapes.Flatten(x, name=self.node_name())


class Sequential(Layer):
    """The layers one after the other: ``Sequential(a, b, c)(x)`` is ``c(b(a(x)))``.

    The layers are its sub-layers "0", "1", "2"...: its parameters are named "0.weight",
    "2.bias" and so on. ``model[i]`` is the i-th layer, ``len(model)`` their number.
    """

    def __init__(self, *layers: Layer):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                if isinstance(layer, type) and issubclass(layer, (Layer, Node)):
                    hint = (f"; make a layer: {layer.__name__}(...)" if issubclass(layer, Layer)
                            else f"; use the layer L.{layer.__name__}(...) from "
                                 "framework.layers, not the op")
                else:
                    hint = ""
                raise TypeError(f"Sequential: item {i} is {layer!r}, not a layer{hint}")
            setattr(self, str(i), layer)

    def forward(self, x):
        for name in self._layer_names:
            x = getattr(self, name)(x)
        return x

    def __getitem__(self, index: int) -> Layer:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Sequential indices are ints, got {index!r}")
        names = list(self._layer_names)
        if not -len(names) <= index < len(names):
            raise IndexError(f"Sequential of {len(names)} layers has no layer {index}")
        return getattr(self, names[index])

    def __len__(self) -> int:
        return len(self._layer_names)

    def __iter__(self):
        return (getattr(self, name) for name in self._layer_names)


class Dropout(Layer):
    """In training, zero each entry with probability ``p`` and scale the others by
    1 / (1 - p), with a new mask on every forward pass (``fw.Dropout``); in evaluation, the
    identity. ``p`` in [0, 1); the masks are drawn from ``rng`` (a ``np.random.Generator``).
    The node built reads ``p``, ``rng`` and ``training`` from the layer on every pass."""

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        self.p = check_probability(p, f"{type(self).__name__}(p={p!r})")
        self.rng = check_generator(rng, type(self).__name__)

    def forward(self, x):
        return _DropoutOp(x, name=self.node_name(), layer=self)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Layer):
    """Batch normalization with PyTorch's semantics (``fw.BatchNorm``; the maths in
    ``framework.normalization``): "weight" γ (ones) and "bias" β (zeros), both (num_features,);
    buffers "running_mean" (zeros) and "running_var" (ones), which every training forward pass
    updates with ``momentum`` and the unbiased batch variance; evaluation uses them."""

    dims = ""  # the shapes it takes, for errors
    ndims = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        owner = type(self).__name__
        self.num_features = _whole(owner, "num_features", num_features)
        self.eps = check_number(eps, owner, "eps", 0.0, math.inf, False)
        self.momentum = check_number(momentum, owner, "momentum", 0.0, 1.0, True)
        self.weight = _parameter(np.ones(self.num_features))
        self.bias = _parameter(np.zeros(self.num_features))
        self.register_buffer("running_mean", np.zeros(self.num_features))
        self.register_buffer("running_var", np.ones(self.num_features))

    def forward(self, x):
        node = _BatchNormNode(x, self.weight, self.bias, name=self.node_name(), layer=self)
        return node

    def check_input(self, x: Node):
        shape = np.shape(x.value)
        if len(shape) not in self.ndims or shape[1] != self.num_features:
            raise _wrong_shape(self, x, self.dims.format(self.num_features))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}"


class _BatchNormNode(_ChecksInput, _BatchNormOp):
    pass


_BatchNormNode.__name__ = _BatchNormNode.__qualname__ = "BatchNorm"


class BatchNorm1d(_BatchNorm):
    """Batch normalization of x (batch, num_features), or (batch, num_features, length) as in
    PyTorch, each feature over the batch (and the length)."""

    dims = "(batch, {0}) or (batch, {0}, length)"
    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of images x (N, num_features, H, W), each channel over the batch
    and every pixel: m = N·H·W values."""

    dims = "(N, {0}, H, W)"
    ndims = (4,)


# The layers for sequences live in modules of their own, which build on this one (Layer,
# _parameter...): imported last, once everything they take from here exists.
from .attention import CausalSelfAttention  # noqa: E402
from .embedding import Embedding  # noqa: E402
from .layer_norm import LayerNorm  # noqa: E402
from .recurrent import LSTM, RNN  # noqa: E402

__all__ += ["CausalSelfAttention", "Embedding", "LSTM", "LayerNorm", "RNN"]
