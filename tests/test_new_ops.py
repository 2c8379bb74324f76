"""Division, powers, exp and log, sums and means, shape changes and indexing.

Each op's forward value is compared with NumPy's, and its backward rule with central
differences (``check_op`` from test_ops_gradients, independent of ``framework.gradcheck``), on
shapes, axes and indices drawn by hypothesis. Then the operators with numbers on either side,
and every kind of bad argument, whose error must name the node and the shapes.
"""

from fractions import Fraction

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import assert_names, run
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops_gradients import arrays, check_op, seeds, sigmoid, values

import framework as fw

FAST = settings(max_examples=20, deadline=None)

shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)
positive = st.floats(0.2, 2.0)
away_from_zero = st.one_of(st.floats(0.3, 2.0), st.floats(-2.0, -0.3))






# Element-wise: division, powers, exp, log.

@FAST
@given(data=st.data())
def test_divide_gradients_with_broadcasting(data):
    pair = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    a_value = data.draw(arrays(pair.input_shapes[0]))
    b_value = data.draw(arrays(pair.input_shapes[1], away_from_zero))
    a, b = fw.Parameter("a"), fw.Parameter("b")
    check_op(fw.Divide(a, b), {a: a_value, b: b_value}, a_value / b_value, data.draw(seeds))


@FAST
@given(data=st.data(), exponent=st.integers(-3, 4))
def test_power_with_an_int_exponent(data, exponent):
    a_value = data.draw(arrays(data.draw(shapes), away_from_zero))  # negative bases too
    a = fw.Parameter("a")
    check_op(a ** exponent, {a: a_value}, a_value ** float(exponent), data.draw(seeds))


@FAST
@given(data=st.data(), exponent=st.sampled_from([0.5, -0.5, 1.5, 2.5, -1.25, 0.0, 1.0]))
def test_power_with_a_float_exponent(data, exponent):
    a_value = data.draw(arrays(data.draw(shapes), positive))
    a = fw.Parameter("a")
    check_op(fw.Power(a, exponent), {a: a_value}, a_value ** exponent, data.draw(seeds))


def test_power_with_a_fraction_exponent_of_a_number():
    """√a of a 0-d value, the exponent a Fraction: d/da √a = 1 / (2 √a) = 1/4 at a = 4."""
    a = fw.Parameter("a")
    root = a ** Fraction(1, 2)
    graph = fw.topological_sort({a: 4.0})
    fw.run_steps(graph, loss=root)
    assert root.value == 2.0 and a.gradients[a] == 0.25


def test_power_zero_has_a_zero_gradient_even_at_zero():
    a = fw.Parameter("a")
    y = (a ** 0).sum()
    graph = fw.topological_sort({a: np.array([0.0, 2.0])})
    fw.forward(graph)
    fw.backward(graph, y)
    np.testing.assert_array_equal(a.gradients[a], [0.0, 0.0])
    assert y.value == 2.0


@pytest.mark.parametrize("function, reference, elements",
                         [(fw.exp, np.exp, values), (fw.log, np.log, positive)], ids=["exp", "log"])
@FAST
@given(data=st.data())
def test_exp_and_log_gradients(function, reference, elements, data):
    a_value = data.draw(arrays(data.draw(shapes), elements))
    a = fw.Parameter("a")
    check_op(function(a), {a: a_value}, reference(a_value), data.draw(seeds))


# Reductions.

@st.composite
def shapes_and_axes(draw):
    """A shape and an axis for it: None, an int or a tuple of distinct axes, any of them
    negative (counted from the end)."""
    shape = draw(shapes)
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    signed = tuple(axis - ndim if draw(st.booleans()) else axis for axis in chosen)
    return shape, signed[0] if kind == "int" else signed


@pytest.mark.parametrize("method, reference", [("sum", np.sum), ("mean", np.mean)])
@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape_and_axis=shapes_and_axes(), keepdims=st.booleans())
def test_sum_and_mean_gradients(method, reference, data, shape_and_axis, keepdims):
    shape, axis = shape_and_axis
    a_value = data.draw(arrays(shape))
    a = fw.Parameter("a")
    output = getattr(a, method)(axis=axis, keepdims=keepdims)
    check_op(output, {a: a_value}, reference(a_value, axis=axis, keepdims=keepdims),
             data.draw(seeds))


def test_sum_and_mean_of_everything_are_scalars_that_can_be_the_loss():
    a = fw.Parameter("a")
    total, mean = a.sum(), a.mean(axis=(0, 1))
    loss = total + 2 * mean
    graph = fw.topological_sort({a: np.arange(6.0).reshape(2, 3)})
    fw.forward(graph)
    fw.backward(graph, loss)
    assert np.shape(total.value) == () and total.value == 15.0 and mean.value == 2.5
    np.testing.assert_allclose(a.gradients[a], np.full((2, 3), 1.0 + 2.0 / 6.0))


# Shape changes.

@st.composite
def shapes_and_reshapes(draw):
    """A shape and another with as many elements, made of the size's factors in some order,
    perhaps with an extra axis of length 1 and perhaps one length given as -1."""
    shape = draw(shapes)
    size = int(np.prod(shape))
    first = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    rest = size // first
    second = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
    new = [first, second, rest // second] + ([1] if draw(st.booleans()) else [])
    new = draw(st.permutations(new))
    if draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return shape, tuple(new)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shapes_pair=shapes_and_reshapes(), as_tuple=st.booleans())
def test_reshape_gradients(data, shapes_pair, as_tuple):
    shape, new_shape = shapes_pair
    a_value = data.draw(arrays(shape))
    a = fw.Parameter("a")
    output = a.reshape(new_shape) if as_tuple else a.reshape(*new_shape)
    check_op(output, {a: a_value}, a_value.reshape(new_shape), data.draw(seeds))


@st.composite
def shapes_and_permutations(draw):
    shape = draw(shapes)
    ndim = len(shape)
    if draw(st.booleans()):
        return shape, None
    permutation = draw(st.permutations(range(ndim)))
    return shape, tuple(axis - ndim if draw(st.booleans()) else axis for axis in permutation)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape_and_axes=shapes_and_permutations(),
       spelling=st.sampled_from(["fw.transpose", "a.transpose", "a.transpose(*axes)", "a.T"]))
def test_transpose_gradients(data, shape_and_axes, spelling):
    shape, axes = shape_and_axes
    if spelling == "a.T":
        axes = None
    a_value = data.draw(arrays(shape))
    a = fw.Parameter("a")
    output = {"fw.transpose": lambda: fw.transpose(a, axes),
              "a.transpose": lambda: a.transpose(axes),
              "a.transpose(*axes)": lambda: a.transpose(*(axes or ())), "a.T": lambda: a.T,
              }[spelling]()
    check_op(output, {a: a_value}, np.transpose(a_value, axes), data.draw(seeds))


@FAST
@given(data=st.data())
def test_flatten_gradients(data):
    shape = data.draw(shapes)
    a_value = data.draw(arrays(shape))
    a = fw.Parameter("a")
    check_op(fw.Flatten(a), {a: a_value}, a_value.reshape(shape[0], -1), data.draw(seeds))


# Indexing.

@st.composite
def shapes_and_indices(draw):
    """Basic indices (ints, slices with steps, Ellipsis, np.newaxis), integer arrays (which
    repeat indices), an integer array beside a slice, and boolean masks."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    kind = draw(st.sampled_from(["basic", "integer arrays", "array and slice", "mask"]))
    if kind == "basic":
        index = draw(hnp.basic_indices(shape, allow_newaxis=True))
    elif kind == "integer arrays":
        index = draw(hnp.integer_array_indices(
            shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=6)))
    elif kind == "array and slice":
        rows = draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6))
        index = (np.array(rows), slice(None, None, draw(st.sampled_from([1, -1, 2]))))
        index = index if len(shape) > 1 else index[:1]
    else:
        index = draw(hnp.arrays(np.bool_, shape))
    return shape, index


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape_and_index=shapes_and_indices())
def test_index_gradients(data, shape_and_index):
    shape, index = shape_and_index
    a_value = data.draw(arrays(shape))
    a = fw.Parameter("a")
    check_op(a[index], {a: a_value}, a_value[index], data.draw(seeds))


def test_repeated_indices_add_up_in_the_gradient():
    a = fw.Parameter("a")
    picked = a[[2, 0, 2, 2]]
    loss = picked.sum()
    graph = fw.topological_sort({a: np.array([10.0, 20.0, 30.0])})
    fw.forward(graph)
    fw.backward(graph, loss)
    np.testing.assert_array_equal(picked.value, [30.0, 10.0, 30.0, 30.0])
    np.testing.assert_array_equal(a.gradients[a], [1.0, 0.0, 3.0])


def test_indexing_picks_the_logits_of_the_labels():
    """The cross-entropy's z[rows, labels], written with indexing, has the fused gradient."""
    z = fw.Parameter("z")
    labels = np.array([2, 0, 2])
    loss = -(z[np.arange(3), labels]).mean()
    graph = fw.topological_sort({z: np.zeros((3, 4))})
    fw.forward(graph)
    fw.backward(graph, loss)
    expected = np.zeros((3, 4))
    expected[np.arange(3), labels] = -1.0 / 3.0
    np.testing.assert_array_equal(z.gradients[z], expected)


# The operators, with numbers and arrays on either side.

# Each expression runs on a node with ops = fw and on an array with ops = np: the second gives
# the expected value. a holds positive numbers (for log and fractional powers), shape (rows, 3).
OPERATOR_EXPRESSIONS = {
    "a / 2": lambda a, ops: a / 2,
    "2 / a": lambda a, ops: 2 / a,
    "np.arange(1.0, 4.0) / a": lambda a, ops: np.arange(1.0, 4.0) / a,
    "a / np.arange(1.0, 4.0)": lambda a, ops: a / np.arange(1.0, 4.0),
    "a / a": lambda a, ops: a / a,
    "a ** 2": lambda a, ops: a ** 2,
    "a ** 0.5": lambda a, ops: a ** 0.5,
    "a ** -1": lambda a, ops: a ** -1,
    "-a ** 2": lambda a, ops: -a ** 2,
    "(a - 1) ** 3 / 4": lambda a, ops: (a - 1) ** 3 / 4,
    "1 / (1 + exp(-a))": lambda a, ops: 1 / (1 + ops.exp(-a)),
    "log(exp(a))": lambda a, ops: ops.log(ops.exp(a)),
    "exp(2 * log(a))": lambda a, ops: ops.exp(2 * ops.log(a)),
    "a.sum()": lambda a, ops: a.sum(),
    "a.mean(axis=0) * 3": lambda a, ops: a.mean(axis=0) * 3,
    "a.sum(axis=-1, keepdims=True) / a": lambda a, ops: a.sum(axis=-1, keepdims=True) / a,
    "a.T @ a": lambda a, ops: a.T @ a,
    "a.reshape(-1) / 3": lambda a, ops: a.reshape(-1) / 3,
    "a[0] * a[-1]": lambda a, ops: a[0] * a[-1],
    "a[:, ::2] - 1": lambda a, ops: a[:, ::2] - 1,
    "((a - a.mean()) ** 2).mean()": lambda a, ops: ((a - a.mean()) ** 2).mean(),
}


@pytest.mark.parametrize("expression", OPERATOR_EXPRESSIONS)
@settings(max_examples=10, deadline=None)
@given(data=st.data(), rows=st.integers(1, 4))
def test_operators_with_numbers_on_either_side(expression, data, rows):
    build = OPERATOR_EXPRESSIONS[expression]
    a_value = data.draw(arrays((rows, 3), positive))
    a = fw.Parameter("a")
    output = build(a, fw)
    assert isinstance(output, fw.Node), f"{expression} did not build a node"
    check_op(output, {a: a_value}, build(a_value, np), data.draw(seeds))


def test_the_composed_sigmoid_agrees_with_the_fused_one():
    a = fw.Parameter("a")
    composed, fused = 1 / (1 + fw.exp(-a)), fw.Sigmoid(a)
    run({a: np.linspace(-3.0, 3.0, 7)})
    np.testing.assert_allclose(composed.value, fused.value, rtol=1e-14)
    np.testing.assert_allclose(fused.value, sigmoid(np.linspace(-3.0, 3.0, 7)), rtol=1e-14)


def test_a_node_is_not_a_sequence():
    """A node has __getitem__; that must not make list(a), `x in a` or np.asarray(a) index
    it over and over."""
    a = fw.Parameter("a")
    with pytest.raises(TypeError, match="not iterable"):
        iter(a)  # (not list(a): that would hang if iter(a) read a[0], a[1], ...)
    with pytest.raises(TypeError):
        1.0 in a  # noqa: B015
    with pytest.raises(TypeError, match="'data'"):
        fw.Constant(a, name="data")
    with pytest.raises(TypeError, match="'data'"):
        fw.Constant([a, a], name="data")
    assert a.outputs == []  # nothing was indexed


# Gradients go only where they are needed, and everything stays float64.

DATA_AND_PARAMETER = {
    "x / w": lambda x, w: x / w,
    "w / x": lambda x, w: w / x,
    "x ** 2 * w": lambda x, w: x ** 2 * w,
    "exp(x) * w": lambda x, w: fw.exp(x) * w,
    "log(x) * w": lambda x, w: fw.log(x) * w,
    "x.sum(axis=0) * w": lambda x, w: x.sum(axis=0) * w,
    "x.mean(axis=0) * w": lambda x, w: x.mean(axis=0) * w,
    "x.T.reshape(3, 2).T * w": lambda x, w: x.T.reshape(3, 2).T * w,
    "x[[0, 0]] * w": lambda x, w: x[[0, 0]] * w,
    "Flatten(x) * w": lambda x, w: fw.Flatten(x) * w,
}


@pytest.mark.parametrize("expression", DATA_AND_PARAMETER)
def test_no_gradient_toward_data_and_float64_throughout(expression):
    x, w = fw.Input("x"), fw.Parameter("w")
    output = DATA_AND_PARAMETER[expression](x, w)
    loss = output.sum()
    graph = fw.topological_sort({x: np.full((2, 3), 2, dtype=np.float32), w: np.ones(3)})
    fw.forward(graph)
    fw.backward(graph, loss)
    assert not [node for node in graph if x in node.gradients], "a gradient was sent toward x"
    for node in graph:
        assert np.asarray(node.value).dtype == np.float64, node
        for grad in node.gradients.values():
            assert np.asarray(grad).dtype == np.float64, node
    assert w.gradients[w].shape == (3,)


# Bad arguments: each error names the node and the shapes.

def test_a_node_as_exponent_is_refused_naming_both():
    a, p = fw.Parameter("base"), fw.Parameter("power")
    with pytest.raises(TypeError) as error:
        a ** p
    assert_names(error, "base", "power", "exponent")
    with pytest.raises(TypeError) as error:
        2 ** a
    assert_names(error, "base", "exponent")
    with pytest.raises(TypeError):
        fw.Power(a, np.ones(2))
    assert a.outputs == [] and p.outputs == []


@pytest.mark.parametrize("axis, shape, expected", [
    (2, (3, 4), "axis 2"), (-3, (3, 4), "axis -3"), ((0, 5), (2, 3, 4), "axis 5"),
    ((1, -1), (3, 4), "twice"), (0, (), "axis 0"),
])
@pytest.mark.parametrize("method", ["sum", "mean"])
def test_an_axis_out_of_range_names_the_node_and_the_shape(method, axis, shape, expected):
    a = fw.Input("a")
    output = getattr(a, method)(axis=axis)
    output.name = "reduce"
    with pytest.raises(ValueError) as error:
        run({a: np.ones(shape)})
    assert_names(error, "reduce", str(shape), expected)


@pytest.mark.parametrize("axis", [1.0, True, "0", (0, None)])
def test_an_axis_that_is_not_an_int_is_refused(axis):
    a = fw.Input("a")
    with pytest.raises(TypeError) as error:
        fw.Sum(a, axis=axis, name="total")
    assert_names(error, "total", "axis", repr(axis))
    assert a.outputs == []


@pytest.mark.parametrize("shape, new_shape", [((2, 3), (4, 2)), ((2, 3), (4, -1)), ((5,), (2, 2)),
                                              ((0, 3), (0, -1))])
def test_a_reshape_to_the_wrong_size_names_the_node_and_the_shapes(shape, new_shape):
    a = fw.Input("a")
    fw.Reshape(a, new_shape, name="reshaped")
    with pytest.raises(ValueError) as error:
        run({a: np.ones(shape)})
    assert_names(error, "reshaped", str(shape), str(new_shape))


@pytest.mark.parametrize("new_shape, error_type", [((-1, -1), ValueError), ((2, -3), ValueError),
                                                   ((2.0, 3), TypeError), (("2",), TypeError)])
def test_a_reshape_to_an_impossible_shape_is_refused_when_built(new_shape, error_type):
    a = fw.Input("a")
    with pytest.raises(error_type) as error:
        fw.Reshape(a, new_shape, name="reshaped")
    assert_names(error, "reshaped", "shape")
    assert a.outputs == []


@pytest.mark.parametrize("axes", [(0, 0), (0, 1, 2), (0,), (0, 2)])
def test_transpose_axes_that_are_no_permutation(axes):
    a = fw.Input("a")
    fw.transpose(a, axes, name="turned")
    with pytest.raises(ValueError) as error:
        run({a: np.ones((2, 3))})
    assert_names(error, "turned", "(2, 3)", str(axes))


@pytest.mark.parametrize("index", [5, (0, 0, 0), np.array([0, 3]), np.array([0.5]),
                                   np.ones((2, 2), dtype=bool)])
def test_an_index_out_of_range_names_the_node_and_the_shape(index):
    a = fw.Input("a")
    fw.Index(a, index, name="picked")
    with pytest.raises(IndexError) as error:
        run({a: np.ones((3, 2))})
    assert_names(error, "picked", "(3, 2)")


def test_indexing_with_a_node_is_refused():
    a, i = fw.Input("a"), fw.Input("i")
    with pytest.raises(TypeError) as error:
        a[i]
    assert_names(error, "a", "node")
    assert a.outputs == [] and i.outputs == []


def test_flatten_of_a_scalar():
    a = fw.Input("a")
    fw.Flatten(a, name="flat")
    with pytest.raises(ValueError) as error:
        run({a: 3.0})
    assert_names(error, "flat", "()", "(N, ...)")
