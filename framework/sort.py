"""Ordering the graph: Kahn's topological sort, iterative and linear in nodes plus edges.

Without ``outputs``, the sort takes every node connected to a fed one. Two graphs built on the
same parameters (a layer that a training graph and a prediction graph both use) are then one
connected graph, and sorting either takes in the other, with its inputs that were not fed.
``topological_sort(feed_dict, outputs=[loss])`` takes only what the outputs need, as a
TensorFlow 1 session is given its fetches.
"""

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
    # The nodes the sort was asked for with ``outputs=``, or None: the order then holds them
    # and their ancestors only (their end nodes are among them).
    outputs = None


def _forgets_it_was_sorted(edit):
    @functools.wraps(edit)
    def edited(order, *args, **kwargs):
        order.as_sorted = False
        return edit(order, *args, **kwargs)
    return edited


for _edit in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend",
              "insert", "pop", "remove", "clear", "sort", "reverse"):
    setattr(Order, _edit, _forgets_it_was_sorted(getattr(list, _edit)))


def topological_sort(feed_dict: dict, outputs=None) -> list[Node]:
    """Feed the values in ``feed_dict`` and return the graph's nodes, each after its inputs.

    Without ``outputs``, every node connected to a fed node is returned, constants included.
    With ``outputs`` (a node, or a list of nodes: ``outputs=[loss]``), only those nodes and
    their ancestors, the nodes they are computed from: a graph that shares parameters with
    this one is left out, inputs and all (see ``_sort_towards``). The order's end nodes are
    then among the outputs (``outputs=[loss]`` ends with the loss), and ``order.outputs``
    keeps them. Refused, before anything is fed: outputs that are not nodes, an output that
    needs a placeholder neither fed nor holding a value, and an output that no fed node
    leads to.

    Kahn's algorithm: count each node's inputs (its in-degree), start from the nodes with
    none, and each time a node is placed, remove its outgoing edges; a node whose count
    reaches zero is ready. Nodes are discovered in a fixed order and placed first-in
    first-out, so the same graph gives the same order.
    A cycle leaves nodes that never become ready, and is reported by name.
    """
    if outputs is not None:
        return _sort_towards(feed_dict, outputs)
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
    values = _checked_feed(feed_dict)
    for node, value in zip(feed_dict, values, strict=True):
        node.value = value


def _checked_feed(feed_dict) -> list:
    """The fed values, each made a float64 array, after checking that every key is a
    placeholder one may feed; nothing is set yet."""
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
    return [as_float_array(value, node) for node, value in feed_dict.items()]


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


# Sorting toward given outputs.

SORT = "topological_sort"


def _sort_towards(feed_dict, outputs) -> Order:
    """``topological_sort(feed_dict, outputs)``: the outputs and their ancestors, in Kahn's
    order, starting from the fed nodes they need (in the feed's order), then the other nodes
    without inputs (parameters, constants) in the order they were made.

    The walk goes from the outputs up along inputs only, never down along outputs, so the
    nodes of another graph that shares a parameter are never reached. Everything is checked
    before any value is set (a refused sort leaves every node as it was): every placeholder
    the outputs need is fed or holds a value already (a layer's parameters hold theirs), and
    every output is computed from at least one fed node.
    """
    wanted = _checked_outputs(outputs)
    values = _checked_feed(feed_dict)
    with _one_sort_at_a_time:
        this_sort, found = _ancestors(wanted)
        sources = [node for node in feed_dict if node._found_by is this_sort and not node.inputs]
        # The others (parameters, constants, placeholders fed before) as they were made:
        # a model's parameters in its own order, not in the walk's, which goes backward.
        sources += sorted((node for node in found if not node.inputs and node not in feed_dict),
                          key=lambda node: node.id)
        placed, ends = _kahn_within(this_sort, sources)
        if len(placed) < len(found):
            _check_links(found)
            cycle = " -> ".join(n.name for n in _find_cycle(found))
            raise ValueError(f"the graph has a cycle, so it has no topological order: {cycle}")
    _require_computable(wanted, placed, feed_dict)
    for node, value in zip(feed_dict, values, strict=True):
        node.value = value
    order = Order(placed)
    order.end_nodes, order.sources, order.outputs = ends, sources, wanted
    mark_needs_gradient(order)
    order.as_sorted = True
    return order


def _checked_outputs(outputs) -> list[Node]:
    """``outputs`` as a list of distinct nodes: a node alone, or a list or tuple of them."""
    if isinstance(outputs, Node):
        return [outputs]
    if not isinstance(outputs, (list, tuple)):
        raise TypeError(f"{SORT}: outputs= takes a node or a list of nodes, e.g. "
                        f"outputs=[loss]; got {outputs!r} ({type(outputs).__name__})")
    if not outputs:
        raise ValueError(f"{SORT}: outputs= is empty; give the nodes to compute, e.g. "
                         "outputs=[loss], or leave it out to sort every node connected to "
                         "the fed ones")
    for i, item in enumerate(outputs):
        if not isinstance(item, Node):
            if hasattr(item, "named_parameters") and hasattr(item, "describe"):  # a layer
                raise TypeError(f"{SORT}: outputs[{i}] is the {item.describe()}, not a node; "
                                "give the node it returned, e.g. out = layer(x), then "
                                "outputs=[out]")
            raise TypeError(f"{SORT}: outputs[{i}] is {item!r} ({type(item).__name__}), not "
                            "a node; outputs= takes the nodes to compute, e.g. [loss]")
    return list(dict.fromkeys(outputs))  # a node given twice is one output


def _ancestors(wanted) -> tuple[object, list[Node]]:
    """(this sort's token, every node the ``wanted`` ones are computed from, themselves
    included, in discovery order), each with ``_inputs_left`` set to its in-degree, as
    ``_discover`` does; only inputs are followed."""
    this_sort, found = object(), []
    try:
        for node in wanted:
            if node._found_by is not this_sort:
                node._found_by = this_sort
                found.append(node)
                node._inputs_left = _distinct(node.inputs)
        frontier = deque(found)
        while frontier:
            for i in frontier.pop().inputs:
                if i._found_by is not this_sort:
                    i._found_by = this_sort
                    found.append(i)  # before its inputs are counted: see _discover
                    i._inputs_left = _distinct(i.inputs)
                    frontier.append(i)
    except (AttributeError, TypeError):  # a stray among the links: see _discover
        try:
            require_links_are_nodes(found)
        except TypeError as stray:
            raise stray from None
        raise
    return this_sort, found


def _kahn_within(this_sort, sources) -> tuple[list[Node], list[Node]]:
    """Kahn's loop over the nodes ``this_sort`` found: an output outside them (of another
    graph) is not waited for. Returns the order and its end nodes, those with no output among
    the nodes found (the outputs asked for, unless one feeds another)."""
    placed, ends = sources[:], []
    for node in placed:
        inside = False
        for output in node.outputs:
            if output._found_by is this_sort:
                inside = True
                missing = output._inputs_left - 1
                output._inputs_left = missing
                if missing == 0:
                    placed.append(output)
                elif missing < 0:
                    raise _broken_link(node, output)
        if not inside:
            ends.append(node)
    return placed, ends


def _require_computable(wanted, placed, feed_dict):
    """Refuse outputs that could not be computed from this feed: one that needs a placeholder
    neither fed nor holding a value, or one computed from no fed node at all."""
    for node in placed:
        if not node.inputs and isinstance(node, Placeholder) and node.value is None \
                and node not in feed_dict:
            output = _first_needing(node, wanted, placed)
            raise ValueError(
                f"{SORT}: {output!r} needs {node!r}, which is not in feed_dict and has no "
                f"value; feed it, e.g. {{{node.name}: array}}, or leave {output.name} out of "
                "outputs= (nothing was fed)"
            )
    reached = set()  # the nodes computed from a fed node
    for node in placed:
        if node in feed_dict or any(i in reached for i in node.inputs):
            reached.add(node)
    for output in wanted:
        if output not in reached:
            data = [n.name for n in placed if isinstance(n, Placeholder) and not n.is_trainable]
            raise ValueError(
                f"{SORT}: {output!r} is not computed from any node of feed_dict "
                f"({', '.join(n.name for n in feed_dict) or 'empty'}), so this feed cannot "
                "change it; feed the data it is computed from"
                + (f" ({', '.join(data)})" if data else "")
                + ", or leave it out of outputs= (nothing was fed)"
            )


def _computed_from(node, nodes) -> set:
    """``node`` and the nodes of ``nodes`` computed from it, following outputs inside
    ``nodes`` only."""
    members, below, frontier = set(nodes), {node}, [node]
    while frontier:
        for output in frontier.pop().outputs:
            if output in members and output not in below:
                below.add(output)
                frontier.append(output)
    return below


def _first_needing(node, wanted, placed) -> Node:
    """The first of ``wanted`` computed from ``node`` (for an error)."""
    below = _computed_from(node, placed)
    return next(output for output in wanted if output in below)


def other_graph_hint(graph, node) -> str | None:
    """Why ``node``, a placeholder without a value met by a forward pass, may be in ``graph``
    at all: if some end node of ``graph`` does not need it, it belongs to another graph that
    shares nodes with this one (a layer used by both), which a sort without ``outputs=`` took
    in. Then a hint naming the end nodes to sort toward; otherwise None (it was not fed)."""
    if node.inputs or not isinstance(node, Placeholder) or node.value is not None:
        return None
    below = _computed_from(node, graph)
    ends = graph.end_nodes if isinstance(graph, Order) and graph.as_sorted else end_nodes(graph)
    without = [end for end in ends if end not in below]
    if not without:
        return None
    names = ", ".join(end.name for end in without[:3]) + (", ..." if len(without) > 3 else "")
    return (
        f"{node.name} is not needed by {names}: it is an input of another graph that shares "
        f"nodes with this one (a layer or parameters used by both), taken in because "
        f"{SORT} without outputs= keeps every node connected to the fed ones. Sort only what "
        f"this graph computes: {SORT}(feed_dict, outputs=[{without[0].name}])"
    )


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
