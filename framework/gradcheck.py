"""Numerical gradient checking: compare backward's gradients with central differences.

For each element θᵢ of a trainable value, ∂L/∂θᵢ ≈ (L(θᵢ + ε) - L(θᵢ - ε)) / 2ε, with an error
of order ε². In float64 with ε = 1e-6 this agrees with a correct analytic gradient to about
1e-7 relative, while a wrong backward rule is usually off by far more.
"""

import numpy as np

from .node import Node, Placeholder, require_nodes
from .optimizers import check_number, trainables
from .passes import backward, choose_loss, forward, require_scalar


def numerical_gradient(graph: list[Node], node: Node, epsilon: float = 1e-6,
                       loss: Node | None = None) -> np.ndarray:
    """∂loss/∂node by central differences; the loss is chosen as ``backward`` chooses it.

    ``node`` is a placeholder of ``graph`` with a value: an operation's value would be
    overwritten by the forward pass, so nudging it would measure nothing. Afterwards every
    value of the graph is that of a forward pass at the original value.
    """
    require_nodes(graph)
    check_number("numerical_gradient", "epsilon", epsilon)
    if epsilon == 0:
        raise ValueError("numerical_gradient: the epsilon must be a number > 0, got 0")
    if not isinstance(node, Placeholder):
        raise TypeError(
            f"numerical_gradient nudges the value of a placeholder (an Input or a Parameter); "
            f"{node!r} is not one: forward would overwrite any nudge of it"
        )
    if node.value is None:
        raise ValueError(f"{node!r} has no value: feed it before taking its numerical gradient")
    if node not in graph:
        raise ValueError(f"{node!r} is not a node of this graph")
    loss = choose_loss(graph, loss)
    fed = node.value  # put back as it is, the very object: a gradient computed at it still holds
    original = np.array(fed, dtype=np.float64)
    grad = np.zeros_like(original)
    try:
        for index in np.ndindex(original.shape):
            values = []
            for step in (epsilon, -epsilon):
                shifted = original.copy()
                shifted[index] += step
                node.value = shifted
                forward(graph)
                require_scalar(loss)
                values.append(np.asarray(loss.value).item())
            grad[index] = (values[0] - values[1]) / (2 * epsilon)
    finally:
        node.value = fed
    forward(graph)  # recompute from the restored value, so no value stays nudged by -ε
    return grad


def gradient_check(graph: list[Node], epsilon: float = 1e-6,
                   loss: Node | None = None) -> dict[str, float]:
    """Run forward and backward, and return, for each trainable node's name, the largest
    relative error between backward's gradient and the numerical one (the loss as in
    ``backward``).

    The relative error of two numbers is |a - n| / max(1, |a|, |n|): absolute near zero,
    relative for large gradients.
    """
    nodes = trainables(graph)
    names = [node.name for node in nodes]
    for node in nodes:  # the result is keyed by name: a second node of a name would hide one
        if names.count(node.name) > 1:
            raise ValueError(f"gradient_check reports each trainable node by its name, and "
                             f"{names.count(node.name)} are named {node.name!r}; give each a "
                             "name of its own")
    forward(graph)
    backward(graph, loss)
    # A trainable node that does not lead to the loss has a true gradient of zero.
    analytic = {n: n.gradients.get(n, np.zeros_like(n.value)) for n in nodes}
    errors = {}
    for node, grad in analytic.items():
        numeric = numerical_gradient(graph, node, epsilon, loss)
        scale = np.maximum(1.0, np.maximum(np.abs(grad), np.abs(numeric)))
        errors[node.name] = float(np.max(np.abs(grad - numeric) / scale, initial=0.0))
    return errors  # numerical_gradient left every value as a forward pass at the originals
