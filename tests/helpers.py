"""Helpers shared by the tests of bad input."""

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
