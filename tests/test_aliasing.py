"""Arrays that a user may change in place belong to one owner each: two parameters never share
a gradient array, Momentum's velocity is not the gradient, and a Constant or an Index keeps a
copy of the caller's array or list. Before, each of these let an edit in place (clipping one
gradient, zeroing gradients after a step, refilling a mask or an index list for the next
batch) silently change another number."""

import numpy as np

import framework as fw

W, D = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.5, 0.5])


def test_two_parameters_added_together_hold_gradients_of_their_own():
    """∂/∂w Σ (w + d)² = ∂/∂d = 2 (w + d). Weight decay added in place to w's gradient only
    must leave d's as it was."""
    w, d = fw.Parameter("w"), fw.Parameter("d")
    ((w + d) ** 2).sum()
    graph = fw.topological_sort({w: W, d: D})
    fw.run_steps(graph)
    assert not np.shares_memory(w.gradients[w], d.gradients[d])
    w.gradients[w] += 0.1 * w.value
    fw.SGD(0.1).step(graph)
    assert np.allclose(d.value, D - 0.1 * 2 * (W + D))
    assert np.allclose(w.value, W - 0.1 * (2 * (W + D) + 0.1 * W))


def test_a_reshaped_parameter_and_another_hold_gradients_of_their_own():
    """Reshape passes a view of its upstream gradient on: clipping w's gradient in place must
    leave b's, 2 (w.reshape + b), as it was."""
    w, b = fw.Parameter("w"), fw.Parameter("b")
    ((w.reshape(2, 3) + b) ** 2).sum()
    graph = fw.topological_sort({w: np.arange(6.0), b: np.ones((2, 3))})
    fw.run_steps(graph)
    np.clip(w.gradients[w], -1.0, 1.0, out=w.gradients[w])
    assert np.array_equal(b.gradients[b], 2 * (np.arange(6.0).reshape(2, 3) + 1))


def test_a_node_added_to_itself_still_gets_the_sum():
    w = fw.Parameter("w")
    (w + w).sum()
    graph = fw.topological_sort({w: W})
    fw.run_steps(graph)
    assert np.array_equal(w.gradients[w], [2.0, 2.0, 2.0])


def test_zeroing_the_gradient_after_a_step_leaves_momentum_alone():
    """L = Σ w²: v₁ = g₁ = 2 w₀, w₁ = w₀ - η v₁; v₂ = β v₁ + 2 w₁, w₂ = w₁ - η v₂."""
    w = fw.Parameter("w")
    (w * w).sum()
    graph = fw.topological_sort({w: np.array([1.0, 2.0])})
    optimizer = fw.Momentum(0.1, beta=0.9)
    w0 = np.array([1.0, 2.0])
    v1 = 2 * w0
    w1 = w0 - 0.1 * v1
    v2 = 0.9 * v1 + 2 * w1
    for _ in range(2):
        fw.run_steps(graph)
        optimizer.step(graph)
        w.gradients[w].fill(0.0)  # a zero_grad habit
    assert np.allclose(w.value, w1 - 0.1 * v2)


def test_a_constant_keeps_the_values_it_was_made_with():
    """∂/∂w Σ w · mask is the mask the forward pass used, not the one refilled since."""
    w, mask = fw.Parameter("w"), np.ones(3)
    (w * mask).sum()
    graph = fw.topological_sort({w: W})
    fw.forward(graph)
    mask[0] = 0.0
    fw.backward(graph)
    assert np.array_equal(w.gradients[w], [1.0, 1.0, 1.0])


def test_an_index_keeps_the_rows_it_was_made_with():
    """Rows 0 and 1 were read, weighted 1 and 10: the gradient lands there, not in the rows of
    an index list refilled for the next batch."""
    table, rows = fw.Parameter("table"), [0, 1]
    (table[rows] * np.array([[1.0], [10.0]])).sum()
    graph = fw.topological_sort({table: np.zeros((3, 2))})
    fw.forward(graph)
    rows[:] = [2, 2]
    fw.backward(graph)
    assert np.array_equal(table.gradients[table], [[1.0, 1.0], [10.0, 10.0], [0.0, 0.0]])
