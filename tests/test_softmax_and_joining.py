"""fw.softmax and fw.log_softmax, fw.stack and fw.concatenate.

Each forward value is compared with a NumPy formula written here (the textbook softmax,
e^z / Σ e^z without the shift, on values small enough for it; NumPy's own stack and
concatenate), and each backward rule with central differences (``check_op`` from
test_ops_gradients), on shapes and axes drawn by hypothesis. Then stability (large and -inf
scores), and bad input, whose errors must name the node, the shapes and what was expected. A
last test compares with PyTorch when it is installed.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import assert_names, run
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops_gradients import arrays, check_op, seeds

import framework as fw

FAST = settings(max_examples=20, deadline=None)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


@st.composite
def shapes_and_axes(draw, extra=0):
    """A shape and an int axis for it (``extra`` more axes allowed: stack adds one)."""
    shape = draw(shapes)
    ndim = len(shape) + extra
    return shape, draw(st.integers(-ndim, ndim - 1))


def textbook_softmax(z, axis):
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


# Softmax and log-softmax.

@FAST
@given(data=st.data(), shape_and_axis=shapes_and_axes())
def test_softmax_value_and_gradient(data, shape_and_axis):
    shape, axis = shape_and_axis
    z_value = data.draw(arrays(shape))
    z = fw.Parameter("z")
    check_op(fw.softmax(z, axis=axis), {z: z_value}, textbook_softmax(z_value, axis),
             data.draw(seeds))


@FAST
@given(data=st.data(), shape_and_axis=shapes_and_axes())
def test_log_softmax_value_and_gradient(data, shape_and_axis):
    shape, axis = shape_and_axis
    z_value = data.draw(arrays(shape))
    z = fw.Parameter("z")
    expected = z_value - np.log(np.exp(z_value).sum(axis=axis, keepdims=True))
    check_op(fw.log_softmax(z, axis=axis), {z: z_value}, expected, data.draw(seeds))


def test_softmax_defaults_to_the_last_axis():
    z_value = np.array([[0.0, 1.0, 2.0], [3.0, 3.0, 3.0]])
    z = fw.Input("z")
    s = fw.softmax(z)
    run({z: z_value})
    np.testing.assert_allclose(s.value[1], [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(s.value.sum(axis=1), [1.0, 1.0])


def test_large_scores_do_not_overflow():
    """e^1000 overflows; the shift by the maximum makes these [e⁰, e⁻¹, e⁻²] / Σ."""
    z = fw.Input("z")
    s, log_s = fw.softmax(z), fw.log_softmax(z)
    run({z: np.array([1000.0, 999.0, 998.0])})
    expected = np.exp([0.0, -1.0, -2.0]) / np.exp([0.0, -1.0, -2.0]).sum()
    np.testing.assert_allclose(s.value, expected, rtol=1e-14)
    np.testing.assert_allclose(log_s.value, np.log(expected), rtol=1e-14)


def test_log_softmax_keeps_a_probability_that_rounds_to_zero():
    """softmax([0, -1000])₁ = e^-1000 / (1 + e^-1000) is 0 in float64, but its log is
    -1000 - log(1 + e^-1000) = -1000 to the last bit."""
    z = fw.Input("z")
    s, log_s = fw.softmax(z), fw.log_softmax(z)
    run({z: np.array([0.0, -1000.0])})
    assert s.value[1] == 0.0
    assert log_s.value.tolist() == [0.0, -1000.0]


def test_minus_infinity_gets_weight_zero_and_no_gradient():
    """A masked score (-inf) gets weight exactly 0; the others share the weight as if it were
    not there, and the gradient toward the masked score is 0."""
    z = fw.Parameter("z")
    s = fw.softmax(z)
    loss = (s * np.array([1.0, 2.0, 3.0])).sum()
    graph = fw.topological_sort({z: np.array([0.5, -np.inf, 1.5])})
    fw.run_steps(graph, loss=loss)
    kept = textbook_softmax(np.array([0.5, 1.5]), 0)
    np.testing.assert_allclose(s.value, [kept[0], 0.0, kept[1]], rtol=1e-14)
    # ∂/∂z_i Σ_j w_j s_j = s_i (w_i - Σ_j w_j s_j)
    mean = kept @ [1.0, 3.0]
    np.testing.assert_allclose(z.gradients[z], [kept[0] * (1.0 - mean), 0.0,
                                                kept[1] * (3.0 - mean)], rtol=1e-12)


def test_softmax_gradient_of_a_cross_entropy_is_p_minus_onehot():
    """-log softmax(z)_c has gradient softmax(z) - onehot(c), a formula of its own."""
    z = fw.Parameter("z")
    loss = -fw.log_softmax(z)[2]
    z_value = np.array([0.3, -1.2, 0.8, 2.0])
    graph = fw.topological_sort({z: z_value})
    fw.run_steps(graph, loss=loss)
    np.testing.assert_allclose(z.gradients[z], textbook_softmax(z_value, 0) - np.eye(4)[2],
                               rtol=1e-12)


# Stack and concatenate.

@FAST
@given(data=st.data(), shape_and_axis=shapes_and_axes(extra=1), count=st.integers(1, 3))
def test_stack_value_and_gradients(data, shape_and_axis, count):
    shape, axis = shape_and_axis
    nodes = [fw.Parameter(f"a{i}") for i in range(count)]
    values = [data.draw(arrays(shape)) for _ in nodes]
    check_op(fw.stack(nodes, axis=axis), dict(zip(nodes, values, strict=True)),
             np.stack(values, axis=axis), data.draw(seeds))


@st.composite
def concatenable(draw):
    """Shapes that agree on every axis but ``axis``, and that axis."""
    shape, axis = draw(shapes_and_axes())
    lengths = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    return [shape[:axis % len(shape)] + (n,) + shape[axis % len(shape) + 1:]
            for n in lengths], axis


@FAST
@given(data=st.data(), shapes_and_axis=concatenable())
def test_concatenate_value_and_gradients(data, shapes_and_axis):
    shapes_, axis = shapes_and_axis
    nodes = [fw.Parameter(f"a{i}") for i in range(len(shapes_))]
    values = [data.draw(arrays(shape)) for shape in shapes_]
    check_op(fw.concatenate(nodes, axis=axis), dict(zip(nodes, values, strict=True)),
             np.concatenate(values, axis=axis), data.draw(seeds))


def test_a_node_given_twice_gets_both_pieces_of_the_gradient():
    """Σ w ⊙ stack([a, a, b]) has ∂/∂a = w[0] + w[1]; the same through concatenate."""
    for join in (fw.stack, fw.concatenate):
        a, b = fw.Parameter("a"), fw.Parameter("b")
        weights = np.array([[1.0, 2.0], [30.0, 40.0], [500.0, 600.0]])
        joined = join([a, a, b], axis=0)
        loss = (joined.reshape(3, 2) * weights).sum()
        graph = fw.topological_sort({a: np.array([1.0, 2.0]), b: np.array([3.0, 4.0])})
        fw.run_steps(graph, loss=loss)
        np.testing.assert_array_equal(a.gradients[a], [31.0, 42.0])
        np.testing.assert_array_equal(b.gradients[b], [500.0, 600.0])


def test_arrays_join_nodes_as_constants():
    a = fw.Parameter("a")
    stacked = fw.stack([a, np.zeros(2)], axis=1)
    joined = fw.concatenate((np.ones(1), a))
    loss = stacked.sum() + joined.sum()
    graph = fw.topological_sort({a: np.array([5.0, 6.0])})
    fw.run_steps(graph, loss=loss)
    np.testing.assert_array_equal(stacked.value, [[5.0, 0.0], [6.0, 0.0]])
    np.testing.assert_array_equal(joined.value, [1.0, 5.0, 6.0])
    np.testing.assert_array_equal(a.gradients[a], [2.0, 2.0])


# Bad input: each error names the node, the shapes and what was expected.

@pytest.mark.parametrize("make", [fw.softmax, fw.log_softmax])
def test_softmax_axis_out_of_range(make):
    z = fw.Input("z")
    node = make(z, axis=2)
    with pytest.raises(ValueError) as error:
        run({z: np.ones((2, 3))})
    assert_names(error, repr(node), "axis 2", "(2, 3)", "-2 to 1")


def test_softmax_over_an_empty_axis():
    z = fw.Input("z")
    node = fw.softmax(z, axis=0)
    with pytest.raises(ValueError) as error:
        run({z: np.ones((0, 3))})
    assert_names(error, repr(node), "(0, 3)", "at least one entry")


@pytest.mark.parametrize("axis", [1.0, None, (0,), "0"])
def test_softmax_axis_that_is_not_an_int(axis):
    z = fw.Input("z")
    with pytest.raises(TypeError) as error:
        fw.softmax(z, axis=axis)
    assert_names(error, "Softmax", "axis must be an int", repr(axis))
    assert z.outputs == []  # the refused node left no trace


def test_stacking_different_shapes():
    a, b = fw.Input("a"), fw.Input("b")
    node = fw.stack([a, b])
    with pytest.raises(ValueError) as error:
        run({a: np.ones((2, 3)), b: np.ones((3, 2))})
    assert_names(error, repr(node), "a (2, 3)", "b (3, 2)", "one shape")


def test_stack_axis_out_of_range():
    a = fw.Input("a")
    node = fw.stack([a, a], axis=3)
    with pytest.raises(ValueError) as error:
        run({a: np.ones((2, 3))})
    assert_names(error, repr(node), "axis 3", "(2, 3)", "-3 to 2")


@pytest.mark.parametrize("shapes_, axis, expected", [
    (((2, 3), (2, 4)), 0, "the same length on every other axis"),
    (((2, 3), (2, 3, 1)), 0, "the same number of axes"),
    (((), ()), 0, "at least one"),
    (((2, 3), (2, 3)), 2, "the axis among them"),
])
def test_concatenating_shapes_that_do_not_fit(shapes_, axis, expected):
    a, b = fw.Input("a"), fw.Input("b")
    node = fw.concatenate([a, b], axis=axis)
    with pytest.raises(ValueError) as error:
        run({a: np.ones(shapes_[0]), b: np.ones(shapes_[1])})
    assert_names(error, repr(node), f"a {shapes_[0]}", f"b {shapes_[1]}", f"axis {axis}",
                 expected)


@pytest.mark.parametrize("join", [fw.stack, fw.concatenate])
def test_joining_something_else_than_a_list_of_nodes(join):
    a = fw.Input("a")
    name = join.__name__
    with pytest.raises(TypeError) as error:
        join(a)
    assert_names(error, f"fw.{name}", "a list of nodes", "Input('a')")
    with pytest.raises(ValueError) as error:
        join([])
    assert_names(error, f"fw.{name}", "at least one node")
    with pytest.raises(TypeError) as error:
        join(node for node in [a])
    assert_names(error, f"fw.{name}", "list or tuple", "generator")
    with pytest.raises(TypeError) as error:
        join([a, a], axis=0.5)
    assert_names(error, "axis must be an int", "0.5")
    assert a.outputs == []


# PyTorch, when it is installed.

def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z_value = rng.standard_normal((3, 4, 5))
    weights = rng.standard_normal((3, 4, 5))
    for ours, theirs in ((fw.softmax, torch.softmax), (fw.log_softmax, torch.log_softmax)):
        z = fw.Parameter("z")
        loss = (ours(z, axis=1) * weights).sum()
        graph = fw.topological_sort({z: z_value})
        fw.run_steps(graph, loss=loss)
        z_torch = torch.from_numpy(z_value).requires_grad_()
        their_loss = (theirs(z_torch, dim=1) * torch.from_numpy(weights)).sum()
        their_loss.backward()
        np.testing.assert_allclose(loss.value, their_loss.item(), rtol=1e-13)
        np.testing.assert_allclose(z.gradients[z], z_torch.grad.numpy(), rtol=1e-12, atol=1e-14)
