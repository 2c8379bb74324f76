"""Conv2d, MaxPool2d and Flatten against plain loops written here, and against central
differences.

The loop versions follow the definitions one output pixel at a time and share nothing with
the package (no im2col, no sliding windows): forward values and gradients must agree with
them, on shapes, strides and paddings drawn by hypothesis. Then bad input: each error names
the node and the shapes.
"""

import numpy as np
import pytest
from helpers import assert_names, run
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops_gradients import WeightedSum, arrays, check_op, seeds

import framework as fw

FAST = settings(max_examples=25, deadline=None)






def pad(x, p):
    padded = np.zeros(x.shape[:2] + (x.shape[2] + 2 * p, x.shape[3] + 2 * p))
    padded[:, :, p:p + x.shape[2], p:p + x.shape[3]] = x
    return padded


def conv_loops(x, w, b, stride, padding):
    """Y[n, f, i, j] = b[f] + Σ W[f, c, di, dj] X[n, c, i s + di, j s + dj], pixel by pixel."""
    xp = pad(x, padding)
    n_images, _, height, width = xp.shape
    filters, _, kh, kw = w.shape
    out_h, out_w = (height - kh) // stride + 1, (width - kw) // stride + 1
    y = np.zeros((n_images, filters, out_h, out_w))
    for n in range(n_images):
        for f in range(filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    y[n, f, i, j] = np.sum(window * w[f]) + (0.0 if b is None else b[f])
    return y


def conv_gradients_loops(x, w, g, stride, padding):
    """∂L/∂X, ∂L/∂W and ∂L/∂b for G = ∂L/∂Y: each output pixel sends G[n, f, i, j] times the
    weight back to its window of X, and times its window of X to the weight."""
    xp = pad(x, padding)
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(w.shape[0])
    kh, kw = w.shape[2:]
    for n, f, i, j in np.ndindex(g.shape):
        rows = slice(i * stride, i * stride + kh)
        columns = slice(j * stride, j * stride + kw)
        dxp[n, :, rows, columns] += g[n, f, i, j] * w[f]
        dw[f] += g[n, f, i, j] * xp[n, :, rows, columns]
        db[f] += g[n, f, i, j]
    return dxp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]], dw, db


def maxpool_loops(x, k, stride):
    """The maximum of each window, and ∂L/∂X for G = ∂L/∂Y: G goes to the first maximum of
    its window in row-major order (a tie sends it to one position only)."""
    n_images, channels, height, width = x.shape
    out_h, out_w = (height - k) // stride + 1, (width - k) // stride + 1
    y = np.zeros((n_images, channels, out_h, out_w))
    first_max = {}
    for n, c, i, j in np.ndindex(y.shape):
        window = x[n, c, i * stride:i * stride + k, j * stride:j * stride + k]
        y[n, c, i, j] = window.max()
        di, dj = np.unravel_index(np.argmax(window), window.shape)
        first_max[n, c, i, j] = (n, c, i * stride + di, j * stride + dj)

    def backward(g):
        dx = np.zeros_like(x)
        for position, target in first_max.items():
            dx[target] += g[position]
        return dx

    return y, backward


@st.composite
def convolutions(draw):
    """Shapes, stride and padding of a convolution whose kernel fits the padded input."""
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, padding = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    height = draw(st.integers(max(1, kh - 2 * padding), 6))
    width = draw(st.integers(max(1, kw - 2 * padding), 6))
    return (n, c_in, height, width), (c_out, c_in, kh, kw), stride, padding


@FAST
@given(data=st.data(), setup=convolutions(), with_bias=st.booleans())
def test_conv2d_against_loops(data, setup, with_bias):
    x_shape, w_shape, stride, padding = setup
    x_value, w_value = data.draw(arrays(x_shape)), data.draw(arrays(w_shape))
    b_value = data.draw(arrays((w_shape[0],))) if with_bias else None
    x, w = fw.Parameter("x"), fw.Parameter("w")
    b = fw.Parameter("b") if with_bias else None
    output = fw.Conv2d(x, w, b, stride=stride, padding=padding)
    expected = conv_loops(x_value, w_value, b_value, stride, padding)
    g = np.random.default_rng(data.draw(seeds)).standard_normal(expected.shape)
    WeightedSum(output, g)
    feed = {x: x_value, w: w_value} | ({b: b_value} if with_bias else {})
    graph = fw.topological_sort(feed)
    fw.forward(graph)
    fw.backward(graph)
    np.testing.assert_allclose(output.value, expected, rtol=1e-12, atol=1e-12)
    dx, dw, db = conv_gradients_loops(x_value, w_value, g, stride, padding)
    np.testing.assert_allclose(x.gradients[x], dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.gradients[w], dw, rtol=1e-12, atol=1e-12)
    if with_bias:
        np.testing.assert_allclose(b.gradients[b], db, rtol=1e-12, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(data=st.data(), setup=convolutions())
def test_conv2d_gradients_against_central_differences(data, setup):
    x_shape, w_shape, stride, padding = setup
    x_value, w_value = data.draw(arrays(x_shape)), data.draw(arrays(w_shape))
    b_value = data.draw(arrays((w_shape[0],)))
    x, w, b = fw.Parameter("x"), fw.Parameter("w"), fw.Parameter("b")
    check_op(fw.Conv2d(x, w, b, stride, padding), {x: x_value, w: w_value, b: b_value},
             conv_loops(x_value, w_value, b_value, stride, padding), data.draw(seeds))


def test_conv2d_sends_no_gradient_toward_data():
    x, w = fw.Input("x"), fw.Parameter("w")
    output = fw.Conv2d(x, w, padding=1)
    loss = output.sum()
    graph = run({x: np.ones((2, 1, 4, 4)), w: np.ones((3, 1, 3, 3))})
    fw.backward(graph, loss)
    assert x not in output.gradients and w.gradients[w].shape == (3, 1, 3, 3)
    assert output.value.dtype == np.float64


@st.composite
def poolings(draw):
    k = draw(st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)),
             draw(st.integers(k, 7)), draw(st.integers(k, 7)))
    return shape, k, stride


@FAST
@given(data=st.data(), setup=poolings())
def test_maxpool_against_loops_with_ties(data, setup):
    """Values from {-1, 0, 1} make ties common: each window's gradient still goes to one
    position, the first maximum, and overlapping windows add theirs."""
    shape, k, stride = setup
    x_value = data.draw(arrays(shape, st.sampled_from([-1.0, 0.0, 1.0])))
    x = fw.Parameter("x")
    output = fw.MaxPool2d(x, k, stride)
    expected, loop_backward = maxpool_loops(x_value, k, k if stride is None else stride)
    g = np.random.default_rng(data.draw(seeds)).standard_normal(expected.shape)
    WeightedSum(output, g)
    graph = fw.topological_sort({x: x_value})
    fw.forward(graph)
    fw.backward(graph)
    np.testing.assert_array_equal(output.value, expected)
    np.testing.assert_allclose(x.gradients[x], loop_backward(g), rtol=1e-12, atol=1e-12)


@FAST
@given(data=st.data(), setup=poolings())
def test_maxpool_gradients_against_central_differences(data, setup):
    """Distinct values 0.1 apart, so that no nudge of 1e-6 changes which one is the maximum."""
    shape, k, stride = setup
    rng = np.random.default_rng(data.draw(seeds))
    x_value = 0.1 * rng.permutation(np.prod(shape)).reshape(shape)
    x = fw.Parameter("x")
    expected, _ = maxpool_loops(x_value, k, k if stride is None else stride)
    check_op(fw.MaxPool2d(x, k, stride), {x: x_value}, expected, data.draw(seeds))


def test_a_small_cnn_passes_the_gradient_check():
    rng = np.random.default_rng(0)
    x, labels = fw.Input("x"), fw.Input("labels")
    w1, b1, w2, b2 = (fw.Parameter(name) for name in ("w1", "b1", "w2", "b2"))
    hidden = fw.MaxPool2d(fw.Tanh(fw.Conv2d(x, w1, b1, padding=1)), 2)
    fw.SoftmaxCrossEntropy(fw.Linear(fw.Flatten(hidden), w2, b2), labels)
    graph = fw.topological_sort({
        x: rng.standard_normal((3, 2, 6, 6)), labels: np.array([0, 2, 1]),
        w1: rng.standard_normal((4, 2, 3, 3)), b1: rng.standard_normal(4),
        w2: rng.standard_normal((36, 3)), b2: rng.standard_normal(3),
    })
    errors = fw.gradient_check(graph)
    assert set(errors) == {"w1", "b1", "w2", "b2"}
    assert max(errors.values()) < 1e-6, errors


# Bad input.

def conv_feed(x_shape, w_shape, b_shape=None, **options):
    x, w = fw.Input("images"), fw.Parameter("kernel")
    b = fw.Parameter("offset") if b_shape else None
    fw.Conv2d(x, w, b, name="conv", **options)
    feed = {x: np.ones(x_shape), w: np.ones(w_shape)}
    if b_shape:
        feed[b] = np.ones(b_shape)
    return feed


@pytest.mark.parametrize("x_shape, w_shape, b_shape, options, texts", [
    ((2, 3, 5, 5), (4, 2, 3, 3), None, {}, ["3 channels", "C_in = 2"]),
    ((3, 5, 5), (4, 3, 3, 3), None, {}, ["(N, C_in, H, W)"]),
    ((2, 3, 5, 5), (4, 3, 3), None, {}, ["(C_out, C_in, kH, kW)"]),
    ((2, 1, 2, 2), (1, 1, 3, 3), None, {}, ["3×3", "padded by 0"]),
    ((2, 1, 2, 5), (1, 1, 5, 1), None, {"padding": 1}, ["5×1", "padded by 1", "(4×7)"]),
    ((2, 3, 5, 5), (4, 3, 3, 3), (3,), {}, ["offset", "(3,)", "(4,)"]),
])
def test_conv2d_bad_shapes_name_the_node_and_the_shapes(x_shape, w_shape, b_shape, options,
                                                         texts):
    feed = conv_feed(x_shape, w_shape, b_shape, **options)
    with pytest.raises(ValueError) as error:
        run(feed)
    assert_names(error, "conv", str(x_shape), str(w_shape), *texts)


@pytest.mark.parametrize("options, error_type", [
    ({"stride": 0}, ValueError), ({"stride": -1}, ValueError), ({"stride": 1.5}, TypeError),
    ({"stride": True}, TypeError), ({"stride": "2"}, TypeError), ({"stride": (1, 1)}, TypeError),
    ({"padding": -1}, ValueError), ({"padding": 0.5}, TypeError), ({"padding": False}, TypeError),
])
def test_conv2d_stride_and_padding_must_be_ints(options, error_type):
    x, w = fw.Input("images"), fw.Parameter("kernel")
    with pytest.raises(error_type) as error:
        fw.Conv2d(x, w, name="conv", **options)
    name = next(iter(options))
    assert_names(error, "conv", name, repr(options[name]))
    assert x.outputs == [] and w.outputs == [], "a refused node stays linked to its inputs"


def test_numpy_ints_are_ints():
    x, w = fw.Input("images"), fw.Parameter("kernel")
    output = fw.Conv2d(x, w, stride=np.int64(2), padding=np.int32(1))
    run({x: np.ones((1, 1, 4, 4)), w: np.ones((1, 1, 3, 3))})
    assert output.value.shape == (1, 1, 2, 2)


@pytest.mark.parametrize("options, error_type", [
    ({"kernel_size": 0}, ValueError), ({"kernel_size": True}, TypeError),
    ({"kernel_size": 2.0}, TypeError), ({"kernel_size": 2, "stride": 0}, ValueError),
    ({"kernel_size": 2, "stride": 1.0}, TypeError),
])
def test_maxpool_kernel_size_and_stride_must_be_positive_ints(options, error_type):
    x = fw.Input("maps")
    with pytest.raises(error_type) as error:
        fw.MaxPool2d(x, name="pool", **options)
    assert_names(error, "pool", repr(list(options.values())[-1]))
    assert x.outputs == []


@pytest.mark.parametrize("shape", [(1, 1, 2, 5), (1, 1, 5, 2), (1, 5, 5), (5, 5)])
def test_maxpool_input_too_small_or_not_4d(shape):
    x = fw.Input("maps")
    fw.MaxPool2d(x, 3, name="pool")
    with pytest.raises(ValueError) as error:
        run({x: np.ones(shape)})
    assert_names(error, "pool", str(shape), "(N, C, H, W)", "kernel_size = 3")
