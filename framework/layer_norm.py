"""Layer normalization: standardise each example's features, then rescale them.

Where batch normalization takes each feature's statistics over the batch, layer normalization
takes each row's over its own D features (the last axis), so it treats every example, and
every position of a sequence, on its own, the same way in training and in evaluation:

    μ = (1/D) Σ_j x_j,      σ² = (1/D) Σ_j (x_j - μ)²   (the biased variance),
    x̂ = (x - μ) / √(σ² + ε),      y = γ ⊙ x̂ + β,

with γ (``weight``, ones at first) and β (``bias``, zeros) of shape (D,), as
``torch.nn.LayerNorm(D)``. Backward, with G = ∂L/∂y, sums over every row for γ and β and
means over the D features of one row for x:

    ∂L/∂β = Σ_rows G,      ∂L/∂γ = Σ_rows G ⊙ x̂,
    ∂L/∂x = (1/√(σ² + ε)) (Gγ - mean(Gγ) - x̂ mean(Gγ ⊙ x̂)),     Gγ = G ⊙ γ.

x moves its own row's mean and variance, hence the two means: ∂x̂_i/∂x_j = (δ_ij - 1/D -
x̂_i x̂_j / D) / √(σ² + ε), summed against Gγ_i over i (as batch normalization's, over a row
instead of a feature).
"""

import math

import numpy as np

from .layers import Layer, _ChecksInput, _parameter, _whole, _wrong_shape
from .node import Node
from .normalization import check_number


class LayerNormalization(Node):
    """y = γ ⊙ (x - μ) / √(σ² + ε) + β over the last axis of x (..., D), with γ (``weight``) and
    β (``bias``) of shape (D,). See the module's docstring."""

    def __init__(self, x, weight, bias, eps=1e-5, name=None):
        super().__init__([x, weight, bias], name=name)
        self.eps = eps

    def forward(self):
        x_node, weight, bias = self.inputs
        x = x_node.value
        shape = np.shape(x)
        if (len(shape) < 1 or np.shape(weight.value) != shape[-1:]
                or np.shape(bias.value) != shape[-1:]):
            raise ValueError(
                f"{self!r}: input {x_node.name} has shape {shape}, weight {weight.name} "
                f"{np.shape(weight.value)} and bias {bias.name} {np.shape(bias.value)}; "
                "expected x (..., D) and a weight and a bias of shape (D,)"
            )
        # Sums divided by D: what np.mean computes, without its Python wrapper (four means
        # per row a step).
        features = shape[-1]
        centred = x - x.sum(axis=-1, keepdims=True) / features
        variance = (centred * centred).sum(axis=-1, keepdims=True) / features
        self.inv_std = 1.0 / np.sqrt(variance + self.eps)
        self.x_hat = centred * self.inv_std
        self.value = self.x_hat * weight.value + bias.value

    def backward(self):
        x, weight, bias = self.inputs
        grad = self.upstream_gradient()
        features = np.shape(weight.value)[0]
        rows = grad.reshape(-1, features)
        if bias.needs_gradient:
            self.send_gradient(bias, rows.sum(axis=0))
        if weight.needs_gradient:
            self.send_gradient(weight, (rows * self.x_hat.reshape(-1, features)).sum(axis=0))
        if x.needs_gradient:
            scaled = grad * weight.value  # Gγ
            x_hat = self.x_hat
            self.send_gradient(x, self.inv_std * (
                scaled - scaled.sum(axis=-1, keepdims=True) / features
                - x_hat * ((scaled * x_hat).sum(axis=-1, keepdims=True) / features)))


class _LayerNormNode(_ChecksInput, LayerNormalization):
    pass


_LayerNormNode.__name__ = _LayerNormNode.__qualname__ = "LayerNormalization"


class LayerNorm(Layer):
    """``L.LayerNorm(normalized_shape, eps=1e-5)``: layer normalization over the last axis, of
    length ``normalized_shape`` (an int, or a tuple of one int as PyTorch also takes), as
    ``torch.nn.LayerNorm``: "weight" γ (ones) and "bias" β (zeros), both (normalized_shape,).
    The maths is in the module's docstring.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5):
        super().__init__()
        owner = type(self).__name__
        if isinstance(normalized_shape, (tuple, list)):
            if len(normalized_shape) != 1:
                raise ValueError(f"{owner}: normalized_shape {tuple(normalized_shape)} names "
                                 f"{len(normalized_shape)} axes; this layer normalizes over "
                                 "the last axis only: give its length, an int")
            normalized_shape = normalized_shape[0]
        self.normalized_shape = (_whole(owner, "normalized_shape", normalized_shape),)
        self.eps = check_number(eps, owner, "eps", 0.0, math.inf, False)
        self.weight = _parameter(np.ones(self.normalized_shape))
        self.bias = _parameter(np.zeros(self.normalized_shape))

    def forward(self, x):
        node = _LayerNormNode(x, self.weight, self.bias, self.eps, name=self.node_name())
        node.layer = self
        return node

    def check_input(self, x: Node):
        shape = np.shape(x.value)
        if len(shape) < 1 or shape[-1:] != self.normalized_shape:
            features = self.normalized_shape[0]
            raise _wrong_shape(self, x, f"(..., {features}): {features} features on the "
                                        "last axis")

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps:g}"
