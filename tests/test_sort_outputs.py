"""``topological_sort(feed_dict, outputs=...)``: only the outputs and what they need.

The case it exists for: two graphs built on one ``L.Sequential``, a training graph (a batch,
its labels, a loss) and a graph that predicts one example. Without ``outputs`` the sort of
either walks through the shared parameters into the other, whose input was not fed, and the
forward pass's error says to pass ``outputs=``; with it, each graph trains and predicts on its
own, checked against the model written out in NumPy (batch normalization by PyTorch's
formulas, gradients by central differences of that NumPy loss). Then the rest of the package
with such an order (backward's default loss, needs_gradient, drawings, optimizers), random
DAGs against networkx's ancestors, and bad outputs, refused before anything is fed.
"""

import itertools

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest
from helpers import assert_names
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sort import build, dag_specs, reference_digraph

import framework as fw
from framework import layers as L

EPS = 1e-5  # batch normalization's ε
MOMENTUM = 0.1


class TwoGraphs:
    """A model, its training graph (x, labels y, loss) and a prediction graph (x1, pred) on
    the same layers. Nothing is sorted yet."""

    def __init__(self, seed=0, batch=6):
        rng = np.random.default_rng(seed)
        self.model = L.Sequential(L.Linear(4, 5, rng=rng), L.BatchNorm1d(5), L.ReLU(),
                                  L.Linear(5, 3, rng=rng))
        self.model[1].weight.value = rng.normal(1.0, 0.2, 5)  # γ and β away from 1 and 0
        self.model[1].bias.value = rng.normal(0.0, 0.2, 5)
        self.x, self.y = fw.Input("x"), fw.Input("y")
        self.logits = self.model(self.x)
        self.loss = fw.SoftmaxCrossEntropy(self.logits, self.y, name="loss")
        self.x1 = fw.Input("x1")
        self.pred = self.model(self.x1)
        self.X = rng.normal(1.0, 2.0, (batch, 4))
        self.labels = np.arange(batch) % 3

    def train_order(self):
        return fw.topological_sort({self.x: self.X, self.y: self.labels}, outputs=[self.loss])

    def params(self):
        return {name: node.value.copy() for name, node in self.model.named_parameters().items()}


# The same model in NumPy: PyTorch's batch normalization, softmax cross-entropy.

def numpy_forward(p, x, training, running=None):
    """Logits of x; in training, batch statistics (biased variance), else ``running``."""
    a = x @ p["0.weight"] + p["0.bias"]
    if training:
        mean, var = a.mean(axis=0), a.var(axis=0)
    else:
        mean, var = running
    h = np.maximum(p["1.weight"] * (a - mean) / np.sqrt(var + EPS) + p["1.bias"], 0.0)
    return h @ p["3.weight"] + p["3.bias"]


def numpy_loss(p, x, labels):
    z = numpy_forward(p, x, training=True)
    z = z - z.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels].mean()


def numpy_gradients(p, x, labels, eps=1e-6):
    """Central differences of numpy_loss, entry by entry."""
    grads = {}
    for name, value in p.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up, down = dict(p), dict(p)
            up[name], down[name] = value.copy(), value.copy()
            up[name][index] += eps
            down[name][index] -= eps
            grad[index] = (numpy_loss(up, x, labels) - numpy_loss(down, x, labels)) / (2 * eps)
        grads[name] = grad
    return grads


def ancestors(node):
    """The node and every node it is computed from, by a walk of the test's own."""
    seen, stack = {node}, [node]
    while stack:
        for i in stack.pop().inputs:
            if i not in seen:
                seen.add(i)
                stack.append(i)
    return seen


def assert_inputs_first(order):
    position = {node: k for k, node in enumerate(order)}
    for node in order:
        for i in node.inputs:
            assert position[i] < position[node], f"{i.name} comes after {node.name}"


# Two graphs on one model.

def test_without_outputs_the_other_graphs_input_is_named_with_the_way_out():
    g = TwoGraphs()
    graph = fw.topological_sort({g.x: g.X, g.y: g.labels})
    assert g.x1 in graph and g.pred in graph  # today's walk: every connected node
    with pytest.raises(ValueError) as error:
        fw.forward(graph)
    assert_names(error, "Input('x1') has no value", "not needed by loss", "another graph",
                 "outputs=[loss]")


def test_an_input_every_end_node_needs_keeps_the_plain_message():
    """A forgotten input of this very graph: feeding it is the fix, not outputs=."""
    x, w = fw.Input("x"), fw.Parameter("w")
    fw.Sum(x * w, name="loss")
    graph = fw.topological_sort({w: np.ones(2)})
    with pytest.raises(ValueError) as error:
        fw.forward(graph)
    assert_names(error, "Input('x') has no value: feed it")
    assert "outputs=" not in str(error.value)


def test_with_outputs_the_order_is_the_loss_and_what_it_needs():
    g = TwoGraphs()
    graph = g.train_order()
    assert set(graph) == ancestors(g.loss)
    assert len(graph) == len(set(graph))
    assert g.x1 not in graph and g.pred not in graph
    assert_inputs_first(graph)
    assert graph[:2] == [g.x, g.y]  # the fed nodes first, as given
    # then the parameters, in the model's order (not the walk's, which goes backward)
    assert graph[2:8] == g.model.parameters()
    assert graph[-1] is g.loss and graph.end_nodes == [g.loss]
    assert graph.outputs == [g.loss] and graph.sources == graph[:8]
    assert isinstance(graph, fw.sort.Order) and graph.as_sorted


def test_the_training_graph_computes_the_numpy_loss_and_its_gradients():
    g = TwoGraphs()
    graph = g.train_order()
    p = g.params()
    fw.forward(graph)
    assert g.loss.value == pytest.approx(numpy_loss(p, g.X, g.labels), rel=1e-12)
    fw.backward(graph)  # the default loss: the order's one end node
    expected = numpy_gradients(p, g.X, g.labels)
    for name, node in g.model.named_parameters().items():
        np.testing.assert_allclose(node.gradients[node], expected[name], rtol=1e-5,
                                   atol=1e-8, err_msg=name)
    # The running statistics moved once, with this batch: the other graph did not run.
    a = g.X @ p["0.weight"] + p["0.bias"]
    np.testing.assert_allclose(g.model[1].running_mean, MOMENTUM * a.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(g.model[1].running_var,
                               1 - MOMENTUM + MOMENTUM * a.var(axis=0, ddof=1), rtol=1e-12)
    assert g.pred.value is None


def test_train_then_predict_one_example_in_evaluation():
    g = TwoGraphs()
    graph, optimizer = g.train_order(), fw.SGD(0.5)
    losses = []
    for _ in range(30):
        fw.forward(graph)
        losses.append(float(g.loss.value))
        fw.backward(graph)
        optimizer.step(graph)
    assert losses[-1] < 0.5 * losses[0]
    g.model.eval()
    example = g.X[2:3]
    predict = fw.topological_sort({g.x1: example}, outputs=g.pred)  # one node, not a list
    assert set(predict) == ancestors(g.pred) and predict[-1] is g.pred
    fw.forward(predict)
    running = (g.model[1].running_mean, g.model[1].running_var)
    expected = numpy_forward(g.params(), example, training=False, running=running)
    np.testing.assert_allclose(g.pred.value, expected, rtol=1e-12)
    # In evaluation each row depends on its example only: the batch agrees row by row.
    fw.forward(graph)
    np.testing.assert_allclose(g.logits.value[2:3], g.pred.value, rtol=1e-12)


def test_predicting_between_forward_and_backward_changes_no_gradient():
    g = TwoGraphs()
    graph = g.train_order()
    g.x1.value = g.X[:1]
    predict = fw.topological_sort({g.x1: g.X[:1]}, outputs=[g.pred])
    fw.forward(graph)
    fw.backward(graph)
    alone = {node: node.gradients[node].copy() for node in g.model.parameters()}
    g.model.eval()
    fw.forward(predict)  # the prediction graph runs, in evaluation...
    g.model.train()
    fw.forward(graph)
    g.model.eval()
    fw.forward(predict)  # ...between the training graph's passes too
    g.model.train()
    fw.backward(graph)
    for node, grad in alone.items():
        np.testing.assert_allclose(node.gradients[node], grad, rtol=1e-12, err_msg=node.name)
    fw.SGD(0.1).step(graph)  # the gradients are this graph's own: the step takes them


def test_needs_gradient_marks_only_the_data_as_needing_none():
    g = TwoGraphs()
    graph = g.train_order()
    assert [node for node in graph if not node.needs_gradient] == [g.x, g.y]


def test_drawings_show_the_order_and_nothing_of_the_other_graph():
    g = TwoGraphs()
    graph = g.train_order()
    fw.forward(graph)
    fw.backward(graph)
    digraph = fw.to_networkx(graph)
    assert set(digraph.nodes) == set(graph)
    assert set(digraph.edges) == {(i, node) for node in graph for i in node.inputs}
    assert digraph.nodes[g.loss]["order"] == len(graph) - 1
    first = g.model[0].weight
    np.testing.assert_array_equal(digraph.nodes[first]["grad"], first.gradients[first])
    ax = fw.draw_graph(graph, show=("value", "grad"))
    labels = [text.get_text() for text in ax.texts]
    assert any("loss" in label for label in labels)
    assert not any("x1" in label for label in labels)
    plt.close("all")


def test_two_outputs_make_one_order_holding_both_graphs():
    g = TwoGraphs()
    # Two examples for x1: both graphs run in training, and batch norm needs a batch.
    both = fw.topological_sort({g.x: g.X, g.y: g.labels, g.x1: g.X[:2]},
                               outputs=(g.loss, g.pred, g.loss))
    assert set(both) == ancestors(g.loss) | ancestors(g.pred)
    assert both.outputs == [g.loss, g.pred]  # given twice, kept once
    assert set(both.end_nodes) == {g.loss, g.pred}
    assert_inputs_first(both)
    fw.forward(both)
    fw.backward(both, loss=g.loss)
    assert g.loss.value == pytest.approx(numpy_loss(g.params(), g.X, g.labels), rel=1e-12)


def test_an_intermediate_output_stops_the_order_there():
    g = TwoGraphs()
    hidden = g.logits.inputs[0].inputs[0]  # the ReLU's output
    order = fw.topological_sort({g.x: g.X}, outputs=[hidden])
    assert set(order) == ancestors(hidden) and order[-1] is hidden
    assert g.y not in order
    fw.forward(order)


def test_a_node_fed_but_not_needed_is_fed_and_left_out():
    g = TwoGraphs()
    order = fw.topological_sort({g.x1: g.X[:1], g.x: g.X, g.y: g.labels}, outputs=[g.loss])
    assert g.x1 not in order
    np.testing.assert_array_equal(g.x1.value, g.X[:1])
    assert order[:2] == [g.x, g.y]


def test_an_edited_order_is_checked_again_as_a_list_made_by_hand():
    g = TwoGraphs()
    graph = g.train_order()
    graph.append(fw.Negate(g.loss))  # still every input first
    assert not graph.as_sorted
    fw.forward(graph)
    fw.backward(graph, loss=g.loss)
    graph.insert(0, graph.pop())  # now not
    with pytest.raises(ValueError, match="comes after it"):
        fw.forward(graph)


# Random DAGs: the order is exactly the outputs' ancestors, each node after its inputs.

@settings(max_examples=60, deadline=None)
@given(spec=dag_specs(), data=st.data())
def test_random_dags_against_networkx_ancestors(spec, data):
    inputs, fed = spec
    nodes = build(inputs)
    chosen = data.draw(st.lists(st.integers(0, len(nodes) - 1), min_size=1, max_size=3))
    valued = data.draw(st.sets(st.sampled_from(range(len(nodes)))))
    for i, node in enumerate(nodes):  # some sources that are not fed hold a value already
        if not node.inputs and i in valued and i not in fed:
            node.value = np.array(0.5)
    reference = reference_digraph(inputs)
    needed = set().union(*({c} | nx.ancestors(reference, c) for c in chosen))
    unfed = [i for i in needed if not inputs[i] and i not in fed and nodes[i].value is None]
    unreachable = [c for c in chosen
                   if not ({c} | nx.ancestors(reference, c)) & set(fed)]
    feed = {nodes[i]: 1.0 for i in fed}
    outputs = [nodes[c] for c in chosen]
    if unfed or unreachable:
        with pytest.raises(ValueError) as error:
            fw.topological_sort(feed, outputs=outputs)
        message = str(error.value)
        if unfed:
            assert any(f"{nodes[i]!r}, which is not in feed_dict" in message for i in unfed)
        else:
            first = next(c for c in dict.fromkeys(chosen) if c in unreachable)
            assert f"{nodes[first]!r} is not computed from any node of feed_dict" in message
        assert all(nodes[i].value is None for i in fed)  # nothing was fed
        return
    order = fw.topological_sort(feed, outputs=outputs)
    index = {node: i for i, node in enumerate(nodes)}
    assert {index[node] for node in order} == needed and len(order) == len(needed)
    assert_inputs_first(order)
    fed_needed = [nodes[i] for i in fed if i in needed]
    assert order[:len(fed_needed)] == fed_needed
    assert set(order.end_nodes) == {node for node in order
                                     if not any(o in set(order) for o in node.outputs)}
    again = fw.topological_sort(feed, outputs=outputs)
    assert list(again) == list(order)  # the same graph, the same order


def test_a_cycle_the_outputs_need_is_named_and_one_they_do_not_is_ignored():
    x = fw.Input("x")
    a = fw.Negate(x, name="a")
    b = fw.Negate(a, name="b")
    ring = fw.Negate(x, name="ring")
    ring.inputs.append(ring)  # a self-loop, linked by hand
    ring.outputs.append(ring)
    order = fw.topological_sort({x: 1.0}, outputs=[b])
    assert list(order) == [x, a, b]
    with pytest.raises(ValueError, match="cycle") as error:
        fw.topological_sort({x: 1.0}, outputs=[ring])
    assert "ring -> ring" in str(error.value)


def test_a_stray_link_is_named_as_in_the_full_sort():
    x = fw.Input("x")
    out = fw.Negate(x, name="out")
    out.inputs.append("not a node")
    with pytest.raises(TypeError) as error:
        fw.topological_sort({x: 1.0}, outputs=[out])
    assert_names(error, "Negate('out')", "'not a node'")


# Bad outputs: refused before anything is fed.

@pytest.mark.parametrize("outputs, error_type, texts", [
    ("loss", TypeError, ["outputs=", "a node or a list of nodes", "'loss'"]),
    ({"a"}, TypeError, ["outputs=", "set"]),
    ([], ValueError, ["outputs= is empty", "outputs=[loss]"]),
    (lambda g: [g.loss, "pred"], TypeError, ["outputs[1]", "'pred'", "not a node"]),
    (lambda g: [None], TypeError, ["outputs[0]", "None"]),
    (lambda g: [g.model], TypeError, ["outputs[0]", "Sequential layer", "out = layer(x)"]),
    (lambda g: [g.model[3]], TypeError, ["Linear layer '3'"]),
])
def test_outputs_that_are_not_nodes_are_refused(outputs, error_type, texts):
    g = TwoGraphs()
    outputs = outputs(g) if callable(outputs) else outputs
    with pytest.raises(error_type) as error:
        fw.topological_sort({g.x: g.X, g.y: g.labels}, outputs=outputs)
    assert_names(error, "topological_sort", *texts)
    assert g.x.value is None and g.y.value is None


def test_an_output_needing_an_input_that_was_not_fed_is_refused():
    g = TwoGraphs()
    with pytest.raises(ValueError) as error:
        fw.topological_sort({g.x: g.X, g.y: g.labels}, outputs=[g.loss, g.pred])
    assert_names(error, "topological_sort", "Linear('3')", "needs Input('x1')",
                 "not in feed_dict and has no value", "{x1: array}", "nothing was fed")
    assert g.x.value is None  # nothing fed


def test_an_output_computed_from_no_fed_node_is_refused():
    g = TwoGraphs()
    g.x1.value = g.X[:1]  # a value from before, but this feed does not change it
    with pytest.raises(ValueError) as error:
        fw.topological_sort({g.x: g.X}, outputs=[g.pred])
    assert_names(error, "topological_sort", "Linear('3') is not computed from any node of "
                 "feed_dict (x)", "(x1)", "nothing was fed")
    assert g.x.value is None
    with pytest.raises(ValueError) as error:
        fw.topological_sort({}, outputs=[g.pred])
    assert_names(error, "feed_dict (empty)")


def test_a_bad_feed_is_refused_as_without_outputs():
    g = TwoGraphs()
    with pytest.raises(TypeError, match="feed_dict keys must be nodes"):
        fw.topological_sort({"x": g.X}, outputs=[g.loss])
    with pytest.raises(TypeError, match="takes a dict"):
        fw.topological_sort([g.x], outputs=[g.loss])
    with pytest.raises(TypeError, match="not numeric|dtype"):
        fw.topological_sort({g.x: g.X, g.y: ["a"] * 6}, outputs=[g.loss])
    assert g.x.value is None


def test_an_unfed_parameter_without_a_value_is_named():
    x, w = fw.Input("x"), fw.Parameter("w")
    loss = fw.Sum(x * w, name="loss")
    with pytest.raises(ValueError) as error:
        fw.topological_sort({x: np.ones(2)}, outputs=[loss])
    assert_names(error, "Sum('loss') needs Parameter('w')", "has no value")


def test_sources_are_fed_first_then_in_the_order_they_were_made():
    x = fw.Input("x")
    later, earlier = fw.Parameter("later"), fw.Parameter("earlier")
    later.value, earlier.value = np.ones(2), np.ones(2)
    out = fw.Sum(x * earlier + x * later)  # used in the other order than made
    order = fw.topological_sort({x: np.ones(2)}, outputs=[out])
    assert order[:3] == [x, later, earlier]
    for a, b in itertools.pairwise(order[1:3]):
        assert a.id < b.id
