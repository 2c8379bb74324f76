"""Ordering the graph: Kahn's topological sort, iterative and linear in nodes plus edges."""

import functools
import threading
from collections import deque

from .node import Constant, Node, Placeholder, as_float_array, require_links_are_nodes


class Order(list):
    """The list of nodes that ``topological_sort`` returns, each after its inputs.

    Being one, as the sort made it, tells ``forward`` and ``backward`` that they need not check
    the order again, and ``end_nodes`` (the nodes that no node of the order uses) saves
    ``backward`` looking for them. An order that is edited (``append``, ``+=``, ``order[i] =``
    and every other change a list allows) is no longer known to be sound: from then on it is
    checked, and its end nodes found, as for any list made by hand.
    """

    end_nodes: list = []
    sources: list = []  # the nodes without inputs, in order
    as_sorted = False  # True from the sort until the first edit
    computed_by = None  # the number of the last forward pass over the whole order (passes.py)
    # The last backward pass over the whole order (passes.BackwardPass): its nodes may all
    # have been stamped since by a pass over a bigger graph that holds them.
    backward_by = None

    trainables_kept = None  # (Node.trainability_changes, the trainable nodes): optimizers.py


def _forgets_it_was_sorted(edit):
    @functools.wraps(edit)
    def edited(order, *args, **kwargs):
        order.as_sorted = False
        return edit(order, *args, **kwargs)
    return edited


for _edit in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend",
              "insert", "pop", "remove", "clear", "sort", "reverse"):
    setattr(Order, _edit, _forgets_it_was_sorted(getattr(list, _edit)))


def topological_sort(feed_dict: dict) -> list[Node]:
    """Feed the values in ``feed_dict`` and return the graph's nodes, each after its inputs.

    Every node connected to a fed node is returned, constants included. Kahn's algorithm:
    count each node's inputs (its in-degree), start from the nodes with none, and each time a
    node is placed, remove its outgoing edges; a node whose count reaches zero is ready.
    Nodes are discovered in a fixed order and placed first-in first-out, so the same graph
    gives the same order.
    A cycle leaves nodes that never become ready, and is reported by name.
    """
    _feed(feed_dict)
    # The counts live on the nodes (``node._inputs_left``), not in a dictionary: on a graph of
    # a million nodes a dictionary that big is slow to reach into, while each node is read
    # anyway. Two sorts at once of graphs that share nodes would then mix their counts up, so
    # threads take turns.
    with _one_sort_at_a_time:
        found, sources = _discover(feed_dict)
        # The order is also the first-in first-out queue of ready nodes: the loop walks along
        # it while the nodes that become ready join its end (a for loop over a list also
        # visits what is appended during the loop). A plain list: an Order's own append
        # would also note that the order was edited, a million times over.
        placed, ends = sources[:], []
        for node in placed:
            # The sort takes every connected node, so every output is in the order: an end
            # node is one with no outputs yet (nodes built later are not in this order).
            if not node.outputs:
                ends.append(node)
            for output in node.outputs:
                missing = output._inputs_left - 1
                output._inputs_left = missing
                if missing == 0:
                    placed.append(output)
                elif missing < 0:  # more edges in than its inputs: links made by hand
                    raise _broken_link(node, output)

        if len(placed) < len(found):
            _check_links(found)
            cycle = " -> ".join(n.name for n in _find_cycle(found))
            raise ValueError(f"the graph has a cycle, so it has no topological order: {cycle}")
    order = Order(placed)
    order.end_nodes, order.sources = ends, sources
    mark_needs_gradient(order)
    order.as_sorted = True
    return order


_one_sort_at_a_time = threading.Lock()


def _feed(feed_dict):
    """Set the fed values, after checking that every key is a placeholder one may feed."""
    if not isinstance(feed_dict, dict):
        raise TypeError(
            f"topological_sort takes a dict {{node: value}} of the placeholders to feed, "
            f"e.g. {{x: X, w: W}}; got a {type(feed_dict).__name__}"
        )
    for node in feed_dict:
        if not isinstance(node, Node):
            raise TypeError(f"feed_dict keys must be nodes; got {node!r}")
        if isinstance(node, Constant):
            raise TypeError(f"{node!r} is a Constant, fixed when it was made; to feed a value, "
                            "make a placeholder instead (Input or Parameter)")
        if not isinstance(node, Placeholder):
            raise TypeError(f"{node!r} is an operation: forward computes its value from its "
                            "inputs, so it cannot be fed; feed the placeholders it comes from")
    # Every value converted before any is set: a refused feed leaves every node as it was.
    values = [as_float_array(value, node) for node, value in feed_dict.items()]
    for node, value in zip(feed_dict, values, strict=True):
        node.value = value


def _discover(feed_dict) -> tuple[list[Node], list[Node]]:
    """Every node reachable from the fed ones along inputs or outputs, in discovery order,
    each with ``_inputs_left`` set to its in-degree: its number of distinct inputs (``a * a``
    has one edge from a); and the sources, the nodes with no inputs, in the same order:
    Kahn's algorithm starts from them.

    A node is found once per sort: ``_found_by`` holds a token new to each sort.
    """
    this_sort = object()
    found = list(feed_dict)
    try:
        for node in found:
            node._found_by = this_sort
            node._inputs_left = _distinct(node.inputs)
        sources = [node for node in found if not node.inputs]
        # The nodes found but not yet explored, last found explored first. A deque, not a
        # list: along a chain this stack keeps emptying and refilling, and a list shrinks its
        # storage each time it empties, only to grow it again on the next append.
        frontier = deque(found)
        while frontier:
            node = frontier.pop()
            for neighbour in node.outputs + node.inputs:
                if neighbour._found_by is not this_sort:
                    neighbour._found_by = this_sort
                    found.append(neighbour)  # before its inputs are counted: see except
                    # _distinct written out: a function call for every node costs more
                    # than the counting itself, and most nodes have a single input.
                    inputs = neighbour.inputs
                    neighbour._inputs_left = len(inputs) if len(inputs) < 2 else len(set(inputs))
                    if not inputs:
                        sources.append(neighbour)
                    frontier.append(neighbour)
    # Something that is not a node among the links: it has no slots to write (AttributeError)
    # or, in a set of inputs, no hash (TypeError). Every node found so far is looked at, since
    # the one holding it may be the node explored or the neighbour whose inputs were counted.
    except (AttributeError, TypeError):
        try:
            require_links_are_nodes(found)
        except TypeError as stray:
            raise stray from None
        raise
    return found, sources


def _distinct(inputs) -> int:
    """How many different nodes ``inputs`` holds (one input needs no set to tell)."""
    return len(inputs) if len(inputs) < 2 else len(set(inputs))


def _broken_link(node, other) -> ValueError:
    return ValueError(
        f"the links of {node!r} and {other!r} disagree: {other.name} is among "
        f"{node.name}.outputs but {node.name} is not among {other.name}.inputs (or the other "
        "way round); links are made by building nodes, so edit inputs and outputs together"
    )


def _check_links(found):
    """A node left unplaced with every input placed is waiting for an edge that does not exist:
    an input that does not list it among its outputs."""
    for node in found:
        if node._inputs_left > 0:
            for i in node.inputs:
                if node not in i.outputs:
                    raise _broken_link(i, node)


def _find_cycle(found) -> list[Node]:
    """Walk back along inputs that were never placed until a node repeats: that loop is a cycle.

    Every unplaced node has an unplaced input (``_check_links`` made sure), so the walk cannot
    stop before it repeats.
    """
    node = next(n for n in found if n._inputs_left > 0)
    path, position = [], {}
    while node not in position:
        position[node] = len(path)
        path.append(node)
        node = next(i for i in node.inputs if i._inputs_left > 0)
    loop = path[position[node]:]
    loop.reverse()  # walked against the edges; show it along them
    return [*loop, loop[0]]


def end_nodes(order) -> list[Node]:
    """The nodes of ``order`` whose value no node of ``order`` uses: losses, predictions."""
    members = set(order)
    return [node for node in order if not any(output in members for output in node.outputs)]


def mark_needs_gradient(order):
    """A node needs a gradient if it is trainable or computed from one that needs a gradient.

    Data, constants and everything computed only from them get none: nobody uses it.
    """
    for node in order:
        node.needs_gradient = node._is_trainable  # the slot behind is_trainable, read directly
    for node in order:  # in order: a node's mark is final before it passes it on
        if node.needs_gradient:
            for output in node.outputs:
                output.needs_gradient = True
