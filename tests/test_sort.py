"""Topological sort: valid on random DAGs (networkx as the reference), linear, and cycle-proof."""

import itertools
import time

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framework as fw


@st.composite
def dag_specs(draw):
    """A random DAG as lists of input indices (repeats allowed, like ``a * a``), plus the
    indices of the placeholders to feed. Node j may only use nodes built before it."""
    n = draw(st.integers(1, 25))
    inputs = [[]] + [draw(st.lists(st.integers(0, j - 1), max_size=3)) for j in range(1, n)]
    sources = [j for j, parents in enumerate(inputs) if not parents]
    fed = draw(st.lists(st.sampled_from(sources), min_size=1, max_size=3, unique=True))
    return inputs, fed


def build(inputs):
    nodes = []
    for j, parents in enumerate(inputs):
        if parents:
            nodes.append(fw.Node([nodes[p] for p in parents], name=f"n{j}"))
        else:
            nodes.append(fw.Input(f"n{j}"))
    return nodes


def reference_digraph(inputs):
    digraph = nx.DiGraph()
    digraph.add_nodes_from(range(len(inputs)))
    digraph.add_edges_from((p, j) for j, parents in enumerate(inputs) for p in parents)
    return digraph


@settings(max_examples=40, deadline=None)
@given(spec=dag_specs())
def test_order_is_topological_and_covers_the_connected_component(spec):
    inputs, fed = spec
    nodes = build(inputs)
    order = fw.topological_sort({nodes[i]: 0.0 for i in fed})

    reference = reference_digraph(inputs)
    undirected = reference.to_undirected()
    component = set().union(*(nx.node_connected_component(undirected, i) for i in fed))
    index = {node: i for i, node in enumerate(nodes)}
    ordered = [index[node] for node in order]

    assert len(ordered) == len(set(ordered)), "a node appears twice"
    assert set(ordered) == component
    sub = reference.subgraph(component)
    assert nx.is_directed_acyclic_graph(sub)
    assert set(nx.topological_sort(sub)) == set(ordered)
    position = {i: k for k, i in enumerate(ordered)}
    for u, v in sub.edges:
        assert position[u] < position[v], f"edge n{u} -> n{v} goes backwards"


@settings(max_examples=25, deadline=None)
@given(spec=dag_specs())
def test_same_graph_built_twice_gives_the_same_order(spec):
    inputs, fed = spec
    orders = []
    for _ in range(2):
        nodes = build(inputs)
        orders.append([node.name for node in fw.topological_sort({nodes[i]: 0.0 for i in fed})])
    assert orders[0] == orders[1]


def test_constants_made_by_operators_are_in_the_order():
    a = fw.Parameter("a")
    out = 2 * a
    order = fw.topological_sort({a: np.ones(3)})
    constant = out.inputs[0]
    assert constant.kind == "constant"
    assert order.index(constant) < order.index(out) and order.index(a) < order.index(out)
    assert len(order) == 3


def test_fed_values_become_float_arrays():
    a = fw.Input("a")
    fw.Negate(a)
    fw.topological_sort({a: [[1, 2], [3, 4]]})
    assert isinstance(a.value, np.ndarray) and a.value.dtype == np.float64
    np.testing.assert_array_equal(a.value, [[1.0, 2.0], [3.0, 4.0]])


def test_a_200000_node_chain_sorts_and_runs_without_recursion():
    start = fw.Parameter("start")
    node = start
    for _ in range(200_000):
        node = fw.Negate(node)
    began = time.perf_counter()
    graph = fw.topological_sort({start: np.array([1.5])})
    assert len(graph) == 200_001 and graph[0] is start and graph[-1] is node
    fw.forward(graph)
    fw.backward(graph)
    elapsed = time.perf_counter() - began
    np.testing.assert_array_equal(node.value, [1.5])  # an even number of negations
    np.testing.assert_array_equal(start.gradients[start], [1.0])
    assert elapsed < 10, f"sort, forward and backward took {elapsed:.1f} s: not linear?"


@pytest.mark.parametrize("length", [1, 2, 3])
def test_a_cycle_is_refused_naming_the_nodes_on_it(length):
    x = fw.Input("x")
    ring = [fw.Negate(x, name="ring0")]
    for k in range(1, length):
        ring.append(fw.Negate(ring[-1], name=f"ring{k}"))
    fw.Negate(ring[-1], name="after")  # downstream of the cycle, but not on it
    first, last = ring[0], ring[-1]
    first.inputs.append(last)  # close the loop by hand: last -> first
    last.outputs.append(first)

    with pytest.raises(ValueError, match="cycle") as error:
        fw.topological_sort({x: 1.0})
    names = str(error.value).rsplit(": ", 1)[1].split(" -> ")
    assert names[0] == names[-1], "the cycle should end where it starts"
    assert sorted(names[:-1]) == sorted(node.name for node in ring)
    by_name = {node.name: node for node in ring}
    for u, v in itertools.pairwise(names):
        assert by_name[u] in by_name[v].inputs, f"{u} -> {v} is not an edge"
