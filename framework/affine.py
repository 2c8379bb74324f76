"""A linear map of the last axis in PyTorch's layout, y = x Wᵀ + b, for inputs with any
leading axes: the input term of a recurrent layer, the projections of attention.

x has shape (..., in) (a batch, or a batch and time steps), W is (out, in) as
``torch.nn.Linear`` keeps it, and each bias b (out,) is added to every row; PyTorch's
recurrent layers add two, b_ih and b_hh. With X (n, in) the rows of x (every leading axis
flattened into n) and G (n, out) the rows of ∂L/∂y:

    ∂L/∂X = G W,        ∂L/∂W = Gᵀ X,        ∂L/∂b = Σ_rows G   (the same for every bias).

Flattening the leading axes makes each product one matrix product: ``x @ W.T`` on a
(batch, steps, in) array would be one small product per batch row.

Some of its outputs read one slice of its value each (one time step, one of the query, key
and value blocks). Each would send back an array of the whole value's size, zero outside its
slice, and T steps would then cost T such arrays and their sum: backpropagation through time
quadratic in T. Such a node hands its slice to ``gather`` instead, which writes every slice
into one array per backward pass.
"""

import numpy as np

from .node import Node


class Affine(Node):
    """y = x Wᵀ + b₁ + b₂ + ... over the last axis of x: x (..., in), W (out, in), b (out,).

    See the module's docstring for the gradients.
    """

    def __init__(self, x, weight, *biases, name=None):
        super().__init__([x, weight, *biases], name=name)
        self._gathered = self._sender = None

    def forward(self):
        x, weight, *biases = self.inputs
        x_shape, w_shape = np.shape(x.value), np.shape(weight.value)
        if len(w_shape) != 2 or len(x_shape) < 1 or x_shape[-1] != w_shape[1]:
            raise ValueError(
                f"{self!r}: input {x.name} has shape {x_shape} and weight {weight.name} "
                f"{w_shape}; expected x (..., in) and the weight (out, in), PyTorch's layout"
            )
        for bias in biases:
            if np.shape(bias.value) != (w_shape[0],):
                raise ValueError(f"{self!r}: bias {bias.name} has shape {np.shape(bias.value)}; "
                                 f"expected ({w_shape[0]},) for weight {weight.name} {w_shape}")
        rows = x.value.reshape(-1, w_shape[1])
        value = rows @ weight.value.T
        for bias in biases:
            value += bias.value  # the product is a new array: adding in place is safe
        self.value = value.reshape(*x_shape[:-1], w_shape[0])

    def backward(self):
        x, weight, *biases = self.inputs
        grad = self.upstream_gradient()
        out, n_in = np.shape(weight.value)
        rows = grad.reshape(-1, out)
        if x.needs_gradient:
            self.send_gradient(x, (rows @ weight.value).reshape(np.shape(x.value)))
        if weight.needs_gradient:
            self.send_gradient(weight, rows.T @ x.value.reshape(-1, n_in))
        bias_grad = None
        for bias in biases:
            if bias.needs_gradient:
                # Two biases get equal gradients, but arrays of their own: clipping one in
                # place must not change the other.
                bias_grad = rows.sum(axis=0) if bias_grad is None else bias_grad.copy()
                self.send_gradient(bias, bias_grad)

    def gather(self, reader: Node, index, grad: np.ndarray):
        """Take ∂L/∂value[index] = ``grad`` from ``reader``, an output that reads that slice.

        The first reader to run in a backward pass sends a new array of zeros as its
        gradient toward this node, and every reader writes its slice into that same array:
        the sum over the outputs is then the one array, with each slice in place. Readers
        must read slices that do not overlap. A new array is made when the backward pass
        changed, or when the reader that sent the array no longer holds it (its gradients
        were emptied, as drawing the backward pass step by step does).
        """
        this_pass = reader.backward_pass
        sender = self._sender
        if (sender is None or sender.backward_pass is not this_pass
                or sender.gradients.get(self) is not self._gathered):
            self._gathered, self._sender = np.zeros_like(self.value), reader
            reader.send_gradient(self, self._gathered)
        self._gathered[index] = grad
