"""Misuse of the graph API gets an error that names the node and says what was expected."""

import numpy as np
import pytest

import framework as fw


@pytest.mark.parametrize("make", [
    lambda x, w: fw.Tanh(x, name="target"),
    lambda x, w: fw.Linear(x, w, fw.Parameter("b"), name="target"),
])
def test_feeding_an_operation_is_refused(make):
    x, w = fw.Input("x"), fw.Parameter("w")
    op = make(x, w)
    with pytest.raises(TypeError, match=r"\('target'\) is an operation.*cannot be fed"):
        fw.topological_sort({x: np.ones((2, 2)), op: np.zeros((2, 2))})


def test_feeding_a_constant_is_refused():
    x = fw.Input("x")
    two = fw.Constant(2.0, name="two")
    x * two
    with pytest.raises(TypeError, match=r"Constant\('two'\).*placeholder"):
        fw.topological_sort({x: 1.0, two: 3.0})
    assert two.value == 2.0  # left as it was


@pytest.mark.parametrize("feed", [[], (), None, "x"], ids=["list", "tuple", "None", "str"])
def test_topological_sort_says_it_takes_a_dict(feed):
    with pytest.raises(TypeError, match=r"takes a dict \{node: value\}.*" + type(feed).__name__):
        fw.topological_sort(feed)


def two_losses():
    x, w = fw.Input("x"), fw.Parameter("w")
    first = fw.MSE(x * w, fw.Constant(np.zeros(3)), name="first")
    second = fw.MSE(x + w, fw.Constant(np.ones(3)), name="second")
    graph = fw.topological_sort({x: np.ones(3), w: np.ones(3)})
    fw.forward(graph)
    return graph, first, second


@pytest.mark.parametrize("call", [fw.backward, fw.run_steps, fw.gradient_check,
                                  lambda g: fw.numerical_gradient(g, g[1])],
                         ids=["backward", "run_steps", "gradient_check", "numerical_gradient"])
def test_two_scalar_end_nodes_and_no_loss_is_refused_naming_both(call):
    graph, _, _ = two_losses()
    with pytest.raises(ValueError, match="loss=") as error:
        call(graph)
    assert "'first'" in str(error.value) and "'second'" in str(error.value)


def test_two_losses_work_when_the_loss_is_named():
    graph, first, second = two_losses()
    w = graph[1]
    fw.backward(graph, loss=first)
    np.testing.assert_allclose(w.gradients[w], 2 * np.ones(3) / 3)  # d/dw mean((x w)²)
    fw.backward(graph, loss=second)
    np.testing.assert_allclose(w.gradients[w], 2 * np.ones(3) / 3)  # d/dw mean((x+w-1)²)


def test_a_prediction_beside_the_loss_needs_no_loss_argument():
    x, w, y = fw.Input("x"), fw.Parameter("w"), fw.Input("y")
    prediction = x * w
    fw.Sigmoid(prediction, name="probability")  # a non-scalar end node
    fw.MSE(prediction, y, name="loss")
    graph = fw.topological_sort({x: np.ones(3), w: np.ones(3), y: np.zeros(3)})
    fw.run_steps(graph)
    np.testing.assert_allclose(w.gradients[w], 2 * np.ones(3) / 3)


@pytest.mark.parametrize("half_link", [
    lambda p, b: b.inputs.append(p),  # p.outputs does not list b
    lambda p, b: p.outputs.append(b),  # b.inputs does not list p
], ids=["input without output", "output without input"])
def test_a_link_made_on_one_side_only_is_named(half_link):
    a, p = fw.Input("a"), fw.Parameter("p")
    b = fw.Tanh(a, name="b")
    half_link(p, b)
    with pytest.raises(ValueError, match=r"Parameter\('p'\).*Tanh\('b'\).*disagree"):
        fw.topological_sort({a: 1.0, p: 2.0})


@pytest.mark.parametrize("stranger", [3.0, "w", None])
def test_something_that_is_not_a_node_among_the_inputs_is_named(stranger):
    a = fw.Input("a")
    b = fw.Tanh(a, name="b")
    b.inputs.append(stranger)
    with pytest.raises(TypeError, match=r"Tanh\('b'\) is linked to .*not a Node"):
        fw.topological_sort({a: 1.0})


def test_numerical_gradient_of_an_operation_is_refused():
    x, w = fw.Input("x"), fw.Parameter("w")
    product = fw.Multiply(x, w, name="product")
    loss = fw.MSE(product, fw.Constant(0.0))
    graph = fw.topological_sort({x: np.ones(2), w: np.ones(2)})
    with pytest.raises(TypeError, match=r"placeholder.*Multiply\('product'\)"):
        fw.numerical_gradient(graph, product, loss=loss)


def test_numerical_gradient_of_a_node_without_a_value_is_refused():
    x, w, later = fw.Input("x"), fw.Parameter("w"), fw.Parameter("later")
    fw.MSE(x * w, fw.Constant(0.0))
    graph = fw.topological_sort({x: np.ones(2), w: np.ones(2)})
    with pytest.raises(ValueError, match=r"Parameter\('later'\) has no value"):
        fw.numerical_gradient(graph, later)
