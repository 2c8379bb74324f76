"""Helpers shared by the tests: of bad input (the names an error gives), and of the compiled
step (the optimizers it is tried with, a graph whose gradient holds a NaN, its gradients)."""

import numpy as np

import framework as fw


def assert_names(error, *texts):
    """The error's message contains every one of ``texts`` (a node's name, a shape...)."""
    message = str(error.value)
    missing = [text for text in texts if text not in message]
    assert not missing, f"{missing} not in: {message}"


def run(feed):
    """Sort the graph of ``feed``, run forward, and return the order."""
    graph = fw.topological_sort(feed)
    fw.forward(graph)
    return graph


def compiled_gradients(step) -> dict:
    """{parameter: its gradient at the last step of ``step`` (a ``fw.compile``d step)}, read
    from the flat array ``step.grads`` in the order of ``step.parameters``."""
    gradients, start = {}, 0
    for node in step.parameters:
        size = np.size(node.value)
        gradients[node] = step.grads[start:start + size].reshape(np.shape(node.value))
        start += size
    assert start == step.grads.size
    return gradients


# The optimizers the compiled step is compared with the interpreted loop on.
OPTIMIZERS = {
    "SGD": lambda: fw.SGD(0.05),
    "Momentum": lambda: fw.Momentum(0.05, beta=0.8),
    "Adam": lambda: fw.Adam(0.01),
    "SGD+decay": lambda: fw.SGD(0.05, weight_decay=0.1),
    "Momentum+decay": lambda: fw.Momentum(0.05, beta=0.8, weight_decay=0.1),
    "Adam+decay": lambda: fw.Adam(0.01, weight_decay=0.1),
}


def sqrt_graph():
    """√(x w) at x = 0: a finite loss, but an infinite local derivative, and 0 · inf = NaN in
    w's gradient. The graph, x, t and the loss."""
    x, t = fw.Input("x"), fw.Input("t")
    w = fw.Parameter("w")
    w.value = np.array([0.5, 2.0])
    loss = fw.MSE((x * w) ** 0.5, t)
    return fw.topological_sort({x: np.ones((3, 2)), t: np.zeros((3, 2))}), x, t, loss
