"""Element-wise activation functions. Each backward multiplies by the local derivative."""

import numpy as np

from .node import Node


class _Activation(Node):
    def __init__(self, x, name=None):
        super().__init__([x], name=name)


class Sigmoid(_Activation):
    """σ(x) = 1 / (1 + e^{-x}).  σ'(x) = σ(x) (1 - σ(x)) = σ(x) σ(-x).

    With e = e^{-|x|}, which lies in (0, 1] and never overflows: σ(x) = 1 / (1 + e) for
    x ≥ 0 and e / (1 + e) for x < 0 (the same number, multiplied by e^{x} above and below).
    Both keep full relative precision on the whole line, down to σ(-745) ≈ 5e-324, where
    1 - σ(-x) would round to 0. The derivative is e / (1 + e)² for every x, for the same reason.
    """

    def forward(self):
        x = self.inputs[0].value
        self.e = np.exp(-np.abs(x))
        self.one_plus_e = 1.0 + self.e
        self.value = np.where(x >= 0, 1.0, self.e) / self.one_plus_e

    def backward(self):
        derivative = self.e / (self.one_plus_e * self.one_plus_e)
        self.send_gradient(self.inputs[0], self.upstream_gradient() * derivative)


class ReLU(_Activation):
    """relu(x) = max(x, 0).  relu'(x) = 1 where x > 0, else 0."""

    def forward(self):
        self.value = np.maximum(self.inputs[0].value, 0.0)

    def backward(self):
        self.send_gradient(self.inputs[0], self.upstream_gradient() * (self.inputs[0].value > 0))


class Tanh(_Activation):
    """tanh(x).  tanh'(x) = 1 - tanh(x)²."""

    def forward(self):
        self.value = np.tanh(self.inputs[0].value)

    def backward(self):
        t = self.value
        self.send_gradient(self.inputs[0], self.upstream_gradient() * (1.0 - t * t))
