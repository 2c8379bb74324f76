"""Helpers shared by the tests: of bad input (the names an error gives), and of the compiled
step (its gradients)."""

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
