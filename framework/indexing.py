"""Indexing a node: ``x[1]``, ``x[:, 2:5]``, ``x[[0, 0, 3]]``, ``x[rows, labels]``, ``x[mask]``."""

import copy

import numpy as np

from .arguments import refuse
from .node import Node


def holds_a_node(index) -> bool:
    """Is there a node anywhere in ``index``: itself, or inside its tuples, lists and arrays of
    objects, however nested? (Walked with a stack, not recursion, so depth does not matter;
    each container once, so a list that holds itself ends the walk too.)"""
    stack, seen = [index], set()
    while stack:
        part = stack.pop()
        if isinstance(part, Node):
            return True
        is_container = isinstance(part, (tuple, list)) or (
            isinstance(part, np.ndarray) and part.dtype == object)
        if is_container and id(part) not in seen:
            seen.add(id(part))
            stack.extend(part.ravel().tolist() if isinstance(part, np.ndarray) else part)
    return False


class Index(Node):
    """y = x[index], with NumPy's basic slicing and integer-array (or boolean) indexing.

    Every element of y is one element of x, so ∂loss/∂x is zero except where x was read,
    which receives the gradient of the element of y that read it. An element read several
    times (``x[[0, 0]]``) receives the sum: the scatter is ``np.add.at``, which adds at
    repeated indices where ``grad[index] += g`` would keep only one of them.
    """

    def __init__(self, x, index, name=None):
        super().__init__([x], name=name)
        # Looked for before the copy below, which would copy a node's whole graph too (and
        # raise RecursionError on a deep one).
        if holds_a_node(index):
            refuse(self, f"{self!r}: cannot index {x!r} with a node, found in {x.name}[...]; "
                         "indices are plain integers, slices or arrays (of ints or bools), "
                         "and get no gradient: to pick by a computed value, compute the "
                         "index with NumPy first")
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
