"""The forward and backward passes: what ends up in ``gradients``, and what must not."""

import numpy as np
import pytest

import framework as fw


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def classifier(with_prediction_sink, seed=0):
    """Logits = x W + b and a softmax cross-entropy loss; optionally also a Sigmoid of the
    logits, a second sink that is not on the way to the loss. Returns the order and the
    nodes by name."""
    rng = np.random.default_rng(seed)
    x, labels = fw.Input("x"), fw.Input("labels")
    w, b = fw.Parameter("w"), fw.Parameter("b")
    logits = fw.Linear(x, w, b, name="logits")
    if with_prediction_sink:
        fw.Sigmoid(logits, name="prediction")
    fw.SoftmaxCrossEntropy(logits, labels, name="loss")
    graph = fw.topological_sort({
        x: rng.standard_normal((5, 4)), labels: np.array([0, 2, 1, 2, 0]),
        w: rng.standard_normal((4, 3)), b: rng.standard_normal(3),
    })
    return graph, {node.name: node for node in graph}


def test_backward_twice_gives_the_same_gradients():
    graph, nodes = classifier(with_prediction_sink=False)
    w, b = nodes["w"], nodes["b"]
    fw.forward(graph)
    fw.backward(graph)
    first = {node: node.gradients[node].copy() for node in (w, b)}
    fw.backward(graph)
    for node, grad in first.items():
        np.testing.assert_array_equal(node.gradients[node], grad, err_msg=node.name)


def test_gradients_match_the_hand_formula_and_have_the_parameters_shapes():
    graph, nodes = classifier(with_prediction_sink=False)
    x, w, b, labels = (nodes[name].value for name in ("x", "w", "b", "labels"))
    fw.run_steps(graph)
    # G = ∂L/∂logits = (softmax - onehot) / B;  ∂L/∂W = xᵀ G;  ∂L/∂b = Σ_rows G
    g = softmax(x @ w + b)
    g[np.arange(5), labels.astype(int)] -= 1.0
    g /= 5
    w_grad, b_grad = nodes["w"].gradients[nodes["w"]], nodes["b"].gradients[nodes["b"]]
    assert w_grad.shape == w.shape == (4, 3)
    assert b_grad.shape == b.shape == (3,)
    np.testing.assert_allclose(w_grad, x.T @ g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b_grad, g.sum(axis=0), rtol=1e-12, atol=1e-15)


def test_a_prediction_sink_does_not_pollute_the_gradients():
    graph, nodes = classifier(with_prediction_sink=True)
    assert graph[-1] is nodes["loss"]
    fw.run_steps(graph)
    assert nodes["prediction"].gradients == {}  # never reached from the loss
    plain_graph, plain = classifier(with_prediction_sink=False)
    fw.run_steps(plain_graph)
    for name in ("w", "b"):
        np.testing.assert_array_equal(nodes[name].gradients[nodes[name]],
                                      plain[name].gradients[plain[name]], err_msg=name)


def test_an_explicit_loss_works_when_a_prediction_sorts_last():
    rng = np.random.default_rng(1)
    x, labels = fw.Input("x"), fw.Input("labels")
    w, b = fw.Parameter("w"), fw.Parameter("b")
    logits = fw.Linear(x, w, b, name="logits")
    loss = fw.SoftmaxCrossEntropy(logits, labels, name="loss")
    fw.Sigmoid(logits, name="prediction")  # built after the loss, so it sorts last
    graph = fw.topological_sort({
        x: rng.standard_normal((5, 4)), labels: np.array([0, 2, 1, 2, 0]),
        w: rng.standard_normal((4, 3)), b: rng.standard_normal(3),
    })
    assert graph[-1].name == "prediction"
    fw.forward(graph)
    with pytest.raises(ValueError, match="prediction"):
        fw.backward(graph)  # the last node is not a scalar: refused, not misread as the loss
    fw.run_steps(graph, loss=loss)
    g = softmax(x.value @ w.value + b.value)
    g[np.arange(5), labels.value.astype(int)] -= 1.0
    np.testing.assert_allclose(w.gradients[w], x.value.T @ g / 5, rtol=1e-12, atol=1e-15)


def test_a_loss_outside_the_graph_is_refused():
    graph, _ = classifier(with_prediction_sink=False)
    stranger = fw.MSE(fw.Parameter("p"), fw.Input("t"), name="stranger")
    with pytest.raises(ValueError, match="stranger.*not a node of this graph"):
        fw.backward(graph, loss=stranger)


def test_no_gradients_toward_data_or_constants():
    x, t, p = fw.Input("x"), fw.Input("t"), fw.Parameter("p")
    fw.MSE(2.0 * (x * p) - np.ones(3), t)  # constants on both sides of the operators
    graph = fw.topological_sort({x: np.array([1.0, 2.0, 3.0]), t: np.zeros(3),
                                 p: np.array([0.1, 0.2, 0.3])})
    fw.run_steps(graph)
    skipped = [node for node in graph if node.kind in ("data", "constant")]
    assert {node.kind for node in skipped} == {"data", "constant"}
    for node in graph:
        for target in node.gradients:
            assert target not in skipped, f"{node.name} sent a gradient to {target.name}"
    assert all(node.gradients == {} for node in skipped)
    assert p.gradients[p].shape == (3,)


def test_linear_sends_no_gradient_toward_its_data_input():
    graph, nodes = classifier(with_prediction_sink=False)
    fw.run_steps(graph)
    assert set(nodes["logits"].gradients) == {nodes["w"], nodes["b"]}
    assert nodes["x"].gradients == {}


def test_fan_out_adds_the_gradients_of_both_uses():
    # L = mean((p² + p - t)²)  =>  ∂L/∂p = 2 (p² + p - t) (2p + 1) / n
    p, t = fw.Parameter("p"), fw.Input("t")
    fw.MSE(p * p + p, t)
    p_value, t_value = np.array([0.5, -1.5, 2.0]), np.array([1.0, 0.0, -1.0])
    graph = fw.topological_sort({p: p_value, t: t_value})
    fw.run_steps(graph)
    expected = 2 * (p_value**2 + p_value - t_value) * (2 * p_value + 1) / 3
    np.testing.assert_allclose(p.gradients[p], expected, rtol=1e-12)


def test_a_forward_only_step_leaves_the_gradients_alone():
    graph, nodes = classifier(with_prediction_sink=False)
    fw.run_steps(graph)
    w = nodes["w"]
    before, loss_before = w.gradients[w].copy(), float(graph[-1].value)
    nodes["x"].value = nodes["x"].value * 2  # a new batch: a new loss, no new gradients
    fw.run_steps(graph, train=False)
    assert float(graph[-1].value) != loss_before
    np.testing.assert_array_equal(w.gradients[w], before)


def test_backward_works_on_an_order_made_by_hand():
    """A learner's own sort (here depth-first from the loss) gives the same gradients, also
    for a node made trainable after the graph was sorted."""
    x, w, y = fw.Input("x"), fw.Parameter("w"), fw.Input("y")
    loss = fw.MSE(x * w, y)
    x.value, w.value, y.value = np.ones(3), np.ones(3), np.zeros(3)
    by_hand = [x, w, loss.inputs[0], y, loss]
    fw.forward(by_hand)
    fw.backward(by_hand)
    # d/dw mean((x w - y)²) = 2 (x w - y) x / n = 2/3 for every element
    np.testing.assert_allclose(w.gradients[w], np.full(3, 2 / 3))
    fw.topological_sort({x: np.ones(3), w: np.ones(3), y: np.zeros(3)})
    x.is_trainable = True  # changed after sorting: a plain list is marked again
    fw.forward(by_hand)
    fw.backward(by_hand)
    np.testing.assert_allclose(x.gradients[x], np.full(3, 2 / 3))


def test_gradient_check_takes_the_loss_when_another_node_sorts_last():
    x, w, y = fw.Input("x"), fw.Parameter("w"), fw.Input("y")
    product = x * w
    loss = fw.MSE(product, y)
    fw.Sigmoid(product, name="prediction")  # built after the loss, so it sorts last
    rng = np.random.default_rng(3)
    graph = fw.topological_sort({x: rng.normal(size=4), w: rng.normal(size=4),
                                 y: rng.normal(size=4)})
    assert graph[-1].name == "prediction"
    with pytest.raises(ValueError, match="single number"):
        fw.numerical_gradient(graph, w)
    errors = fw.gradient_check(graph, loss=loss)
    assert errors["w"] < 1e-7
    numeric = fw.numerical_gradient(graph, w, loss=loss)
    np.testing.assert_allclose(numeric, 2 * (x.value * w.value - y.value) * x.value / 4,
                               rtol=1e-6)


def test_a_trainable_the_loss_ignores_gets_a_zero_gradient():
    x, y = fw.Input("x"), fw.Input("y")
    w, unused = fw.Parameter("w"), fw.Parameter("unused")
    fw.Sigmoid(x * unused, name="side_output")
    fw.MSE(x * w, y)
    # Fed in this order, the side output is ready before the loss, so the loss comes last.
    graph = fw.topological_sort({unused: np.ones((2, 3)), x: np.ones((2, 3)),
                                 w: np.ones((2, 3)), y: np.zeros((2, 3))})
    assert graph[-1].kind == "loss"
    fw.run_steps(graph)
    np.testing.assert_array_equal(unused.gradients[unused], np.zeros((2, 3)))
    assert graph[-2].gradients == {}  # the side output itself is not visited


def test_placeholders_say_what_they_are():
    x, w, fed = fw.Input("x"), fw.Parameter("w"), fw.Placeholder("p", is_trainable=False)
    assert (repr(x), repr(w), repr(fed)) == ("Input('x')", "Parameter('w')", "Placeholder('p')")
    assert all(isinstance(node, fw.Placeholder) for node in (x, w, fed))
    assert (x.kind, w.kind, fed.kind) == ("data", "parameter", "data")
    assert (x.is_trainable, w.is_trainable) == (False, True)
