"""The forward pass in topological order, and the backward pass in reverse."""

import itertools
import math

import numpy as np

from .node import Node, Placeholder, require_nodes, stray_link
from .sort import Order, end_nodes, other_graph_hint

_pass_numbers = itertools.count()
_latest_forward_pass = -1  # the number of the forward pass that started last, over any graph


class BackwardPass:
    """What one backward pass was: its number, the graph it ran over, the loss it started
    from, and the number of the forward pass whose values it used.

    Every node of ``graph`` keeps it in ``node.backward_pass``, so each gradient says where it
    came from: an optimizer steps a graph only with gradients of the last backward pass over
    that very graph (a parameter shared with another graph may hold that graph's gradient),
    and a drawing marks a gradient computed from other values than the ones it shows.
    """

    __slots__ = ("number", "graph", "loss", "forward_pass")

    def __init__(self, number: int, graph: list[Node], loss: Node):
        self.number, self.graph, self.loss = number, graph, loss
        self.forward_pass = loss.forward_pass

    def __repr__(self):
        return f"BackwardPass({self.number}, loss={self.loss!r}, {len(self.graph)} nodes)"

    def is_over(self, graph) -> bool:
        """Did this pass run over ``graph``: the same list, or one holding the same nodes in
        the same order (a copy of it)?"""
        return self.graph is graph or self.graph == graph


def forward(graph: list[Node]):
    """Compute every node's value; each node's inputs come earlier in ``graph``.

    Each pass has a number, stamped on every node it computes, so that ``backward`` can tell
    whether all the values it uses come from the pass that computed the loss.

    A placeholder without a value stops the pass. If some end node of ``graph`` does not
    need it, it is an input of another graph sharing nodes with this one (a sort without
    ``outputs=`` takes such graphs in), and the error says to sort with ``outputs=``.
    """
    global _latest_forward_pass
    as_sorted = is_as_sorted(graph)
    if not as_sorted:  # a list made by hand, a slice of an order, an edited order
        require_inputs_first(graph)
    pass_number = _latest_forward_pass = next(_pass_numbers)
    try:  # costs nothing until something raises
        for node in graph:
            node.forward()
            node.forward_pass = pass_number
    except ValueError as error:
        # A placeholder with no value: not fed, or an input of another graph (see sort.py)?
        hint = other_graph_hint(graph, node)
        if hint is None:
            raise
        raise ValueError(f"{error}. {hint}") from None
    if as_sorted:
        graph.computed_by = pass_number


def backward(graph: list[Node], loss: Node | None = None):
    """Fill every node's ``gradients`` with ∂loss/∂input; the loss is ``graph[-1]`` unless given.

    Reverse order guarantees that every output of a node has sent its gradient before the node
    itself runs. Gradients are rebuilt from scratch, so calling this twice gives the same
    result. Only nodes on a path to the loss that lead back to a trainable node are visited;
    every trainable placeholder ``p`` ends with ``p.gradients[p]``, zero if the loss ignores it.
    Each pass is recorded (a ``BackwardPass``: its number, ``graph`` and ``loss``) on every node
    of ``graph``, and on ``graph`` if it is an order: a node sums only what outputs of this
    pass sent, so a node of another graph that shares a parameter, holding gradients from an
    earlier pass, changes nothing; and an optimizer refuses a gradient that another pass
    (another graph, another loss) left. Pass ``loss`` when the graph has other end nodes (a
    prediction, say) that may sort last; a graph with two scalar end nodes needs it. Any order
    works in which every node comes after its inputs, not only topological_sort's. Values that
    changed since the forward pass that computed the loss are refused, not mixed in.
    """
    if not is_as_sorted(graph):  # a list made by hand, a slice of an order, an edited order
        require_inputs_first(graph)
    if not graph:
        raise ValueError("backward got an empty graph; sort one with topological_sort first")
    loss = choose_loss(graph, loss)
    if not math.isfinite(require_scalar(loss)):  # the search for the cause runs only then
        raise FloatingPointError(describe_non_finite(graph, loss))
    require_one_forward_pass(graph, loss)
    this_pass = BackwardPass(next(_pass_numbers), graph, loss)
    reached = {loss}
    for node in reversed(graph):
        node.gradients = {}  # its outputs, all earlier in this loop, have sent theirs already
        node.backward_pass = this_pass
        if node.needs_gradient and node in reached:
            node.backward()
            reached.update(node.gradients)
        elif node.is_trainable:  # a parameter the loss does not depend on: ∂loss/∂node = 0
            node.gradients[node] = np.zeros_like(node.value)
            node.backward_value = node.value
    if isinstance(graph, Order):
        graph.backward_by = this_pass


def is_as_sorted(graph) -> bool:
    """Is ``graph`` an order just as topological_sort made it, each node after its inputs?"""
    return isinstance(graph, Order) and graph.as_sorted


def require_inputs_first(nodes: list[Node]):
    """Refuse a list in which a node comes before one of its inputs, or without it: forward
    would compute the node from an old value of that input, and backward would visit the
    input before the node that sends it its gradient. (topological_sort's orders are so.)"""
    require_nodes(nodes)
    placed = set()
    for node in nodes:
        for i in node.inputs:
            try:
                known = i in placed
            except TypeError:  # unhashable, so no node: an array, say
                known = False
            if not known:
                if not isinstance(i, Node):  # put into inputs after the node was built
                    raise stray_link(node, "inputs", i)
                where = "comes after it" if i in nodes else "is missing"
                raise ValueError(
                    f"{node!r} needs its input {i!r}, which {where} in this list: list every "
                    "input before the nodes that use it, as topological_sort does"
                )
        placed.add(node)


def choose_loss(graph: list[Node], loss: Node | None) -> Node:
    """``loss`` if given and in ``graph``; else ``graph[-1]``, unless another end node (one
    that no node of the graph uses) also holds a single number: then which loss is meant?"""
    if loss is not None:
        if loss not in graph:
            raise ValueError(f"the loss {loss!r} is not a node of this graph")
        return loss
    ends = graph.end_nodes if is_as_sorted(graph) else end_nodes(graph)
    if len(ends) > 1:  # usually one: the loss
        scalars = [node for node in ends if node.value is not None and np.size(node.value) == 1]
        if len(scalars) > 1:
            raise ValueError(
                f"the graph has {len(scalars)} end nodes that could be the loss: "
                + ", ".join(map(repr, scalars))
                + "; say which one with loss=, e.g. backward(graph, loss=...)"
            )
    return graph[-1]


def require_scalar(loss: Node) -> float:
    """The loss as a float; refuse a loss that is not a single number: only a scalar has a
    gradient to start from."""
    if isinstance(loss.value, float):  # a mean is a np.float64, which is a float
        return loss.value
    if loss.value is None or np.size(loss.value) != 1:
        shape = None if loss.value is None else np.shape(loss.value)
        raise ValueError(
            f"the loss must be a single number (a scalar); {loss!r} has value shape {shape}. "
            "Run forward first, and make sure the loss is the last node of the order "
            "(or pass loss=)."
        )
    return np.asarray(loss.value).item()


def require_one_forward_pass(graph: list[Node], loss: Node):
    """Refuse to mix values of different forward passes, which would give a wrong gradient.

    Backward multiplies the loss's gradient by each node's stored values: they must all come
    from the forward pass that computed the loss. An operation recomputed since (by a forward
    pass over part of the graph, to predict, or over another graph that shares it) carries
    another pass's number; a placeholder given a new value since (new data, or an optimizer
    step) no longer holds the value its forward pass checked. (A change made in place inside
    an array cannot be seen: the framework itself never makes one.)

    When no forward pass has started since the one over this very order that computed the
    loss, no operation can have been recomputed: only the nodes without inputs are looked at.
    """
    unchanged = (is_as_sorted(graph)
                 and graph.computed_by == loss.forward_pass == _latest_forward_pass)
    for node in graph.sources if unchanged else graph:
        if node.inputs:
            if node.forward_pass == loss.forward_pass:
                continue
            what = f"was computed by another forward pass than the loss {loss!r}"
        elif (not isinstance(node, Placeholder) or node.value is node.forward_value
              or node.forward_value is None):  # a subclass's own forward: taken as it is
            continue
        else:
            what = "was given a new value after the forward pass"
        raise ValueError(
            f"{node!r} {what}, so the gradients would mix values of two passes; run "
            "forward(graph) again before backward (no gradient was changed)"
        )


def ancestors_of(node: Node) -> set:
    """Every node that ``node`` is computed from, following the inputs, ``node`` included."""
    found, frontier = {node}, [node]
    while frontier:
        for i in frontier.pop().inputs:
            if i not in found:
                found.add(i)
                frontier.append(i)
    return found


def describe_non_finite(graph: list[Node], loss: Node) -> str:
    """Name the first node, in the order of ``graph``, on the way to ``loss`` whose value holds
    a NaN or an infinity, and say how many and where the first one is."""
    upstream = ancestors_of(loss)
    for node in graph:
        if node in upstream and node.value is not None:
            bad = ~np.isfinite(np.asarray(node.value))
            if bad.any():
                return (f"the loss {loss!r} is {np.asarray(loss.value).item()}: {node!r} holds "
                        f"{count_non_finite(node.value)}, first at index "
                        f"{tuple(int(i) for i in np.argwhere(bad)[0])}; "
                        "backward refused, and no gradient or parameter was changed")
    return f"the loss {loss!r} is {np.asarray(loss.value).item()}"


def count_non_finite(value) -> str:
    """E.g. "2 NaN and 1 inf" (the inf counting both signs)."""
    value = np.asarray(value)
    counts = [(int(np.isnan(value).sum()), "NaN"), (int(np.isinf(value).sum()), "inf")]
    return " and ".join(f"{n} {what}" for n, what in counts if n)


def run_steps(graph: list[Node], train: bool = True, loss: Node | None = None):
    """One step: forward, and backward too when training (from ``loss``, as in ``backward``)."""
    forward(graph)
    if train:
        backward(graph, loss)
