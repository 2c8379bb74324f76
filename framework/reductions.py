"""Sums and means over some axes (or all of them).

A sum copies nothing forward, but every input element that went into one output element
receives that element's gradient: backward puts the reduced axes back (as length 1) and
broadcasts the gradient over them. A mean does the same and divides by the count.
"""

import math

import numpy as np

from .arguments import int_tuple, refuse
from .node import Node


class _Reduction(Node):
    """Reduce ``x`` over ``axis``: None (all axes), an int or a tuple of ints, negative ones
    counting from the end; ``keepdims`` keeps the reduced axes with length 1."""

    def __init__(self, x, axis=None, keepdims=False, name=None):
        super().__init__([x], name=name)
        self.axis = int_tuple(self, "axis", axis)
        if not isinstance(keepdims, bool):
            refuse(self, f"{self!r}: keepdims must be True or False, got {keepdims!r}")
        self.keepdims = keepdims

    def _axes(self, shape) -> tuple:
        """The reduced axes as non-negative ints, checked against the input's shape."""
        ndim = len(shape)
        if self.axis is None:
            return tuple(range(ndim))
        x = self.inputs[0]
        for axis in self.axis:
            if not -ndim <= axis < ndim:
                raise ValueError(
                    f"{self!r}: axis {axis} is out of range for {x.name} of shape {shape}; "
                    f"expected axes from {-ndim} to {ndim - 1}"
                )
        axes = tuple(axis % ndim for axis in self.axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{self!r}: axis {self.axis} names an axis of {x.name} (shape "
                             f"{shape}) twice; expected each axis at most once")
        return axes

    def forward(self):
        shape = np.shape(self.inputs[0].value)
        self.axes = self._axes(shape)
        # The gradient's shape with the reduced axes kept: it broadcasts back to the input.
        self.kept_shape = tuple(1 if i in self.axes else n for i, n in enumerate(shape))
        self.count = math.prod(shape[i] for i in self.axes)
        self.value = self.compute(self.inputs[0].value)

    def spread(self, grad):
        """The upstream gradient copied to every input element it came from."""
        shape = np.shape(self.inputs[0].value)
        return np.broadcast_to(np.reshape(grad, self.kept_shape), shape).copy()


class Sum(_Reduction):
    """y = Σ x over the axes.  ∂y/∂xᵢ = 1 for every xᵢ summed into y."""

    def compute(self, x):
        return np.sum(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            self.send_gradient(x, self.spread(self.upstream_gradient()))


class Mean(_Reduction):
    """y = (1/n) Σ x over the axes, n elements per mean.  ∂y/∂xᵢ = 1/n."""

    def compute(self, x):
        return np.mean(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            self.send_gradient(x, self.spread(self.upstream_gradient() / self.count))
