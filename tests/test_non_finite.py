"""NaN and infinity: caught at their source by backward, never written into a parameter."""

import warnings

import numpy as np
import pytest

import framework as fw


def regression(x_value, seed=0):
    rng = np.random.default_rng(seed)
    x, y = fw.Input("x"), fw.Input("y")
    w1, b1, w2, b2 = (fw.Parameter(n) for n in ("w1", "b1", "w2", "b2"))
    hidden = fw.Sigmoid(fw.Linear(x, w1, b1, name="layer1"), name="s")
    loss = fw.MSE(fw.Linear(hidden, w2, b2, name="layer2"), y, name="loss")
    graph = fw.topological_sort({x: x_value, y: rng.normal(size=(3, 1)),
                                 w1: rng.normal(size=(2, 4)), b1: np.zeros(4),
                                 w2: rng.normal(size=(4, 1)), b2: np.zeros(1)})
    return graph, loss, [w1, b1, w2, b2]


def values(params):
    return [p.value.copy() for p in params]


def test_nan_data_is_named_with_its_count_and_first_index():
    x_value = np.ones((3, 2))
    x_value[1, 0] = np.nan
    graph, _, params = regression(x_value)
    fw.forward(graph)
    with pytest.raises(FloatingPointError,
                       match=r"Input\('x'\) holds 1 NaN, first at index \(1, 0\)"):
        fw.backward(graph)


def test_an_overflow_is_named_at_the_node_where_it_happened():
    x, w, t = fw.Input("x"), fw.Parameter("w"), fw.Input("t")
    fw.MSE(fw.Multiply(x, w, name="m"), t, name="loss")
    graph = fw.topological_sort({x: np.array([1.0, 1e200, -1e200]), w: np.full(3, 1e200),
                                 t: np.zeros(3)})
    with np.errstate(over="ignore"):
        fw.forward(graph)
    with pytest.raises(FloatingPointError,
                       match=r"Multiply\('m'\) holds 2 inf, first at index \(1,\)"):
        fw.backward(graph)


def test_a_refused_backward_changes_no_gradient():
    graph, loss, params = regression(np.ones((3, 2)))
    fw.run_steps(graph)
    before = [p.gradients[p].copy() for p in params]
    graph[0].value = np.full((3, 2), np.inf)
    with np.errstate(invalid="ignore"):
        fw.forward(graph)
    with pytest.raises(FloatingPointError, match="x"):
        fw.backward(graph)
    for p, grad in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.gradients[p], grad)


OPTIMIZERS = {
    "optimize": lambda graph: fw.optimize(graph, 0.1),
    "SGD": fw.SGD(0.1).step,
    "Momentum": fw.Momentum(0.1).step,
    "Adam": fw.Adam(0.1).step,
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_step_that_would_write_nan_changes_no_parameter(name):
    graph, _, params = regression(np.ones((3, 2)))
    fw.run_steps(graph)
    params[-1].gradients[params[-1]] = np.array([np.nan])  # the last one: all others first
    before = values(params)
    with pytest.raises(FloatingPointError, match=rf"{name}.*Parameter\('b2'\).*1 NaN"):
        OPTIMIZERS[name](graph)
    for p, value in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.value, value, err_msg=p.name)


def test_a_refused_step_keeps_the_optimizer_state_as_it_was():
    graph, _, params = regression(np.ones((3, 2)))
    twin_graph, _, twin_params = regression(np.ones((3, 2)))
    adam, twin = fw.Adam(0.1), fw.Adam(0.1)
    fw.run_steps(graph)
    params[0].gradients[params[0]] = np.full((2, 4), np.inf)
    with np.errstate(invalid="ignore"), pytest.raises(FloatingPointError):
        adam.step(graph)
    for _ in range(3):  # the refused step left no trace: both now take the same steps
        for g, opt in ((graph, adam), (twin_graph, twin)):
            fw.run_steps(g)
            opt.step(g)
    for p, q in zip(params, twin_params, strict=True):
        np.testing.assert_array_equal(p.value, q.value, err_msg=p.name)


def test_a_step_that_overflows_is_refused():
    graph, _, params = regression(np.ones((3, 2)))
    fw.run_steps(graph)
    before = values(params)
    with np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="overflow"):
        fw.optimize(graph, 1e308)
    for p, value in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.value, value)


@pytest.mark.parametrize("make", [fw.SGD, fw.Momentum, fw.Adam,
                                  lambda rate: fw.optimize([], rate)],
                         ids=["SGD", "Momentum", "Adam", "optimize"])
@pytest.mark.parametrize("rate", ["0.1", None, float("nan"), float("inf"), -0.1, True, [0.1]])
def test_a_learning_rate_must_be_a_finite_number_at_least_zero(make, rate):
    with pytest.raises((TypeError, ValueError), match="learning rate") as error:
        make(rate)
    owner = getattr(make, "__name__", "optimize")
    assert owner in str(error.value) or "optimize" in str(error.value)
    assert repr(rate) in str(error.value)


def test_a_learning_rate_changed_later_is_checked_too():
    adam = fw.Adam(0.01)
    adam.learning_rate = 0.001
    with pytest.raises(ValueError, match=r"Adam.*learning rate.*-1"):
        adam.learning_rate = -1
    assert adam.learning_rate == 0.001


def test_a_loss_held_in_a_one_element_array_is_checked_too():
    x = fw.Parameter("x")
    fw.Sigmoid(x, name="s")
    graph = fw.topological_sort({x: np.array([[np.nan]])})
    fw.forward(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy deprecation on the way to the message
        with pytest.raises(FloatingPointError, match=r"Sigmoid\('s'\) is nan.*Parameter\('x'\)"):
            fw.backward(graph)
