"""Optimizers: update every trainable placeholder from its gradient after a backward pass.

Updates make new arrays rather than writing in place, so arrays the user fed stay as they were.
"""

import numpy as np

from .node import Node, Placeholder


def trainables(graph: list[Node]) -> list[Placeholder]:
    """The trainable placeholders of ``graph``, in graph order."""
    return [node for node in graph if isinstance(node, Placeholder) and node.is_trainable]


def _gradient(node):
    try:
        return node.gradients[node]
    except KeyError:
        raise ValueError(
            f"{node!r} has no gradient; run backward(graph) before updating it"
        ) from None


def optimize(graph: list[Node], learning_rate: float = 1e-2):
    """Plain stochastic gradient descent: θ ← θ - η ∂L/∂θ for every trainable θ."""
    for node in trainables(graph):
        node.value = node.value - learning_rate * _gradient(node)


class SGD:
    """θ ← θ - η g, the same rule as ``optimize``, as an object like the others."""

    def __init__(self, learning_rate=1e-2):
        self.learning_rate = learning_rate

    def step(self, graph):
        optimize(graph, self.learning_rate)


class Momentum:
    """v ← β v + g;  θ ← θ - η v.  The velocity v smooths the steps across batches."""

    def __init__(self, learning_rate=1e-2, beta=0.9):
        self.learning_rate, self.beta = learning_rate, beta
        self.velocity = {}

    def step(self, graph):
        for node in trainables(graph):
            v = self.velocity.get(node, 0.0) * self.beta + _gradient(node)
            self.velocity[node] = v
            node.value = node.value - self.learning_rate * v


class Adam:
    """Adam (Kingma & Ba, 2015), with bias-corrected first and second moments:

    m ← β₁ m + (1 - β₁) g,   s ← β₂ s + (1 - β₂) g²,
    θ ← θ - η m̂ / (√ŝ + ε),  with m̂ = m / (1 - β₁ᵗ) and ŝ = s / (1 - β₂ᵗ).
    """

    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.learning_rate, self.beta1, self.beta2, self.epsilon = (
            learning_rate, beta1, beta2, epsilon)
        self.t = 0
        self.m, self.s = {}, {}

    def step(self, graph):
        self.t += 1
        for node in trainables(graph):
            g = _gradient(node)
            m = self.m[node] = self.beta1 * self.m.get(node, 0.0) + (1 - self.beta1) * g
            s = self.s[node] = self.beta2 * self.s.get(node, 0.0) + (1 - self.beta2) * g * g
            m_hat = m / (1 - self.beta1**self.t)
            s_hat = s / (1 - self.beta2**self.t)
            node.value = node.value - self.learning_rate * m_hat / (np.sqrt(s_hat) + self.epsilon)
