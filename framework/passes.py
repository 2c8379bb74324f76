"""The forward pass in topological order, and the backward pass in reverse."""

import numpy as np

from .node import Node
from .sort import Order, mark_needs_gradient


def forward(graph: list[Node]):
    """Compute every node's value; each node's inputs come earlier in ``graph``."""
    for node in graph:
        node.forward()


def backward(graph: list[Node], loss: Node | None = None):
    """Fill every node's ``gradients`` with ∂loss/∂input; the loss is ``graph[-1]`` unless given.

    Reverse order guarantees that every output of a node has sent its gradient before the node
    itself runs. Gradients are rebuilt from scratch, so calling this twice gives the same
    result. Only nodes on a path to the loss that lead back to a trainable node are visited;
    every trainable placeholder ``p`` ends with ``p.gradients[p]``, zero if the loss ignores it.
    Pass ``loss`` when the graph has other end nodes (a prediction, say) that may sort last.
    Any order works, not only topological_sort's, as long as it holds every node that uses one
    of its nodes (a node outside it would send back gradients from some earlier pass). After
    changing a node's ``is_trainable``, sort again (or pass a plain list) so that the marks of
    what needs a gradient are redone.
    """
    if not graph:
        raise ValueError("backward got an empty graph; sort one with topological_sort first")
    if not isinstance(graph, Order):  # an order made by hand: its marks may be stale or unset
        mark_needs_gradient(graph)
    if loss is None:
        loss = graph[-1]
    elif loss not in graph:
        raise ValueError(f"the loss {loss!r} is not a node of this graph")
    require_scalar(loss)
    reached = {loss}
    for node in reversed(graph):
        node.gradients = {}  # its outputs, all earlier in this loop, have sent theirs already
        if node.needs_gradient and node in reached:
            node.backward()
            reached.update(node.gradients)
        elif node.is_trainable:  # a parameter the loss does not depend on: ∂loss/∂node = 0
            node.gradients[node] = np.zeros_like(node.value)


def require_scalar(loss: Node):
    """Refuse a loss that is not a single number: only a scalar has a gradient to start from."""
    if loss.value is None or np.size(loss.value) != 1:
        shape = None if loss.value is None else np.shape(loss.value)
        raise ValueError(
            f"the loss must be a single number (a scalar); {loss!r} has value shape {shape}. "
            "Run forward first, and make sure the loss is the last node of the order "
            "(or pass loss=)."
        )


def run_steps(graph: list[Node], train: bool = True, loss: Node | None = None):
    """One step: forward, and backward too when training (from ``loss``, as in ``backward``)."""
    forward(graph)
    if train:
        backward(graph, loss)
