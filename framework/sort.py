"""Ordering the graph: Kahn's topological sort, iterative and linear in nodes plus edges."""

from collections import deque

from .node import Node, as_float_array


class Order(list):
    """The list of nodes that ``topological_sort`` returns. Being one tells ``backward`` that
    the sort has just set every node's ``needs_gradient``, so it need not set them again."""


def topological_sort(feed_dict: dict) -> list[Node]:
    """Feed the values in ``feed_dict`` and return the graph's nodes, each after its inputs.

    Every node connected to a fed node is returned, constants included. Kahn's algorithm:
    count each node's inputs (its in-degree), start from the nodes with none, and each time a
    node is placed, remove its outgoing edges; a node whose count reaches zero is ready.
    Nodes are discovered and placed first-in first-out, so the same graph gives the same order.
    A cycle leaves nodes that never become ready, and is reported by name.
    """
    for node, value in feed_dict.items():
        if not isinstance(node, Node):
            raise TypeError(f"feed_dict keys must be nodes; got {node!r}")
        node.value = as_float_array(value, node)

    in_degree = _in_degrees(feed_dict)
    ready = deque(node for node, degree in in_degree.items() if degree == 0)
    order = Order()
    while ready:
        node = ready.popleft()
        order.append(node)
        for output in node.outputs:
            in_degree[output] -= 1
            if in_degree[output] == 0:
                ready.append(output)

    if len(order) < len(in_degree):
        cycle = " -> ".join(n.name for n in _find_cycle(in_degree))
        raise ValueError(f"the graph has a cycle, so it has no topological order: {cycle}")
    mark_needs_gradient(order)
    return order


def _in_degrees(feed_dict) -> dict[Node, int]:
    """Every node reachable from the fed ones along inputs or outputs, in discovery order,
    mapped to its in-degree: its number of distinct inputs (``a * a`` has one edge from a).
    """
    in_degree = {node: len(set(node.inputs)) for node in feed_dict}
    frontier = list(in_degree)
    while frontier:
        node = frontier.pop()
        for neighbours in (node.outputs, node.inputs):
            for neighbour in neighbours:
                if neighbour not in in_degree:
                    in_degree[neighbour] = len(set(neighbour.inputs))
                    frontier.append(neighbour)
    return in_degree


def _find_cycle(in_degree) -> list[Node]:
    """Walk back along inputs that were never placed until a node repeats: that loop is a cycle.

    Every unplaced node has an unplaced input, so the walk cannot stop before it repeats.
    """
    node = next(n for n, degree in in_degree.items() if degree > 0)
    path, position = [], {}
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = next(i for i in node.inputs if in_degree[i] > 0)
    loop = path[position[node]:]
    loop.reverse()  # walked against the edges; show it along them
    return [*loop, loop[0]]


def mark_needs_gradient(order):
    """A node needs a gradient if it is trainable or computed from one that needs a gradient.

    Data, constants and everything computed only from them get none: nobody uses it.
    """
    for node in order:
        node.needs_gradient = node.is_trainable
    for node in order:  # in order: a node's mark is final before it passes it on
        if node.needs_gradient:
            for output in node.outputs:
                output.needs_gradient = True
