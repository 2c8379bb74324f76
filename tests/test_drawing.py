"""to_networkx mirrors the graph's own links; draw_graph draws it headless and returns the axes."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgb

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


# Values and gradients in the labels. A scalar graph worked out by hand, with a = 1/3, x = 2:
#   p = a·x = 2/3,  s = p·p = 4/9 (the loss; p is used twice),  side = -a (not on the loss path)
#   ∂s/∂s = 1,  ∂s/∂p = 2p = 4/3,  ∂s/∂a = ∂s/∂p · x = 8/3;  x is data: no gradient.
#   u = 0.5 is a parameter the loss ignores: backward gives it a zero gradient.
HAND_VALUES = {"a": "0.333", "x": "2", "p": "0.667", "s": "0.444", "side": "-0.333", "u": "0.5"}
HAND_GRADS = {"a": "2.67", "x": "—", "p": "1.33", "s": "1", "side": "—", "u": "0"}


def scalar_graph():
    a, x, u = fw.Parameter("a"), fw.Input("x"), fw.Parameter("u")
    p = fw.Multiply(a, x, name="p")
    s = fw.Multiply(p, p, name="s")
    fw.Negate(a, name="side")
    graph = fw.topological_sort({a: 1 / 3, x: 2.0, u: 0.5})
    fw.forward(graph)
    return graph, s


def texts(ax):
    return {text.get_text() for text in ax.texts}


def test_labels_show_values_to_3_significant_digits():
    graph, _ = scalar_graph()
    labels = texts(fw.draw_graph(graph, show="value"))
    assert labels == {f"{name}\nvalue {value}" for name, value in HAND_VALUES.items()}


def test_labels_show_the_gradients_the_backward_pass_stored():
    graph, loss = scalar_graph()
    fw.backward(graph, loss)
    labels = texts(fw.draw_graph(graph, show="grad"))
    assert labels == {f"{name}\ngrad {grad}" for name, grad in HAND_GRADS.items()}


def test_labels_show_values_and_gradients_in_the_order_asked():
    graph, loss = scalar_graph()
    fw.backward(graph, loss)
    labels = texts(fw.draw_graph(graph, show=("value", "grad"), show_order=True))
    number = [node.name for node in graph].index("p") + 1
    assert f"{number}. p\nvalue 0.667\ngrad 1.33" in labels
    labels = texts(fw.draw_graph(graph, show=["grad", "value"]))
    assert "p\ngrad 1.33\nvalue 0.667" in labels


def test_no_gradient_before_backward_is_a_dash_not_a_crash():
    graph, _ = scalar_graph()
    labels = texts(fw.draw_graph(graph, show="grad"))
    assert labels == {f"{name}\ngrad —" for name in HAND_GRADS}
    graph, _ = small_graph()  # not even a forward pass: no values either
    labels = texts(fw.draw_graph(graph, show=("value", "grad")))
    assert "linear\nvalue —\ngrad —" in labels


def test_summarize_numbers_to_3_significant_digits():
    assert fw.drawing.summarize(None) == "—"
    assert fw.drawing.summarize(np.float64(0.012345)) == "0.0123"
    assert fw.drawing.summarize(1234.5) == "1.23e+03"
    assert fw.drawing.summarize(np.array([[-7.0]])) == "-7"  # size 1: a number, not a shape
    assert fw.drawing.summarize(np.array(2 / 3)) == "0.667"


def test_summarize_arrays_by_shape_mean_and_largest_magnitude():
    # mean (1 - 4 + 2 + 3.5) / 4 = 0.625; the largest magnitude is |-4| = 4
    assert fw.drawing.summarize(np.array([[1.0, -4.0], [2.0, 3.5]])) == (
        "(2, 2)\nmean 0.625 |max| 4")
    assert fw.drawing.summarize(np.arange(1000.0)) == "(1000,)\nmean 500 |max| 999"


def test_array_gradients_in_labels():
    # L = mean(a²) over 4 elements, so ∂L/∂a = 2a/4 = a/2 = [[0.5, 1], [1.5, 2]]: mean 1.25.
    a, y = fw.Parameter("a"), fw.Input("y")
    fw.MSE(a, y, name="L")
    graph = fw.topological_sort({a: [[1.0, 2.0], [3.0, 4.0]], y: np.zeros((2, 2))})
    fw.forward(graph)
    fw.backward(graph)
    labels = texts(fw.draw_graph(graph, show=("value", "grad")))
    assert "a\nvalue (2, 2)\nmean 2.5 |max| 4\ngrad (2, 2)\nmean 1.25 |max| 2" in labels
    assert "L\nvalue 7.5\ngrad 1" in labels  # mean(1, 4, 9, 16) = 7.5


def test_to_networkx_has_values_and_gradients():
    graph, loss = scalar_graph()
    nodes = {node.name: node for node in graph}
    digraph = fw.to_networkx(graph)
    for node in graph:
        assert digraph.nodes[node]["value"] is node.value
        assert digraph.nodes[node]["grad"] is None  # no backward yet
    fw.backward(graph, loss)
    digraph = fw.to_networkx(graph)
    grads = {name: digraph.nodes[node]["grad"] for name, node in nodes.items()}
    assert grads["x"] is None and grads["side"] is None
    for name, expected in {"a": 8 / 3, "p": 4 / 3, "s": 1.0}.items():
        assert np.isclose(grads[name], expected), name
    assert {"name", "kind", "shape", "order"} <= set(digraph.nodes[nodes["p"]])


def test_gradient_of_a_node_used_by_two_outputs_is_their_sum():
    # h = a·a = 4 with a = 2, loss = h·b + h·c with b = 3, c = 5:
    # ∂loss/∂h = b + c = 8, sent by two outputs; ∂loss/∂a = 8 · 2a = 32
    a, b, c = fw.Parameter("a"), fw.Parameter("b"), fw.Parameter("c")
    h = fw.Multiply(a, a, name="h")
    fw.Add(fw.Multiply(h, b, name="hb"), fw.Multiply(h, c, name="hc"), name="total")
    graph = fw.topological_sort({a: 2.0, b: 3.0, c: 5.0})
    fw.forward(graph)
    fw.backward(graph)
    digraph = fw.to_networkx(graph)
    assert digraph.nodes[h]["grad"] == 8.0 and digraph.nodes[a]["grad"] == 32.0
    labels = texts(fw.draw_graph(graph, show="grad"))
    assert {"h\ngrad 8", "a\ngrad 32", "total\ngrad 1"} <= labels


def test_teaching_nodes_have_no_gradient_and_still_draw_their_values():
    a, b = TeachingNode("a", value=1.0), TeachingNode("b", value=np.float64(0.125))
    total = TeachingNode("a+b", inputs=[a, b])
    digraph = fw.to_networkx([a, b, total])
    assert [digraph.nodes[n]["grad"] for n in (a, b, total)] == [None, None, None]
    assert digraph.nodes[b]["value"] == 0.125
    labels = texts(fw.draw_graph([a, b, total], show=("value", "grad")))
    assert labels == {"a\nvalue 1\ngrad —", "b\nvalue 0.125\ngrad —", "a+b\nvalue —\ngrad —"}


@pytest.mark.parametrize("show", ["values", "gradient", "", ("value", "loss"), (), 3, True,
                                  ("value", ["grad"])])
def test_bad_show_values_are_refused_by_name(show):
    graph, _ = scalar_graph()
    with pytest.raises(ValueError, match="show must be None, 'value', 'grad' or"):
        fw.draw_graph(graph, show=show)


def outlines(ax):
    """Each node's label text mapped to the width of the outline of its circle."""
    (circles,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    widths = np.broadcast_to(circles.get_linewidths(), len(circles.get_offsets()))
    where = {tuple(np.round(xy, 6)): w for xy, w in zip(circles.get_offsets(), widths, strict=True)}
    return {t.get_text(): where[tuple(np.round(t.get_position(), 6))] for t in ax.texts}


@pytest.mark.parametrize("backward", [False, True])
def test_highlight_draws_one_node_with_a_thick_outline(backward):
    graph, _ = scalar_graph()
    nodes = {node.name: node for node in graph}
    widths = outlines(fw.draw_graph(graph, highlight=nodes["p"], backward=backward,
                                    show_shapes=False))
    thick = [label for label, width in widths.items() if width > 2]
    assert thick == ["p"]
    assert max(w for label, w in widths.items() if label != "p") <= 1
    assert max(outlines(fw.draw_graph(graph, show_shapes=False)).values()) <= 1


def test_highlight_outlines_a_label_too_wide_for_its_circle():
    graph, nodes = small_graph()
    fw.forward(graph)
    ax = fw.draw_graph(graph, show="value", highlight=nodes["linear"])
    (label,) = [t for t in ax.texts if t.get_text().startswith("linear")]
    patch = label.get_bbox_patch()
    assert patch is not None and patch.get_linewidth() >= 2
    assert patch.get_edgecolor()[:3] == pytest.approx(to_rgb(fw.drawing.HIGHLIGHT))


def test_highlight_must_be_a_node_of_the_graph():
    graph, _ = scalar_graph()
    with pytest.raises(ValueError, match="highlight must be a node of the graph"):
        fw.draw_graph(graph, highlight=fw.Input("stranger"))


def overlaps(ax):
    """Pairs of labels of ``ax`` whose boxes on the canvas overlap."""
    ax.figure.canvas.draw()
    boxes = [(t.get_text(), t.get_window_extent()) for t in ax.texts]
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
            if box_a.overlaps(box_b)]


def test_backward_frames_in_a_grid_of_small_axes_stay_legible():
    graph, _ = scalar_graph()
    for node in graph:
        node.gradients = {}
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    steps = [node for node in reversed(graph) if node.name in ("s", "p", "a")]  # the loss path
    for ax, node in zip(axes.flat, steps, strict=True):
        node.backward()
        assert fw.draw_graph(graph, ax=ax, show="grad", highlight=node, backward=True) is ax
        assert [label for label, w in outlines(ax).items() if w > 2] == [
            f"{node.name}\ngrad {HAND_GRADS[node.name]}"]
        assert overlaps(ax) == []
        assert all(5 <= t.get_fontsize() <= 8 for t in ax.texts)
    assert plt.get_fignums() == [fig.number]
    first = {t.get_text() for t in axes.flat[0].texts}
    assert first == {"s\ngrad 1", "side\ngrad —", "p\ngrad 1.33", "a\ngrad —", "x\ngrad —",
                     "u\ngrad —"}


def test_values_and_gradients_of_arrays_fit_a_figure_of_their_own():
    graph, nodes = small_graph()
    fw.forward(graph)
    fw.backward(graph)
    ax = fw.draw_graph(graph, show=("value", "grad"), show_order=True, highlight=nodes["w"])
    assert overlaps(ax) == []
    assert all(t.get_fontsize() >= 6 for t in ax.texts)
    own_size = ax.texts[0].get_fontsize()
    _, cells = plt.subplots(2, 3, figsize=(12, 6))
    ax = fw.draw_graph(graph, ax=cells[0, 0], show=("value", "grad"))
    assert all(5 <= t.get_fontsize() < own_size for t in ax.texts)  # shrunk to fit the cell


def test_draw_graph_refuses_a_whole_grid_of_axes_naming_it():
    graph = fw.topological_sort({fw.Input("x"): 1.0})
    fig, axes = plt.subplots(1, 2)
    try:
        for ax, shown in ((axes, "ndarray of shape \\(2,\\)"), (fig, "Figure")):
            with pytest.raises(TypeError, match=f"ax must be one matplotlib Axes, e.g. axes\\[0\\] "
                                                f"of plt.subplots\\(1, 2\\); got {shown}"):
                fw.draw_graph(graph, ax=ax)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("call", [fw.draw_graph, fw.to_networkx])
def test_drawing_names_what_is_not_a_node(call):
    x = fw.Input("x")
    with pytest.raises(TypeError, match=r"a graph to draw holds nodes \(with a name, inputs and "
                                        r"a value\); got 3 \(int\)"):
        call([x, 3])


def test_drawing_a_cycle_made_by_hand_names_it():
    a = fw.Input("a")
    b, c = fw.Negate(a, name="b"), None
    c = fw.Negate(b, name="c")
    b.inputs.append(c)  # links made by hand: b reads c, which reads b
    c.outputs.append(b)
    with pytest.raises(ValueError, match="the graph has a cycle, so it cannot be drawn in layers: "
                                         "(b -> c -> b|c -> b -> c)"):
        fw.draw_graph([a, b, c])
