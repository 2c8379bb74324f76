"""to_networkx mirrors the graph's own links; draw_graph draws it headless and returns the axes."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes

import framework as fw


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def small_graph():
    x, y = fw.Input("x"), fw.Input("y")
    w, b = fw.Parameter("w"), fw.Parameter("b")
    hidden = fw.Sigmoid(fw.Linear(x, w, b, name="linear"), name="sigmoid")
    scaled = 2.0 * hidden
    squared = fw.Multiply(scaled, scaled, name="square")  # one input used twice
    fw.MSE(squared, y, name="loss")
    graph = fw.topological_sort({x: np.ones((4, 3)), y: np.zeros((4, 2)), w: np.ones((3, 2)),
                                 b: np.zeros(2)})
    return graph, {node.name: node for node in graph}


def test_to_networkx_has_the_graphs_nodes_and_edges():
    graph, _ = small_graph()
    digraph = fw.to_networkx(graph)
    assert set(digraph.nodes) == set(graph)
    assert set(digraph.edges) == {(i, node) for node in graph for i in node.inputs}
    for position, node in enumerate(graph):
        assert digraph.nodes[node]["name"] == node.name
        assert digraph.nodes[node]["order"] == position


def test_to_networkx_kinds():
    graph, nodes = small_graph()
    digraph = fw.to_networkx(graph)
    kinds = {nodes[name]: kind for name, kind in [
        ("x", "data"), ("y", "data"), ("w", "parameter"), ("b", "parameter"),
        ("linear", "operation"), ("sigmoid", "operation"), ("square", "operation"),
        ("loss", "loss"),
    ]}
    for node, kind in kinds.items():
        assert digraph.nodes[node]["kind"] == kind, node.name
    others = [node for node in graph if node not in kinds]
    assert [digraph.nodes[node]["kind"] for node in others] == ["constant", "operation"]


def test_to_networkx_shapes_before_and_after_forward():
    graph, nodes = small_graph()
    digraph = fw.to_networkx(graph)
    assert digraph.nodes[nodes["x"]]["shape"] == (4, 3)
    assert digraph.nodes[nodes["b"]]["shape"] == (2,)
    assert digraph.nodes[nodes["linear"]]["shape"] is None  # no value before forward
    fw.forward(graph)
    digraph = fw.to_networkx(graph)
    for node in graph:
        assert digraph.nodes[node]["shape"] == np.shape(node.value), node.name
    assert digraph.nodes[nodes["square"]]["shape"] == (4, 2)
    assert digraph.nodes[nodes["loss"]]["shape"] == ()


def label_positions(ax):
    return {text.get_text(): text.get_position() for text in ax.texts}


@pytest.mark.parametrize("options", [{}, {"show_order": True}, {"backward": True},
                                     {"backward": True, "show_order": True, "title": "t"}])
def test_draw_graph_returns_axes_with_every_node_labelled(options):
    graph, nodes = small_graph()
    fw.forward(graph)
    figures = len(plt.get_fignums())
    ax = fw.draw_graph(graph, **options)
    assert isinstance(ax, Axes)
    assert len(plt.get_fignums()) == figures + 1
    labels = label_positions(ax)
    assert len(labels) == len(graph)
    for node in graph:
        assert any(node.name in label for label in labels), node.name
    if options.get("show_order"):
        numbers = sorted(int(label.split(".")[0]) for label in labels)
        assert numbers == list(range(1, len(graph) + 1))
    # Layers run left to right: the inputs sit left of the loss.
    x_of = {label.split("\n")[0].split(". ")[-1]: pos[0] for label, pos in labels.items()}
    assert x_of["x"] < x_of["linear"] < x_of["sigmoid"] < x_of["loss"]


def test_draw_graph_shows_shapes_once_values_exist():
    graph, _ = small_graph()
    fw.forward(graph)
    labels = label_positions(fw.draw_graph(graph))
    assert "linear\n(4, 2)" in labels and "x\n(4, 3)" in labels
    labels = label_positions(fw.draw_graph(graph, show_shapes=False))
    assert "linear" in labels and "x" in labels


def test_draw_graph_uses_the_axes_it_is_given():
    graph, _ = small_graph()
    fig, ax = plt.subplots()
    assert fw.draw_graph(graph, ax=ax) is ax
    assert plt.get_fignums() == [fig.number]


class TeachingNode:
    """The kind of bare node a notebook builds before it meets framework.Node."""

    def __init__(self, name, inputs=(), value=None):
        self.name, self.inputs, self.value = name, list(inputs), value


def test_draw_graph_accepts_teaching_nodes():
    a, b = TeachingNode("a", value=1.0), TeachingNode("b", value=2.0)
    b.kind = "parameter"
    total = TeachingNode("a+b", inputs=[a, b])
    digraph = fw.to_networkx([a, b, total])
    assert set(digraph.edges) == {(a, total), (b, total)}
    assert digraph.nodes[a]["kind"] == "operation" and digraph.nodes[b]["kind"] == "parameter"
    assert isinstance(fw.draw_graph([a, b, total]), Axes)



def test_unnamed_constants_are_labelled_by_their_value_or_shape():
    a, t = fw.Parameter("a"), fw.Input("t")
    fw.MSE(2 * a - np.ones((1, 3)), t)
    graph = fw.topological_sort({a: np.zeros((2, 3)), t: np.zeros((2, 3))})
    digraph = fw.to_networkx(graph)
    constants = sorted(d["name"] for _, d in digraph.nodes(data=True) if d["kind"] == "constant")
    assert constants == ["2", "constant(1, 3)"]


def test_drawing_refuses_an_empty_graph_and_takes_unknown_kinds():
    with pytest.raises(ValueError, match="empty graph"):
        fw.draw_graph([])
    x = fw.Input("x")
    odd = fw.Sigmoid(x, name="odd")
    odd.kind = "something new"  # a learner's own kind of node
    ax = fw.draw_graph(fw.topological_sort({x: np.zeros((1, 1))}))
    labels = {text.get_text() for text in ax.texts}
    assert any(label.startswith("odd") for label in labels)
