"""The sort's order is pinned: the fast topological_sort gives exactly the order, end nodes and
gradient marks of a plain textbook Kahn's algorithm (tests and notebooks rely on the order).

The sort keeps its counts on the nodes, so the order must not depend on what earlier sorts (of
other parts of the graph, failed ones, or sorts in other threads) left there."""

import sys
import threading
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


@settings(max_examples=100, deadline=None)
@given(graph=graphs(), data=st.data())
def test_earlier_sorts_of_the_same_nodes_change_nothing(graph, data):
    """Sort from one feed, then from another (another part of the graph), then break a link so
    that a sort fails half-way: every sort that succeeds gives the plain order."""
    nodes, fed = graph
    for _ in range(2):
        feed = {node: 0.0 for node in data.draw(st.lists(st.sampled_from(fed), min_size=1,
                                                         unique=True))}
        assert list(fw.topological_sort(feed)) == reference_sort(feed)[0]
    op = next((n for n in reversed(nodes) if n.inputs), None)
    if op is not None:  # a link made by hand that its input does not know of
        stray = fw.Input("stray")
        op.inputs.append(stray)
        try:
            fw.topological_sort({stray: 0.0})
        except ValueError:
            pass
        op.inputs.remove(stray)
    feed = {node: 0.0 for node in fed}
    assert list(fw.topological_sort(feed)) == reference_sort(feed)[0]


def test_threads_sorting_the_same_graph_at_once_each_get_the_plain_order():
    x = fw.Input("x")
    node = x
    for _ in range(3000):
        node = fw.Negate(node) + node
    expected = reference_sort({x: 0.0})[0]
    orders = []

    def sort_repeatedly():
        for _ in range(5):
            orders.append(list(fw.topological_sort({x: 0.0})))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to make them interleave
    try:
        threads = [threading.Thread(target=sort_repeatedly, daemon=True) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)  # mixed-up counts can make a sort loop for ever
    finally:
        sys.setswitchinterval(interval)
    assert not any(thread.is_alive() for thread in threads), "a sort was still running after 30 s"
    assert len(orders) == 15
    assert all(order == expected for order in orders)


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
