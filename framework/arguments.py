"""Checking an op's plain arguments (a stride, an axis, a shape) as the op is built.

An op is linked to its inputs as soon as ``Node.__init__`` runs, and only then has a name to
put in an error. So the checks run just after, and an op that is refused is unlinked again:
it leaves no trace in the graph, and sorting the graph later does not stumble on it.
"""

from __future__ import annotations

import numbers

from .node import Node


def refuse(node: Node, message: str, error: type[Exception] = TypeError):
    """Unlink ``node`` from its inputs and raise ``error`` with ``message``."""
    for source in node.inputs:
        if node in source.outputs:
            source.outputs.remove(node)
    raise error(message)


def is_int(value) -> bool:
    """A whole number of Python or NumPy type, but not a bool (``True`` is no stride)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(node: Node, what: str, value, minimum: int = 1) -> int:
    """``value`` as an int if it is a whole number ≥ ``minimum``; otherwise refuse ``node``."""
    if not is_int(value) or value < minimum:
        refuse(node, f"{node!r}: {what} must be an int ≥ {minimum}, got {value!r}",
               ValueError if is_int(value) else TypeError)
    return int(value)


def int_tuple(node: Node, what: str, values) -> tuple[int, ...] | None:
    """None, an int or a sequence of ints (an axis, axes, a shape) as a tuple of ints."""
    if values is None:
        return None
    items = (values,) if is_int(values) else values
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if items is None or not all(is_int(item) for item in items):
        refuse(node, f"{node!r}: {what} must be an int or a tuple of ints, got {values!r}")
    return tuple(int(item) for item in items)
