"""Backward uses the values of one forward pass: the one that computed the loss. Values that
changed since (part of the graph run again to predict, new data, an optimizer step) would mix
two passes into a gradient that is wrong, so backward refuses them, names the node, and changes
no gradient."""

import numpy as np
import pytest

import framework as fw

RNG = np.random.default_rng(0)
A, B = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
TARGETS = RNG.normal(size=(4, 2))
W0, B0 = RNG.normal(size=(3, 2)), RNG.normal(size=2)


def linear_regression():
    x, y, w, b = fw.Input("x"), fw.Input("y"), fw.Parameter("w"), fw.Parameter("b")
    out = fw.Linear(x, w, b, name="out")
    loss = fw.MSE(out, y, name="loss")
    graph = fw.topological_sort({x: A, y: TARGETS, w: W0, b: B0})
    return graph, x, w, out, loss


def gradient_by_hand(X):
    """∂/∂W of mean((X W + b - T)²): 2 Xᵀ (X W + b - T) / n."""
    diff = X @ W0 + B0 - TARGETS
    return 2 * X.T @ diff / diff.size


def test_forward_then_backward_gives_the_gradient_of_that_forward_pass():
    graph, x, w, out, loss = linear_regression()
    fw.forward(graph)
    fw.backward(graph)
    fw.backward(graph)  # again, on the same values: the same gradient
    assert np.allclose(w.gradients[w], gradient_by_hand(A))


def test_predicting_between_forward_and_backward_is_refused():
    """The issue's pattern: a training loop that predicts on other data before backward."""
    graph, x, w, out, loss = linear_regression()
    fw.forward(graph)
    fw.backward(graph)
    before = w.gradients[w]
    fw.forward(graph)
    x.value = B
    fw.forward(graph[:graph.index(out) + 1])  # predict: out now holds B's rows, loss still A's
    with pytest.raises(ValueError, match=r"Linear\('out'\) was computed by another forward "
                                         r"pass than the loss MSE\('loss'\)"):
        fw.backward(graph)
    assert w.gradients[w] is before  # refused before any gradient was touched
    fw.forward(graph)
    fw.backward(graph)
    assert np.allclose(w.gradients[w], gradient_by_hand(B))


def test_new_data_fed_after_forward_is_refused():
    graph, x, w, out, loss = linear_regression()
    fw.forward(graph)
    x.value = B
    with pytest.raises(ValueError, match=r"Input\('x'\) was given a new value after the "
                                         r"forward pass.*run forward\(graph\) again"):
        fw.backward(graph)


def test_backward_after_an_optimizer_step_without_forward_is_refused():
    graph, x, w, out, loss = linear_regression()
    fw.forward(graph)
    fw.backward(graph)
    fw.SGD(0.1).step(graph)
    with pytest.raises(ValueError, match=r"Parameter\('w'\) was given a new value"):
        fw.backward(graph)


def test_a_parameter_shared_with_another_graph_run_in_between_is_not_refused():
    """The other graph's forward pass checks the same array again: nothing changed for this one."""
    graph, x, w, out, loss = linear_regression()
    other_x = fw.Input("other_x")
    other_loss = (other_x @ w).sum()
    other = fw.topological_sort({other_x: B})
    fw.forward(graph)
    fw.forward(other)
    fw.backward(graph)
    assert np.allclose(w.gradients[w], gradient_by_hand(A))
    fw.backward(other, loss=other_loss)
    assert np.allclose(w.gradients[w], B.sum(axis=0)[:, None] * np.ones((1, 2)))


def test_a_forward_pass_written_by_hand_works_with_backward():
    """As the notebooks first write it: each node's forward, in order, without fw.forward."""
    graph, x, w, out, loss = linear_regression()
    for node in graph:
        node.forward()
    fw.backward(graph)
    assert np.allclose(w.gradients[w], gradient_by_hand(A))


def test_a_placeholder_whose_own_forward_checks_nothing_is_not_refused():
    """A subclass may replace Placeholder.forward; its value is then taken as it is."""

    class Scaled(fw.Parameter):
        def forward(self):
            pass

    x, w = fw.Input("x"), Scaled("w")
    (x * w).sum()
    graph = fw.topological_sort({x: A[:, :1], w: 2.0})
    fw.forward(graph)
    fw.backward(graph)
    assert np.isclose(w.gradients[w], A[:, 0].sum())


def test_a_forward_pass_that_failed_half_way_is_refused():
    """The failed pass recomputed the nodes before the one that raised: backward must not mix
    them with the loss of the pass before, even when every placeholder holds what it checked."""
    x, w, c = fw.Input("x"), fw.Parameter("w"), fw.Constant(np.ones(3), name="c")
    h = x * w
    h.name = "h"
    loss = (h + c).sum()
    graph = fw.topological_sort({x: np.arange(3.0), w: 2.0})
    fw.forward(graph)
    x.value = np.arange(4.0)  # h is computed, then h + c cannot broadcast
    with pytest.raises(ValueError, match="do not broadcast"):
        fw.forward(graph)
    with pytest.raises(ValueError, match=r"Multiply\('h'\) was computed by another forward "
                                         r"pass than the loss"):
        fw.backward(graph)
    x.value = np.arange(3.0)
    fw.forward(graph)
    fw.backward(graph, loss=loss)
    assert np.isclose(w.gradients[w], 3.0)  # ∂/∂w Σ (x w + 1) = Σ x
