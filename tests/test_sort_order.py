"""The sort's order is pinned: the fast topological_sort gives exactly the order, end nodes and
gradient marks of a plain textbook Kahn's algorithm (tests and notebooks rely on the order)."""

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

import framework as fw


def reference_sort(feed_dict):
    """Kahn's algorithm written plainly: discover the connected nodes depth-first (outputs
    before inputs, last found explored first), start from those with no inputs in the order
    found, place ready nodes first-in first-out, then mark and find the end nodes."""
    in_degree = {node: len(set(node.inputs)) for node in feed_dict}
    stack = list(in_degree)
    while stack:
        node = stack.pop()
        for neighbour in node.outputs + node.inputs:
            if neighbour not in in_degree:
                in_degree[neighbour] = len(set(neighbour.inputs))
                stack.append(neighbour)
    ready = deque(node for node, degree in in_degree.items() if degree == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for output in node.outputs:
            in_degree[output] -= 1
            if in_degree[output] == 0:
                ready.append(output)
    marks = {node: node.is_trainable for node in order}
    for node in order:
        if marks[node]:
            for output in node.outputs:
                marks[output] = True
    return order, [node for node in order if not node.outputs], marks


@st.composite
def graphs(draw):
    """Operations on earlier nodes (repeats allowed, like ``a * a``), with data, parameters
    and constants anywhere, some fed (in any order) and some not."""
    nodes = []
    for j in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["op", "op", "op", "input", "parameter", "constant"]))
        if kind == "op" and nodes:
            parents = draw(st.lists(st.integers(0, len(nodes) - 1), min_size=1, max_size=3))
            nodes.append(fw.Node([nodes[p] for p in parents], name=f"n{j}"))
        elif kind == "constant":
            nodes.append(fw.Constant(0.0, name=f"n{j}"))
        else:
            nodes.append(fw.Parameter(f"n{j}") if kind == "parameter" else fw.Input(f"n{j}"))
    feedable = [n for n in nodes if n.kind in ("data", "parameter")]
    if not feedable:
        nodes.append(fw.Input("x"))
        feedable = [nodes[-1]]
    fed = draw(st.lists(st.sampled_from(feedable), min_size=1, max_size=4, unique=True))
    return nodes, fed


@settings(max_examples=200, deadline=None)
@given(graph=graphs())
def test_the_order_is_exactly_that_of_plain_kahn(graph):
    nodes, fed = graph
    feed = {node: 0.0 for node in fed}
    order, end_nodes, marks = reference_sort(feed)
    sorted_ = fw.topological_sort(feed)
    assert list(sorted_) == order
    assert sorted_.end_nodes == end_nodes
    assert {node: node.needs_gradient for node in sorted_} == marks


def test_long_chains_and_wide_layers_keep_the_plain_order():
    x, w = fw.Input("x"), fw.Parameter("w")
    node = x * w
    for _ in range(2000):
        node = fw.Negate(node)
    layer = [fw.Negate(node) for _ in range(50)]
    for _ in range(5):
        layer = [layer[i] + layer[(i + 1) % 50] for i in range(50)]
    feed = {w: 1.0, x: 2.0}
    order, end_nodes, marks = reference_sort(feed)
    sorted_ = fw.topological_sort(feed)
    assert list(sorted_) == order and sorted_.end_nodes == end_nodes
    assert {node: node.needs_gradient for node in sorted_} == marks
