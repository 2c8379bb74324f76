"""framework.gradient_check and numerical_gradient, checked against hand-derived gradients."""

import numpy as np
import pytest

import framework as fw


class WrongSigmoid(fw.Sigmoid):
    """A deliberately wrong backward rule: σ' written as σ instead of σ (1 - σ)."""

    def backward(self):
        self.send_gradient(self.inputs[0], self.upstream_gradient() * self.value)


def regression_graph(activation=fw.Sigmoid, seed=0):
    rng = np.random.default_rng(seed)
    x, y = fw.Input("x"), fw.Input("y")
    w, b = fw.Parameter("w"), fw.Parameter("b")
    fw.MSE(activation(fw.Linear(x, w, b)), y)
    return fw.topological_sort({
        x: rng.standard_normal((6, 3)), y: rng.standard_normal((6, 2)),
        w: rng.standard_normal((3, 2)), b: rng.standard_normal(2),
    })


def test_numerical_gradient_matches_a_hand_derived_gradient():
    rng = np.random.default_rng(1)
    p, r = fw.Parameter("p"), fw.Input("r")
    fw.MSE(fw.Tanh(p), r)
    p_value, r_value = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    graph = fw.topological_sort({p: p_value, r: r_value})
    # L = mean((tanh p - r)²)  =>  ∂L/∂p = 2 (tanh p - r) (1 - tanh² p) / n
    t = np.tanh(p_value)
    expected = 2 * (t - r_value) * (1 - t * t) / t.size
    np.testing.assert_allclose(fw.numerical_gradient(graph, p), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(p.value, p_value)  # the probe put the value back


def test_gradient_check_passes_correct_rules():
    graph = regression_graph()
    errors = fw.gradient_check(graph)
    assert set(errors) == {"w", "b"}
    assert max(errors.values()) < 1e-6


def test_gradient_check_catches_a_wrong_backward_rule():
    errors = fw.gradient_check(regression_graph(activation=WrongSigmoid))
    assert errors["w"] > 1e-2 and errors["b"] > 1e-2


def test_gradient_check_leaves_values_as_they_were():
    graph = regression_graph()
    fw.forward(graph)
    before = {node: np.copy(node.value) for node in graph}
    fw.gradient_check(graph)
    for node, value in before.items():
        np.testing.assert_array_equal(node.value, value, err_msg=node.name)


def test_gradient_check_reports_zero_for_a_trainable_off_the_loss_path():
    x, y = fw.Input("x"), fw.Input("y")
    w, unused = fw.Parameter("w"), fw.Parameter("unused")
    fw.Sigmoid(x * unused, name="side_output")
    fw.MSE(x * w, y)
    # Fed in this order, the side output is ready before the loss, so the loss comes last.
    graph = fw.topological_sort({unused: np.ones(3), x: np.ones(3), w: np.full(3, 0.5),
                                 y: np.zeros(3)})
    assert graph[-1].kind == "loss"
    assert fw.gradient_check(graph) == pytest.approx({"w": 0.0, "unused": 0.0}, abs=1e-6)


def test_gradient_check_accepts_a_one_by_one_loss():
    # backward accepts any loss with one element, so the check must too.
    u, p = fw.Input("u"), fw.Parameter("p")
    fw.MatMul(u, p * p)
    graph = fw.topological_sort({u: np.array([[1.0, -2.0, 0.5]]), p: np.array([[1.0], [2.0],
                                                                                [3.0]])})
    assert max(fw.gradient_check(graph).values()) < 1e-6
    # L = Σ uᵢ pᵢ²  =>  ∂L/∂p = 2 u p
    np.testing.assert_allclose(fw.numerical_gradient(graph, p), [[2.0], [-8.0], [3.0]],
                               rtol=1e-6)


def test_two_trainable_nodes_of_one_name_are_refused_rather_than_reported_as_one():
    """Keyed by name, the second would hide the first: a wrong gradient of the first would
    go unreported."""
    x, w1, w2 = fw.Input("x"), fw.Parameter("w"), fw.Parameter("w")
    (x * w1 * w2).sum()
    graph = fw.topological_sort({x: np.array([1.0, 2.0]), w1: 0.5, w2: 1.5})
    with pytest.raises(ValueError, match=r"2 are named 'w'; give each a name of its own"):
        fw.gradient_check(graph)
