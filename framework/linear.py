"""The fully connected layer, on a batch of rows."""

from .node import Node


class Linear(Node):
    """Y = X W + b for X (batch, in), W (in, out), b (out,).

    With G = ∂loss/∂Y (batch, out):  ∂/∂X = G Wᵀ,  ∂/∂W = Xᵀ G,  ∂/∂b = Σ_rows G.
    The bias is added to every row, so its gradient sums over the batch (it is not a mean).
    """

    def __init__(self, x, weight, bias, name=None):
        super().__init__([x, weight, bias], name=name)

    def forward(self):
        x, weight, bias = self.inputs
        x_shape, w_shape, b_shape = x.value.shape, weight.value.shape, bias.value.shape
        if len(x_shape) != 2 or len(w_shape) != 2 or x_shape[1] != w_shape[0]:
            raise ValueError(
                f"{self!r}: input {x.name} has shape {x_shape} but weight {weight.name} has "
                f"shape {w_shape}; expected x (batch, in) and weight (in, out) with the same in"
            )
        if b_shape != (w_shape[1],):
            raise ValueError(
                f"{self!r}: bias {bias.name} has shape {b_shape}; expected ({w_shape[1]},) to "
                f"match weight {weight.name} of shape {w_shape}"
            )
        self.value = x.value @ weight.value + bias.value

    def backward(self):
        grad = self.upstream_gradient()
        x, weight, bias = self.inputs
        if x.needs_gradient:
            self.send_gradient(x, grad @ weight.value.T)
        if weight.needs_gradient:
            self.send_gradient(weight, x.value.T @ grad)
        if bias.needs_gradient:
            self.send_gradient(bias, grad.sum(axis=0))
