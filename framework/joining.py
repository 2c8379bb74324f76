"""Joining nodes into one: ``fw.stack`` along a new axis and ``fw.concatenate`` along an
existing one, as ``np.stack`` and ``np.concatenate`` do.

Every element of the output is one element of one input, so an input's gradient is its own
piece of the upstream gradient: the slice at its position along the new axis (stack), or its
block along the axis (concatenate). A node given twice receives both pieces, summed by
``send_gradient``.
"""

import numpy as np

from .arguments import is_int, refuse
from .node import Node, as_node


def _as_nodes(nodes, what: str) -> list[Node]:
    """The list or tuple ``nodes`` with plain arrays wrapped in constants; anything else refused."""
    if isinstance(nodes, Node):
        raise TypeError(f"fw.{what} takes a list of nodes, e.g. fw.{what}([a, b]); got the one "
                        f"node {nodes!r}")
    if not isinstance(nodes, (list, tuple)):
        raise TypeError(f"fw.{what} takes a list or tuple of nodes; got {type(nodes).__name__}")
    if not nodes:
        raise ValueError(f"fw.{what} needs at least one node; got an empty {type(nodes).__name__}")
    return [as_node(node) for node in nodes]


class _Join(Node):
    what = ""

    def __init__(self, nodes, axis=0, name=None):
        super().__init__(_as_nodes(nodes, self.what), name=name)
        if not is_int(axis):
            refuse(self, f"{self!r}: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def _shapes(self) -> str:
        return ", ".join(f"{node.name} {np.shape(node.value)}" for node in self.inputs)


class Stack(_Join):
    """y = np.stack(inputs, axis): inputs of one shape, side by side along a new axis.

    ∂L/∂inputs[k] = the slice k of ∂L/∂y along that axis.
    """

    what = "stack"

    def forward(self):
        values = [node.value for node in self.inputs]
        shape = np.shape(values[0])
        ndim = len(shape) + 1  # the output's
        if any(np.shape(value) != shape for value in values):
            raise ValueError(f"{self!r}: cannot stack {self._shapes()}; expected one shape for "
                             "every input")
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"{self!r}: axis {self.axis} is out of range for stacking inputs of "
                             f"shape {shape}; expected an axis from {-ndim} to {ndim - 1}")
        self.value = np.stack(values, axis=self.axis)

    def backward(self):
        pieces = np.moveaxis(self.upstream_gradient(), self.axis, 0)
        for node, piece in zip(self.inputs, pieces, strict=True):
            if node.needs_gradient:
                self.send_gradient(node, piece)


class Concatenate(_Join):
    """y = np.concatenate(inputs, axis): inputs that agree on every axis but ``axis``, one after
    the other along it.

    ∂L/∂inputs[k] = the block of ∂L/∂y along the axis where inputs[k] lies.
    """

    what = "concatenate"

    def forward(self):
        values = [node.value for node in self.inputs]
        ndims = {np.ndim(value) for value in values}
        ndim = ndims.pop()
        if ndims or ndim == 0 or not -ndim <= self.axis < ndim:
            raise ValueError(f"{self!r}: cannot concatenate {self._shapes()} along axis "
                             f"{self.axis}; expected inputs with the same number of axes, at "
                             "least one, and the axis among them")
        axis = self.axis % ndim
        if any(np.shape(v)[:axis] + np.shape(v)[axis + 1:] !=
               np.shape(values[0])[:axis] + np.shape(values[0])[axis + 1:] for v in values):
            raise ValueError(f"{self!r}: cannot concatenate {self._shapes()} along axis "
                             f"{self.axis}; expected the same length on every other axis")
        self.ends = np.cumsum([np.shape(value)[axis] for value in values])[:-1]
        self.value = np.concatenate(values, axis=axis)

    def backward(self):
        pieces = np.split(self.upstream_gradient(), self.ends, axis=self.axis)
        for node, piece in zip(self.inputs, pieces, strict=True):
            if node.needs_gradient:
                self.send_gradient(node, piece)


def stack(nodes, axis=0, name=None) -> Stack:
    """``fw.stack([a, b, ...], axis=0)``: as ``np.stack``, for nodes (or arrays)."""
    return Stack(nodes, axis, name=name)


def concatenate(nodes, axis=0, name=None) -> Concatenate:
    """``fw.concatenate([a, b, ...], axis=0)``: as ``np.concatenate``, for nodes (or arrays)."""
    return Concatenate(nodes, axis, name=name)
