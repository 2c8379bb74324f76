"""Element-wise activation functions. Each backward multiplies by the local derivative."""

import numpy as np

from .node import Node


class _Activation(Node):
    def __init__(self, x, name=None):
        super().__init__([x], name=name)


class Sigmoid(_Activation):
    """σ(x) = 1 / (1 + e^{-x}).  σ'(x) = σ(x) (1 - σ(x)).

    Computed as (1 + tanh(x/2)) / 2, the same function, which never overflows: e^{-x}
    would overflow for x near -1e4.
    """

    def forward(self):
        self.value = 0.5 * (1.0 + np.tanh(0.5 * self.inputs[0].value))

    def backward(self):
        s = self.value
        self.send_gradient(self.inputs[0], self.upstream_gradient() * s * (1.0 - s))


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
