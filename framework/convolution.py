"""2-D convolution of a batch of images, computed as one matrix product (im2col).

Every output pixel is a dot product of the weight with one kH×kW window of the input, over
all input channels. ``im2col`` lays each window out as one row of a matrix ``cols`` (a copy
read through ``numpy.lib.stride_tricks.sliding_window_view``, no Python loop over pixels), so
the whole convolution is ``cols @ Wᵀ``, and its backward pass is two matrix products and one
scatter of the window gradients back onto the image (``col2im``).
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .arguments import positive_int
from .node import Node


def windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """The kh×kw windows of images x (N, C, H, W), ``stride`` apart, as a view of shape
    (N, C, out_h, out_w, kh, kw): ``windows(...)[n, c, i, j]`` is
    ``x[n, c, i*stride : i*stride + kh, j*stride : j*stride + kw]``."""
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


def im2col(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """One row per output pixel (n, i, j), holding its window over all channels:
    shape (N·out_h·out_w, C·kh·kw), columns in the order of a weight's (C, kh, kw)."""
    view = windows(x, kh, kw, stride)
    n, c, out_h, out_w = view.shape[:4]
    return view.transpose(0, 2, 3, 1, 4, 5).reshape(n * out_h * out_w, c * kh * kw)


def col2im(dcols: np.ndarray, shape: tuple, kh: int, kw: int, stride: int) -> np.ndarray:
    """The adjoint of im2col: add each window's gradient back onto the pixels it was read
    from. ``dcols`` has shape (N, out_h, out_w, C, kh, kw); the result has ``shape``
    (N, C, H, W). Windows overlap, so one loop over the kh·kw kernel offsets adds every
    window's (di, dj) entry at once; there is no loop over pixels."""
    n, out_h, out_w = dcols.shape[:3]
    grad = np.zeros((n, shape[2], shape[3], shape[1]))  # channels last, as dcols holds them
    for di in range(kh):
        for dj in range(kw):
            rows = slice(di, di + stride * (out_h - 1) + 1, stride)
            columns = slice(dj, dj + stride * (out_w - 1) + 1, stride)
            grad[:, rows, columns, :] += dcols[:, :, :, :, di, dj]
    return grad.transpose(0, 3, 1, 2)


def flat_filters(w: np.ndarray) -> np.ndarray:
    """The weight (C_out, C_in, kH, kW) as one row per filter, (C_out, C_in·kH·kW). Both
    lengths are written out, not left to ``-1``: with no filters (C_out = 0, PyTorch's empty
    result) or no input channels, NumPy cannot tell what ``-1`` stands for."""
    return w.reshape(w.shape[0], math.prod(w.shape[1:]))


class Conv2d(Node):
    """Y = conv(X, W) + b, a cross-correlation as PyTorch's ``conv2d`` computes it.

    X (N, C_in, H, W), W (C_out, C_in, kH, kW), b (C_out,) or None; X is padded with
    ``padding`` zeros on every side and the windows are ``stride`` apart, so Y has shape
    (N, C_out, (H + 2p - kH) // s + 1, (W + 2p - kW) // s + 1) and

        Y[n, f, i, j] = b[f] + Σ_{c, di, dj} W[f, c, di, dj] · X[n, c, i·s + di, j·s + dj].

    With ``cols`` the im2col matrix of X and G = ∂loss/∂Y, one row per output pixel and one
    column per filter:  Y = cols Wᵀ + b,  ∂/∂W = Gᵀ cols,  ∂/∂b = Σ_pixels G,  and
    ∂/∂cols = G W, which col2im adds back onto the pixels each window read (padding cut off).
    A weight with no filters (C_out = 0) gives an empty Y of shape (N, 0, H', W'), and empty
    gradients for W and b, as PyTorch does.
    """

    def __init__(self, x, weight, bias=None, stride=1, padding=0, name=None):
        super().__init__([x, weight] if bias is None else [x, weight, bias], name=name)
        self.stride = positive_int(self, "stride", stride)
        self.padding = positive_int(self, "padding", padding, minimum=0)

    def _check(self, x_shape, w_shape):
        x, weight = self.inputs[:2]
        shapes = f"input {x.name} has shape {x_shape} and weight {weight.name} {w_shape}"
        problem, p = None, self.padding
        if len(x_shape) != 4:
            problem = ("expected an input of 4 axes (N, C_in, H, W), a batch of images with "
                       "channels (one grey image: x.reshape(1, 1, H, W))")
        elif len(w_shape) != 4:
            problem = "expected a weight of 4 axes (C_out, C_in, kH, kW)"
        elif x_shape[1] != w_shape[1]:
            problem = (f"the input has {x_shape[1]} channels but the weight expects "
                       f"C_in = {w_shape[1]}")
        elif 0 in w_shape[2:]:
            problem = "expected a kernel of at least 1×1"
        elif w_shape[2] > x_shape[2] + 2 * p or w_shape[3] > x_shape[3] + 2 * p:
            problem = (f"the {w_shape[2]}×{w_shape[3]} kernel does not fit the input padded "
                       f"by {p} ({x_shape[2] + 2 * p}×{x_shape[3] + 2 * p}); expected a kernel "
                       "no larger than the padded input")
        elif len(self.inputs) == 3 and np.shape(self.inputs[2].value) != (w_shape[0],):
            bias = self.inputs[2]
            problem = (f"bias {bias.name} has shape {np.shape(bias.value)}; expected "
                       f"({w_shape[0]},), one per filter")
        if problem:
            raise ValueError(f"{self!r}: {shapes}: {problem}")

    def forward(self):
        x, w = self.inputs[0].value, self.inputs[1].value
        self._check(np.shape(x), np.shape(w))
        p, s = self.padding, self.stride
        if p:
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        n, f, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
        out_h, out_w = (x.shape[2] - kh) // s + 1, (x.shape[3] - kw) // s + 1
        self.padded_shape = x.shape
        self.cols = im2col(x, kh, kw, s)
        out = self.cols @ flat_filters(w).T  # (N·out_h·out_w, C_out)
        if len(self.inputs) == 3:
            out += self.inputs[2].value
        self.value = out.reshape(n, out_h, out_w, f).transpose(0, 3, 1, 2)

    def backward(self):
        x, weight = self.inputs[:2]
        w = weight.value
        f = w.shape[0]
        grad = np.transpose(self.upstream_gradient(), (0, 2, 3, 1))  # (N, out_h, out_w, C_out)
        pixels = grad.shape[:3]
        grad = grad.reshape(math.prod(pixels), f)  # one row per output pixel, as in cols
        if weight.needs_gradient:
            self.send_gradient(weight, (grad.T @ self.cols).reshape(w.shape))
        if len(self.inputs) == 3 and self.inputs[2].needs_gradient:
            self.send_gradient(self.inputs[2], grad.sum(axis=0))
        if x.needs_gradient:
            dcols = (grad @ flat_filters(w)).reshape(*pixels, *w.shape[1:])
            padded = col2im(dcols, self.padded_shape, w.shape[2], w.shape[3], self.stride)
            p = self.padding
            height, width = self.padded_shape[2] - p, self.padded_shape[3] - p
            self.send_gradient(x, padded[:, :, p:height, p:width])
