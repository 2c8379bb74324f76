"""Sigmoid and softmax cross-entropy stay finite, without warnings, on extreme inputs."""

import decimal
import warnings

import numpy as np
import pytest

import framework as fw

EXTREMES = np.array([-1e4, -750.0, -40.0, 0.0, 40.0, 750.0, 1e4])


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_sigmoid_of_extreme_inputs():
    x, target = fw.Parameter("x"), fw.Input("target")
    fw.MSE(fw.Sigmoid(x, name="sigmoid"), target)
    graph = fw.topological_sort({x: EXTREMES, target: np.full(len(EXTREMES), 0.5)})
    fw.run_steps(graph)
    value = graph[-2].value
    assert np.all(np.isfinite(value)) and np.all((value >= 0) & (value <= 1))
    np.testing.assert_allclose(value, [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0], atol=1e-15)
    grad = x.gradients[x]
    assert np.all(np.isfinite(grad))
    # σ'(x) = σ(1 - σ) underflows to 0 far from 0; at 0 it is 1/4, times ∂L/∂σ = 2(σ - ½)/n = 0.
    np.testing.assert_allclose(grad, np.zeros(len(EXTREMES)), atol=1e-15)


def test_softmax_cross_entropy_of_extreme_logits():
    logits, labels = fw.Parameter("logits"), fw.Input("labels")
    fw.SoftmaxCrossEntropy(logits, labels)
    z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    graph = fw.topological_sort({logits: z, labels: np.array([0, 1, 2, 0])})
    fw.run_steps(graph)
    # Per row: log Σ e^z - z_label = 0, 2e4, log 3, log 2.
    expected = np.mean([0.0, 2e4, np.log(3.0), np.log(2.0)])
    np.testing.assert_allclose(graph[-1].value, expected, rtol=1e-12)
    # ∂L/∂z = (softmax(z) - onehot) / B
    softmax = np.array([[1, 0, 0], [1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]])
    onehot = np.eye(3)[[0, 1, 2, 0]]
    np.testing.assert_allclose(logits.gradients[logits], (softmax - onehot) / 4, atol=1e-15)


def test_tanh_of_extreme_inputs():
    x, target = fw.Parameter("x"), fw.Input("target")
    fw.MSE(fw.Tanh(x), target)
    graph = fw.topological_sort({x: EXTREMES, target: np.zeros(len(EXTREMES))})
    fw.run_steps(graph)
    assert np.all(np.isfinite(graph[-1].value)) and np.all(np.isfinite(x.gradients[x]))


def sigmoid_exact(x: float) -> float:
    """σ(x) = 1 / (1 + e^{-x}) in 50-digit decimal arithmetic, rounded once to a float."""
    with decimal.localcontext() as context:
        context.prec = 50
        return float(1 / (1 + decimal.Decimal(-x).exp()))


def sigmoid_derivative_exact(x: float) -> float:
    """σ'(x) = e^{-x} / (1 + e^{-x})², in the same decimal arithmetic."""
    with decimal.localcontext() as context:
        context.prec = 50
        e = decimal.Decimal(-x).exp()
        return float(e / (1 + e) ** 2)


def test_sigmoid_keeps_its_relative_precision_on_the_whole_line():
    inputs = np.concatenate([np.linspace(-745, 745, 2981), [-40.0, -36.0, -1e-8, 1e-8]])
    x, target = fw.Parameter("x"), fw.Input("target")
    sigmoid = fw.Sigmoid(x, name="sigmoid")
    fw.Multiply(sigmoid, target, name="weighted")
    graph = fw.topological_sort({x: inputs, target: np.ones(len(inputs))})
    fw.forward(graph)
    expected = np.array([sigmoid_exact(v) for v in inputs])
    # a few units in the last place of the exact value, subnormals included (σ(-745) ≈ 5e-324)
    assert np.all(np.abs(sigmoid.value - expected) <= 4 * np.spacing(expected)), (
        inputs[np.abs(sigmoid.value - expected) > 4 * np.spacing(expected)][:5])
    assert sigmoid.value[inputs == -40.0][0] == pytest.approx(4.248354255291589e-18, rel=1e-14)


def test_sigmoid_derivative_keeps_its_relative_precision_on_the_whole_line():
    inputs = np.linspace(-700, 700, 1401)
    x = fw.Parameter("x")
    sigmoid = fw.Sigmoid(x)
    fw.forward(fw.topological_sort({x: inputs}))
    sigmoid.upstream_gradient = lambda: np.ones(len(inputs))  # ∂L/∂σ = 1: read off ∂σ/∂x
    sigmoid.backward()
    expected = np.array([sigmoid_derivative_exact(v) for v in inputs])
    np.testing.assert_allclose(sigmoid.gradients[x], expected, rtol=1e-13, atol=0)
