"""Batch normalization: standardise each feature (or channel) over the batch, then rescale it.

For x of shape (N, C) or (N, C, ...) (images: (N, C, H, W)), each channel c is normalized over
the m = N · (H · W ...) values it has in the batch. In training, with the batch's statistics

    μ_c = (1/m) Σ x,      σ²_c = (1/m) Σ (x - μ_c)²      (the biased variance),
    x̂ = (x - μ_c) / √(σ²_c + ε),      y = γ_c x̂ + β_c,

where γ (``weight``, ones at first) and β (``bias``, zeros) are trainable. Each training pass
also updates running estimates of the mean and variance, as PyTorch does, with momentum α
(0.1 by default) and the *unbiased* variance of the batch:

    running_mean ← (1 - α) running_mean + α μ,
    running_var  ← (1 - α) running_var  + α σ² · m / (m - 1).

In evaluation the running estimates take the place of μ and σ², so y depends on one example
only, and is an affine function of x: y = γ (x - running_mean) / √(running_var + ε) + β.

Backward, with G = ∂L/∂y and sums over the m values of a channel:

    ∂L/∂β = Σ G,      ∂L/∂γ = Σ G ⊙ x̂,
    ∂L/∂x = γ / (m √(σ² + ε)) · (m G - Σ G - x̂ Σ G ⊙ x̂)      in training,
    ∂L/∂x = γ G / √(running_var + ε)                           in evaluation.

The training formula is the chain rule through μ and σ² as well as x: x̂ changes with every
value of the batch, since each one moves the mean and the variance. Its two sums are the
gradients of β and γ, computed anyway. (Derivation: ∂x̂_i/∂x_j = (δ_ij - 1/m - x̂_i x̂_j / m)
/ √(σ² + ε); sum G_i γ over i.)
"""

from __future__ import annotations

import numbers

import numpy as np

from .arguments import refuse
from .node import Node


def check_number(value, owner: str, what: str, low: float, high: float, high_included: bool):
    """``value`` as a float if it is a real number in (low, high] or (low, high), else refuse."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {what} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if not (low <= value <= high if high_included else low < value < high):
        interval = f"[{low:g}, {high:g}]" if high_included else f"({low:g}, {high:g})"
        raise ValueError(f"{owner}: {what} must be in {interval}, got {value!r}")
    return float(value)


class BatchNorm(Node):
    """y = γ (x - μ) / √(σ² + ε) + β per channel (axis 1), μ and σ² taken over the batch in
    training and from the running estimates in evaluation. See the module's docstring.

    Inputs: x (N, C, ...), ``weight`` γ (C,) and ``bias`` β (C,). Standing alone, the node
    keeps its own settings: ``training`` (True at first), ``momentum``, ``eps``, and the
    running estimates ``running_mean`` and ``running_var`` (zeros and ones of length C, made
    at its first forward pass). Built by a layer (``layers.BatchNorm1d`` or ``BatchNorm2d``),
    it reads all of these from that layer on every forward pass, and writes the running
    estimates back to it (new arrays, never changed in place): every graph built from one
    layer shares them, and ``layer.eval()`` switches them all at once, with no new sort.
    Backward uses the statistics of the forward pass that computed the loss, whatever
    ``training`` says by then.
    """

    def __init__(self, x, weight, bias, momentum=0.1, eps=1e-5, name=None, layer=None):
        super().__init__([x, weight, bias], name=name)
        self.layer = layer
        if layer is None:
            try:
                self.momentum = check_number(momentum, repr(self), "momentum", 0.0, 1.0, True)
                self.eps = check_number(eps, repr(self), "eps", 0.0, np.inf, False)
            except (TypeError, ValueError) as error:
                refuse(self, str(error), type(error))
            self.training = True
            self.running_mean = self.running_var = None

    def _owner(self) -> str:
        return repr(self) if self.layer is None else self.layer.describe()

    def forward(self):
        settings = self if self.layer is None else self.layer
        x_node, weight, bias = self.inputs
        x, gamma, beta = x_node.value, weight.value, bias.value
        shape = np.shape(x)
        if len(shape) < 2 or np.shape(gamma) != (shape[1],) or np.shape(beta) != (shape[1],):
            raise ValueError(
                f"{self._owner()}: input {x_node.name} has shape {shape}, weight {weight.name} "
                f"{np.shape(gamma)} and bias {bias.name} {np.shape(beta)}; expected x (N, C) or "
                "(N, C, ...) and a weight and a bias of shape (C,), one per feature or channel"
            )
        channels = shape[1]
        axes = (0, *range(2, len(shape)))  # every axis but the channels'
        per_channel = (1, channels) + (1,) * (len(shape) - 2)  # broadcasts along those axes
        m = x.size // channels if channels else 0
        eps = settings.eps
        self.batch_statistics = bool(settings.training)
        if self.batch_statistics:
            if m < 2:
                raise ValueError(
                    f"{self._owner()}: input {x_node.name} has shape {shape}, so {m} value per "
                    "channel: training needs more than one to take a variance over (a batch "
                    "of at least 2); to evaluate one example, call .eval() first"
                )
            mean = x.mean(axis=axes)
            centred = x - mean.reshape(per_channel)
            variance = (centred * centred).mean(axis=axes)  # biased: divided by m
            self._update_running(settings, mean, variance * (m / (m - 1)), channels)
        else:
            mean, variance = self._running(settings, channels)
            centred = x - mean.reshape(per_channel)
        self.inv_std = 1.0 / np.sqrt(variance + eps)  # (C,)
        self.x_hat = centred * self.inv_std.reshape(per_channel)
        self.m, self.axes, self.per_channel = m, axes, per_channel
        self.value = gamma.reshape(per_channel) * self.x_hat + beta.reshape(per_channel)

    def _running(self, settings, channels):
        """The running estimates (made as zeros and ones if there are none yet), checked."""
        if settings.running_mean is None:
            settings.running_mean, settings.running_var = np.zeros(channels), np.ones(channels)
        mean, variance = settings.running_mean, settings.running_var
        if np.shape(mean) != (channels,) or np.shape(variance) != (channels,):
            raise ValueError(
                f"{self._owner()}: running_mean has shape {np.shape(mean)} and running_var "
                f"{np.shape(variance)}; expected ({channels},), one per channel of "
                f"{self.inputs[0].name}"
            )
        return mean, variance

    def _update_running(self, settings, mean, unbiased_variance, channels):
        running_mean, running_var = self._running(settings, channels)
        momentum = settings.momentum
        settings.running_mean = (1.0 - momentum) * running_mean + momentum * mean
        settings.running_var = (1.0 - momentum) * running_var + momentum * unbiased_variance

    def backward(self):
        x, weight, bias = self.inputs
        grad = self.upstream_gradient()
        axes, per_channel = self.axes, self.per_channel
        grad_sum = grad.sum(axis=axes)  # Σ G: ∂L/∂β
        grad_x_hat_sum = (grad * self.x_hat).sum(axis=axes)  # Σ G ⊙ x̂: ∂L/∂γ
        if bias.needs_gradient:
            self.send_gradient(bias, grad_sum)
        if weight.needs_gradient:
            self.send_gradient(weight, grad_x_hat_sum)
        if x.needs_gradient:
            scale = (weight.value * self.inv_std).reshape(per_channel)  # γ / √(σ² + ε)
            if self.batch_statistics:
                m = self.m
                grad_x = (scale / m) * (m * grad - grad_sum.reshape(per_channel)
                                        - self.x_hat * grad_x_hat_sum.reshape(per_channel))
            else:
                grad_x = scale * grad
            self.send_gradient(x, grad_x)
