"""Indexing a node: ``x[1]``, ``x[:, 2:5]``, ``x[[0, 0, 3]]``, ``x[rows, labels]``, ``x[mask]``."""

import copy

import numpy as np

from .arguments import refuse
from .node import Node


class Index(Node):
    """y = x[index], with NumPy's basic slicing and integer-array (or boolean) indexing.

    Every element of y is one element of x, so ∂loss/∂x is zero except where x was read,
    which receives the gradient of the element of y that read it. An element read several
    times (``x[[0, 0]]``) receives the sum: the scatter is ``np.add.at``, which adds at
    repeated indices where ``grad[index] += g`` would keep only one of them.
    """

    def __init__(self, x, index, name=None):
        super().__init__([x], name=name)
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(part, Node) for part in parts):
            refuse(self, f"{self!r}: cannot index {x.name} with a node; index with ints, "
                         "slices or arrays (they get no gradient)")
        # A copy: an index list refilled in place for the next batch must not move this one.
        try:
            self.index = copy.deepcopy(index)
        except (TypeError, copy.Error):  # a generator, say, which NumPy would not take either
            refuse(self, f"{self!r}: cannot index {x.name} with a {type(index).__name__}; "
                         "index with ints, slices, lists or arrays")

    def forward(self):
        x = self.inputs[0]
        try:
            self.value = x.value[self.index]
        except (IndexError, TypeError, ValueError) as error:
            raise IndexError(
                f"{self!r}: cannot index {x.name} of shape {np.shape(x.value)} with "
                f"{self.index!r}: {error}"
            ) from None

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            grad = np.zeros(np.shape(x.value))
            np.add.at(grad, self.index, self.upstream_gradient())
            self.send_gradient(x, grad)
