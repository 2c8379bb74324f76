"""Max pooling: each output pixel is the largest input in its window, channel by channel."""

import numpy as np

from .arguments import positive_int
from .convolution import windows
from .node import Node


class MaxPool2d(Node):
    """Y[n, c, i, j] = max of X[n, c] over the k×k window at (i·s, j·s), for X (N, C, H, W).

    ``stride`` s defaults to ``kernel_size`` k (windows side by side); Y has shape
    (N, C, (H - k) // s + 1, (W - k) // s + 1), as in PyTorch without padding.
    ∂Y[n, c, i, j]/∂X = 1 at the position of the window's maximum and 0 elsewhere, so each
    output's gradient goes to one input. On a tie it goes to the first maximum in row-major
    order (``argmax``); where windows overlap, an input that is the maximum of several
    windows receives the sum of their gradients.
    """

    def __init__(self, x, kernel_size, stride=None, name=None):
        super().__init__([x], name=name)
        self.kernel_size = positive_int(self, "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else positive_int(self, "stride", stride)

    def forward(self):
        x_node = self.inputs[0]
        x, k, s = x_node.value, self.kernel_size, self.stride
        if np.ndim(x) != 4 or k > x.shape[2] or k > x.shape[3]:
            raise ValueError(
                f"{self!r}: input {x_node.name} has shape {np.shape(x)}; expected (N, C, H, W) "
                f"with H and W at least kernel_size = {k}"
            )
        view = windows(x, k, k, s)  # (N, C, out_h, out_w, k, k)
        flat = view.reshape(*view.shape[:4], k * k)  # a copy: one row per window
        self.argmax = flat.argmax(axis=-1)
        self.value = np.take_along_axis(flat, self.argmax[..., np.newaxis], axis=-1)[..., 0]

    def backward(self):
        x_node = self.inputs[0]
        if not x_node.needs_gradient:
            return
        n, c, h, w = x_node.value.shape
        k, s = self.kernel_size, self.stride
        out_h, out_w = self.argmax.shape[2:]
        di, dj = np.divmod(self.argmax, k)
        rows = np.arange(out_h)[:, np.newaxis] * s + di  # where each maximum sits in X
        columns = np.arange(out_w) * s + dj
        flat_index = (np.arange(n * c).reshape(n, c, 1, 1) * h + rows) * w + columns
        # bincount adds the gradients that land on the same pixel (overlapping windows).
        grad = np.bincount(flat_index.ravel(), weights=np.ravel(self.upstream_gradient()),
                           minlength=n * c * h * w)
        self.send_gradient(x_node, grad.reshape(n, c, h, w))
