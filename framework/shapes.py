"""Shape changes: reshape, transpose and flatten. Each moves values without changing them, so
backward moves the gradient back the same way: reshape it to the input's shape, or apply the
inverse permutation of the axes.
"""

import math

import numpy as np

from .arguments import int_tuple, refuse
from .node import Node, as_node


class Reshape(Node):
    """y = x with shape ``shape`` (one entry may be -1: the length that fits).

    Elements keep their order (C order), so ∂y/∂x is the identity: the gradient is the
    upstream gradient reshaped to x's shape.
    """

    def __init__(self, x, shape, name=None):
        super().__init__([x], name=name)
        if shape is None:
            refuse(self, f"{self!r}: reshape needs a shape, e.g. {x.name}.reshape(2, -1); got None")
        self.shape = int_tuple(self, "shape", shape)
        if self.shape.count(-1) > 1 or any(n < -1 for n in self.shape):
            refuse(self, f"{self!r}: shape {self.shape} must hold lengths ≥ 0 and at most one "
                         "-1 (the length that fits)", ValueError)

    def forward(self):
        x = self.inputs[0]
        shape = np.shape(x.value)
        known = math.prod(n for n in self.shape if n != -1)
        size = math.prod(shape)
        fits = size == known if -1 not in self.shape else known > 0 and size % known == 0
        if not fits:
            raise ValueError(
                f"{self!r}: cannot reshape {x.name} of shape {shape} ({size} elements) to "
                f"{self.shape}; expected a shape with {size} elements"
                + (" (-1 stands for the length that fits)" if -1 in self.shape else "")
            )
        self.value = np.reshape(x.value, self.shape)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            self.send_gradient(x, np.reshape(self.upstream_gradient(), np.shape(x.value)))


class Transpose(Node):
    """y = x with its axes permuted: y's axis i is x's axis ``axes[i]`` (reversed if None).

    ∂y/∂x moves each gradient back: the gradient is transposed by the inverse permutation.
    """

    def __init__(self, x, axes=None, name=None):
        super().__init__([x], name=name)
        self.axes = int_tuple(self, "axes", axes)

    def forward(self):
        x = self.inputs[0]
        ndim = np.ndim(x.value)
        if self.axes is None:
            self.permutation = tuple(reversed(range(ndim)))
        else:
            self.permutation = tuple(a % ndim if -ndim <= a < ndim else a for a in self.axes)
            if sorted(self.permutation) != list(range(ndim)):
                raise ValueError(
                    f"{self!r}: axes {self.axes} do not permute the axes of {x.name} of shape "
                    f"{np.shape(x.value)}; expected each of 0 to {ndim - 1} once"
                )
        self.value = np.transpose(x.value, self.permutation)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            inverse = np.argsort(self.permutation)
            self.send_gradient(x, np.transpose(self.upstream_gradient(), inverse))


class Flatten(Node):
    """(N, d₁, d₂, ...) to (N, d₁·d₂·...): one row per example, as a Linear layer expects.

    The gradient is the upstream gradient reshaped back to x's shape.
    """

    def __init__(self, x, name=None):
        super().__init__([x], name=name)

    def forward(self):
        x = self.inputs[0]
        shape = np.shape(x.value)
        if len(shape) < 1:
            raise ValueError(f"{self!r}: {x.name} is a scalar (shape {shape}); expected a "
                             "batch axis first, as in (N, ...)")
        self.value = np.reshape(x.value, (shape[0], math.prod(shape[1:])))

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            self.send_gradient(x, np.reshape(self.upstream_gradient(), np.shape(x.value)))


def transpose(x, axes=None, name=None) -> Transpose:
    """``fw.transpose(x, axes)``: NumPy's transpose of a node; ``x.T`` reverses all axes."""
    return Transpose(as_node(x), axes, name=name)
