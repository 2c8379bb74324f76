"""The forward pass in topological order, and the backward pass in reverse."""

import numpy as np

from .node import Node


def forward(graph: list[Node]):
    """Compute every node's value; each node's inputs come earlier in ``graph``."""
    for node in graph:
        node.forward()


def backward(graph: list[Node]):
    """Fill every node's ``gradients`` with ∂loss/∂input, the loss being ``graph[-1]``.

    Reverse order guarantees that every output of a node has sent its gradient before the node
    itself runs. Gradients are rebuilt from scratch, so calling this twice gives the same
    result. Only nodes on a path to the loss that lead back to a trainable node are visited.
    """
    loss = graph[-1]
    if loss.value is None or np.size(loss.value) != 1:
        shape = None if loss.value is None else np.shape(loss.value)
        raise ValueError(
            f"backward needs a scalar loss as the last node; {loss!r} has value shape {shape}. "
            "Run forward first, and make sure the loss is the last node of the order."
        )
    for node in graph:
        node.gradients = {}
    reached = {loss}
    for node in reversed(graph):
        if node.needs_gradient and node in reached:
            node.backward()
            reached.update(node.gradients)


def run_steps(graph: list[Node], train: bool = True):
    """One step: forward, and backward too when training."""
    forward(graph)
    if train:
        backward(graph)
