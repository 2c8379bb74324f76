"""The exponential and the natural logarithm, element-wise."""

import numpy as np

from .node import Node, as_node


class Exp(Node):
    """eˣ, element-wise.  ∂/∂x = eˣ, the value itself.

    Large x overflow to inf (e^710 already does in float64): a softmax written with Exp
    must subtract the maximum first, as SoftmaxCrossEntropy does.
    """

    def __init__(self, x, name=None):
        super().__init__([x], name=name)

    def forward(self):
        self.value = np.exp(self.inputs[0].value)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            self.send_gradient(x, self.upstream_gradient() * self.value)


class Log(Node):
    """ln x, element-wise, for x > 0.  ∂/∂x = 1 / x.

    As in NumPy, ln 0 is -inf and the log of a negative number is nan (with a warning).
    """

    def __init__(self, x, name=None):
        super().__init__([x], name=name)

    def forward(self):
        self.value = np.log(self.inputs[0].value)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            self.send_gradient(x, self.upstream_gradient() / x.value)


def exp(x, name=None) -> Exp:
    """``fw.exp(x)``: eˣ of a node (or of a number, wrapped in a Constant)."""
    return Exp(as_node(x), name=name)


def log(x, name=None) -> Log:
    """``fw.log(x)``: ln x of a node (or of a number, wrapped in a Constant)."""
    return Log(as_node(x), name=name)
