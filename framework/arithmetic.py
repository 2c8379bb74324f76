"""Element-wise arithmetic and matrix products, built by the operators on nodes.

Element-wise ops follow NumPy broadcasting. Broadcasting copies an input along some axes,
so its gradient is the upstream gradient summed over those same axes (``sum_to_shape``).
"""

import numbers

import numpy as np

from .node import Node


def sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting.

    Broadcasting prepends axes and stretches axes of length 1; the gradient of a stretched
    value is the sum over the copies, so we sum over exactly those axes.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    stretched = tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    return grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True).reshape(shape)


class _Elementwise(Node):
    """Two inputs combined element by element; the shapes must broadcast."""

    symbol = "?"

    def __init__(self, a, b, name=None):
        super().__init__([a, b], name=name)

    def forward(self):
        a, b = self.inputs
        try:
            self.value = self.compute(a.value, b.value)
        except ValueError:
            raise ValueError(
                f"{self!r}: cannot compute {a.name} {self.symbol} {b.name}: shapes "
                f"{a.value.shape} and {b.value.shape} do not broadcast"
            ) from None


class Add(_Elementwise):
    """a + b.  ∂/∂a = 1, ∂/∂b = 1.

    Where no broadcasting was undone, both inputs would get the upstream gradient itself, so b
    gets a copy: two parameters then hold arrays of their own, and clipping one gradient in
    place cannot change the other.
    """

    symbol = "+"

    def compute(self, a, b):
        return a + b

    def backward(self):
        grad = self.upstream_gradient()
        a, b = self.inputs
        grad_a = sum_to_shape(grad, a.value.shape) if a.needs_gradient else None
        if grad_a is not None:
            self.send_gradient(a, grad_a)
        if b.needs_gradient:
            grad_b = sum_to_shape(grad, b.value.shape)
            self.send_gradient(b, grad_b.copy() if grad_b is grad_a and a is not b else grad_b)


class Subtract(_Elementwise):
    """a - b.  ∂/∂a = 1, ∂/∂b = -1."""

    symbol = "-"

    def compute(self, a, b):
        return a - b

    def backward(self):
        grad = self.upstream_gradient()
        a, b = self.inputs
        if a.needs_gradient:
            self.send_gradient(a, sum_to_shape(grad, a.value.shape))
        if b.needs_gradient:
            self.send_gradient(b, sum_to_shape(-grad, b.value.shape))


class Multiply(_Elementwise):
    """a * b, element-wise.  ∂/∂a = b, ∂/∂b = a."""

    symbol = "*"

    def compute(self, a, b):
        return a * b

    def backward(self):
        grad = self.upstream_gradient()
        a, b = self.inputs
        if a.needs_gradient:
            self.send_gradient(a, sum_to_shape(grad * b.value, a.value.shape))
        if b.needs_gradient:
            self.send_gradient(b, sum_to_shape(grad * a.value, b.value.shape))


class Divide(_Elementwise):
    """a / b, element-wise.  ∂/∂a = 1 / b, ∂/∂b = -a / b² = -(a / b) / b."""

    symbol = "/"

    def compute(self, a, b):
        return a / b

    def backward(self):
        grad = self.upstream_gradient()
        a, b = self.inputs
        if a.needs_gradient:
            self.send_gradient(a, sum_to_shape(grad / b.value, a.value.shape))
        if b.needs_gradient:
            self.send_gradient(b, sum_to_shape(-grad * self.value / b.value, b.value.shape))


class Power(Node):
    """a ** p for a plain number p (int or float), element-wise.  ∂/∂a = p a^(p-1).

    The exponent is a constant of the op, not an input: it gets no gradient. For a power
    whose exponent is computed, write exp(p * log(a)) (for a > 0).
    """

    def __init__(self, a, exponent, name=None):
        if isinstance(exponent, Node) or not isinstance(exponent, numbers.Real):
            raise TypeError(
                f"{a!r} ** {exponent!r}: the exponent must be a plain number (int or float), "
                f"not a {type(exponent).__name__}; for a computed exponent p write "
                "fw.exp(p * fw.log(a))"
            )
        super().__init__([a], name=name)
        # Other real numbers (a Fraction, a NumPy integer) as a float: a Fraction power of a
        # 0-d value would be a Python float, not an array.
        self.exponent = exponent if isinstance(exponent, (int, float)) else float(exponent)

    def forward(self):
        self.value = self.inputs[0].value ** self.exponent

    def backward(self):
        a, p = self.inputs[0], self.exponent
        if a.needs_gradient:
            # p a^(p-1); written out for p = 0, where 0 · a^(-1) would be 0 · inf at a = 0.
            local = p * a.value ** (p - 1) if p != 0 else np.zeros_like(a.value)
            self.send_gradient(a, self.upstream_gradient() * local)


class MatMul(Node):
    """A @ B with NumPy's rules.  For matrices (m, k) @ (k, n):  ∂/∂A = G Bᵀ,  ∂/∂B = Aᵀ G.

    NumPy also multiplies stacks of matrices, broadcasting the leading axes, and vectors: a
    vector on the left acts as one row, on the right as one column. The backward pass makes
    the same moves: it treats vectors as a row or a column, applies the matrix rule, sums
    over broadcast axes (``sum_to_shape``) and gives each gradient its input's shape again.
    """

    def __init__(self, a, b, name=None):
        super().__init__([a, b], name=name)

    def forward(self):
        a, b = self.inputs
        try:
            self.value = a.value @ b.value
        except ValueError:
            raise ValueError(
                f"{self!r}: cannot compute {a.name} @ {b.name} with shapes {a.value.shape} and "
                f"{b.value.shape}; expected (..., m, k) @ (..., k, n), the last axis of "
                f"{a.name} as long as the second-to-last (or only) axis of {b.name}"
            ) from None

    def backward(self):
        a, b = self.inputs
        A = a.value[np.newaxis, :] if a.value.ndim == 1 else a.value  # a vector is one row
        B = b.value[:, np.newaxis] if b.value.ndim == 1 else b.value  # ... or one column
        # G as the product of A and B shapes it; a vector's axis has length 1 and was dropped.
        stacks = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        G = np.reshape(self.upstream_gradient(), stacks + (A.shape[-2], B.shape[-1]))
        if a.needs_gradient:
            grad = sum_to_shape(G @ np.swapaxes(B, -1, -2), A.shape)
            self.send_gradient(a, grad.reshape(a.value.shape))
        if b.needs_gradient:
            grad = sum_to_shape(np.swapaxes(A, -1, -2) @ G, B.shape)
            self.send_gradient(b, grad.reshape(b.value.shape))


class Negate(Node):
    """-a.  ∂/∂a = -1."""

    def __init__(self, a, name=None):
        super().__init__([a], name=name)

    def forward(self):
        self.value = -self.inputs[0].value

    def backward(self):
        self.send_gradient(self.inputs[0], -self.upstream_gradient())
