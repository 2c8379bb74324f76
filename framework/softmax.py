"""Softmax and log-softmax along one axis, each one node with its exact gradient.

For one slice z along the axis (a row of scores, say):

    softmax(z)_i = e^{z_i} / Σ_j e^{z_j},        log_softmax(z)_i = z_i - log Σ_j e^{z_j}.

Both are unchanged when one number is subtracted from every z_j, so both are computed from
z - m with m = max_j z_j: the largest exponential is e⁰ = 1, none overflows, and the sum is at
least 1, so its logarithm is finite (log-sum-exp). An entry of -inf (a masked score) gets a
weight of exactly 0.

Gradients, with s = softmax(z) and G = ∂L/∂y along the same slice:

    ∂s_i/∂z_j = s_i (δ_ij - s_j),           so  ∂L/∂z = s ⊙ (G - Σ_j G_j s_j);
    ∂log s_i/∂z_j = δ_ij - s_j,             so  ∂L/∂z = G - s Σ_j G_j.
"""

import numpy as np

from .arguments import is_int, refuse
from .node import Node, as_node


class _AlongAxis(Node):
    """An op over one axis of x (an int, negative ones counting from the end)."""

    def __init__(self, x, axis=-1, name=None):
        super().__init__([x], name=name)
        if not is_int(axis):
            refuse(self, f"{self!r}: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def _shifted(self) -> tuple[np.ndarray, np.ndarray]:
        """z - max z along the axis, and Σ e^(z - max z) (the axis kept, with length 1)."""
        x = self.inputs[0]
        shape = np.shape(x.value)
        if not -len(shape) <= self.axis < len(shape) or shape[self.axis] == 0:
            raise ValueError(
                f"{self!r}: cannot take axis {self.axis} of {x.name} of shape {shape}; expected "
                f"an axis from {-len(shape)} to {len(shape) - 1} holding at least one entry"
            )
        z = x.value
        shifted = z - z.max(axis=self.axis, keepdims=True)
        self.exp = np.exp(shifted)
        self.total = self.exp.sum(axis=self.axis, keepdims=True)
        return shifted, self.total


class Softmax(_AlongAxis):
    """y = e^z / Σ e^z along ``axis``: positive, summing to 1. See the module's docstring."""

    def forward(self):
        self._shifted()
        self.value = self.exp / self.total

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            s, grad = self.value, self.upstream_gradient()
            self.send_gradient(x, s * (grad - (grad * s).sum(axis=self.axis, keepdims=True)))


class LogSoftmax(_AlongAxis):
    """y = z - log Σ e^z along ``axis``: the log of the softmax, computed without taking the
    log of a probability that rounded to 0. See the module's docstring."""

    def forward(self):
        shifted, total = self._shifted()
        self.value = shifted - np.log(total)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            grad = self.upstream_gradient()
            s = self.exp / self.total
            self.send_gradient(x, grad - s * grad.sum(axis=self.axis, keepdims=True))


def softmax(x, axis=-1, name=None) -> Softmax:
    """``fw.softmax(x, axis=-1)``: the softmax of a node (or an array) along ``axis``."""
    return Softmax(as_node(x), axis, name=name)


def log_softmax(x, axis=-1, name=None) -> LogSoftmax:
    """``fw.log_softmax(x, axis=-1)``: the log-softmax of a node (or an array) along ``axis``."""
    return LogSoftmax(as_node(x), axis, name=name)
