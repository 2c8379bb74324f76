"""fw.train: the course's training loop, against the same loop written out in NumPy alone."""

import numpy as np
import pytest

import framework as fw


def _regression(rng):
    X, y = rng.normal(size=(23, 3)), rng.normal(size=(23, 1))
    x_node, y_node, w, b = fw.Input("x"), fw.Input("y"), fw.Parameter("w"), fw.Parameter("b")
    fw.MSE(fw.Linear(x_node, w, b), y_node, name="loss")
    w0, b0 = rng.normal(size=(3, 1)), np.zeros(1)
    graph = fw.topological_sort({x_node: X[:1], y_node: y[:1], w: w0.copy(), b: b0.copy()})
    return graph, (x_node, y_node, w, b), (X, y, w0, b0)


def test_the_loop_takes_the_steps_numpy_takes():
    graph, (x_node, y_node, w, b), (X, y, w0, b0) = _regression(np.random.default_rng(1))
    epochs_seen = []
    losses = fw.train(graph, {x_node: X, y_node: y}, fw.SGD(0.1).step, epochs=3, batch_size=10,
                      rng=np.random.default_rng(7), after_epoch=lambda: epochs_seen.append(1))

    # The same training in NumPy: shuffled batches of 10 (the last of 3), MSE's gradient, SGD.
    rng, weights, bias, expected = np.random.default_rng(7), w0.copy(), b0.copy(), []
    for _ in range(3):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 10):
            rows = order[start:start + 10]
            error = X[rows] @ weights + bias - y[rows]
            expected.append(float(np.mean(error ** 2)))
            grad = 2 * error / error.size
            weights, bias = weights - 0.1 * X[rows].T @ grad, bias - 0.1 * grad.sum(axis=0)
    assert len(losses) == 9 and len(epochs_seen) == 3
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    np.testing.assert_allclose(w.value, weights, rtol=1e-12)
    np.testing.assert_allclose(b.value, bias, rtol=1e-12)


def _bad_arguments(nodes, arrays):
    x_node, y_node, w, _ = nodes
    X, y, _, _ = arrays
    step = fw.SGD(0.1).step
    return {
        "data must be a dict": (X, step),
        "data must be a dict ": ({}, step),
        "keys must be the placeholders": ({"x": X}, step),
        "different lengths": ({x_node: X, y_node: y[:5]}, step),
        "single value": ({x_node: 3.0}, step),
        "step must be called": ({x_node: X, y_node: y}, "sgd"),
    }


@pytest.mark.parametrize("problem", ["data must be a dict", "data must be a dict ",
                                     "keys must be the placeholders", "different lengths",
                                     "single value", "step must be called"])
def test_bad_arguments_are_refused_and_nothing_is_trained(problem):
    graph, nodes, arrays = _regression(np.random.default_rng(2))
    data, step = _bad_arguments(nodes, arrays)[problem]
    before = nodes[2].value.copy()
    with pytest.raises((TypeError, ValueError), match=problem.strip()):
        fw.train(graph, data, step, epochs=1, batch_size=4)
    np.testing.assert_array_equal(nodes[2].value, before)
