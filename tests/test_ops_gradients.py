"""Every op's backward rule agrees with central differences of its forward pass.

The numerical derivative is computed here, independently of ``framework.gradient_check``:
∂L/∂θᵢ ≈ (L(θᵢ + ε) - L(θᵢ - ε)) / 2ε in float64, with an error of order ε². Each op's forward
value is also compared with a NumPy formula, so a wrong forward cannot hide behind a backward
that matches it. Shapes and values are drawn by hypothesis.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framework as fw

EPSILON = 1e-6
FAST = settings(max_examples=30, deadline=None)

values = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
# ReLU has a kink at 0: a central difference across it is meaningless, so stay away from it.
away_from_zero = st.one_of(st.floats(0.05, 2.0), st.floats(-2.0, -0.05))
sides = st.integers(1, 5)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
seeds = st.integers(0, 2**32 - 1)


def arrays(shape, elements=values):
    return hnp.arrays(np.float64, shape, elements=elements)


class WeightedSum(fw.Node):
    """L = Σ R ⊙ x for a fixed random R: a scalar head whose gradient ∂L/∂x = R reaches every
    element of x with a different weight, so a gradient summed or transposed wrongly shows."""

    kind = "loss"

    def __init__(self, x, weights):
        super().__init__([x], name="weighted_sum")
        self.weights = weights

    def forward(self):
        self.value = np.sum(self.weights * self.inputs[0].value)

    def backward(self):
        self.send_gradient(self.inputs[0], self.upstream_gradient() * self.weights)


def central_difference(graph, node):
    """∂loss/∂node.value by central differences, re-running the forward pass for every step."""
    original = np.array(node.value, dtype=np.float64)
    grad = np.zeros_like(original)
    for index in np.ndindex(original.shape):
        losses = []
        for step in (EPSILON, -EPSILON):
            shifted = original.copy()
            shifted[index] += step
            node.value = shifted
            fw.forward(graph)
            losses.append(np.asarray(graph[-1].value).item())
        grad[index] = (losses[0] - losses[1]) / (2 * EPSILON)
    node.value = original
    fw.forward(graph)
    return grad


def assert_gradients_match(graph, nodes):
    fw.forward(graph)
    fw.backward(graph)
    analytic = {node: node.gradients[node] for node in nodes}
    for node in nodes:
        assert analytic[node].shape == np.shape(node.value), node.name
        np.testing.assert_allclose(
            analytic[node], central_difference(graph, node), rtol=1e-5, atol=1e-6,
            err_msg=f"gradient of {node.name}",
        )


def check_op(output, feed, expected, seed):
    """Check ``output``'s forward value against ``expected``, then the gradient of every
    trainable node in ``feed`` through a random weighted sum of ``output``."""
    weights = np.random.default_rng(seed).standard_normal(np.shape(expected))
    WeightedSum(output, weights)
    graph = fw.topological_sort(feed)
    fw.forward(graph)
    np.testing.assert_allclose(output.value, expected, rtol=1e-12, atol=1e-12)
    assert_gradients_match(graph, [node for node in feed if node.is_trainable])


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {
    "Sigmoid": (fw.Sigmoid, sigmoid, values),
    "Tanh": (fw.Tanh, np.tanh, values),
    "ReLU": (fw.ReLU, lambda x: np.maximum(x, 0.0), away_from_zero),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@FAST
@given(data=st.data())
def test_activation_gradients(name, data):
    op, reference, elements = ACTIVATIONS[name]
    x_value = data.draw(arrays(data.draw(shapes), elements))
    x = fw.Parameter("x")
    check_op(op(x), {x: x_value}, reference(x_value), data.draw(seeds))


@pytest.mark.parametrize(
    "op, reference", [(fw.Add, np.add), (fw.Subtract, np.subtract), (fw.Multiply, np.multiply)]
)
@FAST
@given(data=st.data())
def test_elementwise_gradients_with_broadcasting(op, reference, data):
    pair = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    a_value, b_value = (data.draw(arrays(shape)) for shape in pair.input_shapes)
    a, b = fw.Parameter("a"), fw.Parameter("b")
    check_op(op(a, b), {a: a_value, b: b_value}, reference(a_value, b_value), data.draw(seeds))


@pytest.mark.parametrize("op, reference", [(fw.Add, np.add), (fw.Multiply, np.multiply)])
@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((3, 1), (1, 4)), ((2, 3), (3,)), ((3,), (2, 3)), ((), (2, 2)), ((2, 1, 3), (4, 1))],
)
def test_broadcasting_in_both_directions(op, reference, a_shape, b_shape):
    rng = np.random.default_rng(0)
    a_value, b_value = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    a, b = fw.Parameter("a"), fw.Parameter("b")
    check_op(op(a, b), {a: a_value, b: b_value}, reference(a_value, b_value), seed=1)


@FAST
@given(data=st.data(), m=sides, k=sides, n=sides)
def test_matmul_gradients(data, m, k, n):
    a_value, b_value = data.draw(arrays((m, k))), data.draw(arrays((k, n)))
    a, b = fw.Parameter("a"), fw.Parameter("b")
    check_op(fw.MatMul(a, b), {a: a_value, b: b_value}, a_value @ b_value, data.draw(seeds))


@FAST
@given(data=st.data(), m=sides, k=sides, n=sides,
       a_batch=st.sampled_from([(), (1,), (3,), (2, 1)]),
       b_batch=st.sampled_from([(), (1,), (3,), (1, 3)]),
       a_vector=st.booleans(), b_vector=st.booleans())
def test_matmul_on_stacks_and_vectors(data, m, k, n, a_batch, b_batch, a_vector, b_vector):
    """NumPy's matmul: stacks broadcast against each other, and a vector on the left is a row,
    on the right a column. (a_batch and b_batch always broadcast together.)"""
    a_shape = (k,) if a_vector else a_batch + (m, k)
    b_shape = (k,) if b_vector else b_batch + (k, n)
    a_value, b_value = data.draw(arrays(a_shape)), data.draw(arrays(b_shape))
    a, b = fw.Parameter("a"), fw.Parameter("b")
    check_op(a @ b, {a: a_value, b: b_value}, np.matmul(a_value, b_value), data.draw(seeds))


@FAST
@given(data=st.data())
def test_negate_gradient(data):
    a_value = data.draw(arrays(data.draw(shapes)))
    a = fw.Parameter("a")
    check_op(fw.Negate(a), {a: a_value}, -a_value, data.draw(seeds))


@pytest.mark.parametrize("make_x", [fw.Parameter, fw.Input], ids=["trainable x", "data x"])
@FAST
@given(data=st.data(), batch=sides, n_in=sides, n_out=sides)
def test_linear_gradients(make_x, data, batch, n_in, n_out):
    """Toward a trainable input, its weight and its bias; with a data input, toward the last two."""
    x_value = data.draw(arrays((batch, n_in)))
    w_value, b_value = data.draw(arrays((n_in, n_out))), data.draw(arrays((n_out,)))
    x, w, b = make_x("x"), fw.Parameter("w"), fw.Parameter("b")
    expected = x_value @ w_value + b_value
    check_op(fw.Linear(x, w, b), {x: x_value, w: w_value, b: b_value}, expected,
             data.draw(seeds))


@FAST
@given(data=st.data(), batch=sides)
def test_mse_gradients_with_batch_targets_for_column_predictions(data, batch):
    prediction_value = data.draw(arrays((batch, 1)))
    target_value = data.draw(arrays((batch,)))
    prediction, target = fw.Parameter("prediction"), fw.Parameter("target")
    expected = np.mean((prediction_value[:, 0] - target_value) ** 2)
    check_op(fw.MSE(prediction, target), {prediction: prediction_value, target: target_value},
             expected, data.draw(seeds))


@FAST
@given(data=st.data())
def test_mse_gradients_with_equal_shapes(data):
    shape = data.draw(shapes)
    prediction_value, target_value = data.draw(arrays(shape)), data.draw(arrays(shape))
    prediction, target = fw.Parameter("prediction"), fw.Parameter("target")
    expected = np.mean((prediction_value - target_value) ** 2)
    check_op(fw.MSE(prediction, target), {prediction: prediction_value, target: target_value},
             expected, data.draw(seeds))


@FAST
@given(data=st.data(), batch=sides, classes=st.integers(2, 5))
def test_softmax_cross_entropy_gradients(data, batch, classes):
    logits_value = data.draw(arrays((batch, classes), st.floats(-5.0, 5.0)))
    labels_value = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch,
                                                max_size=batch)))
    logits, labels = fw.Parameter("logits"), fw.Input("labels")
    probabilities = np.exp(logits_value) / np.exp(logits_value).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(probabilities[np.arange(batch), labels_value]))
    check_op(fw.SoftmaxCrossEntropy(logits, labels), {logits: logits_value, labels: labels_value},
             expected, data.draw(seeds))


# Each expression is evaluated twice: on a node, where it builds the graph, and on a plain array,
# where NumPy computes the expected value. Constants stand on either side of the operator.
OPERATOR_EXPRESSIONS = {
    "2 * a": lambda a, rows: 2 * a,
    "a * 2": lambda a, rows: a * 2,
    "a + 1.5": lambda a, rows: a + 1.5,
    "1.5 - a": lambda a, rows: 1.5 - a,
    "a - np.ones(3)": lambda a, rows: a - np.ones(3),
    "np.ones((1, 3)) + a": lambda a, rows: np.ones((1, 3)) + a,
    "np.arange(3.0) * a": lambda a, rows: np.arange(3.0) * a,
    "np.ones((rows, 1)) - a": lambda a, rows: np.ones((rows, 1)) - a,
    "a @ M": lambda a, rows: a @ np.arange(6.0).reshape(3, 2),
    "M @ a": lambda a, rows: np.linspace(-1.0, 1.0, 2 * rows).reshape(2, rows) @ a,
    "-a": lambda a, rows: -a,
    "a * a": lambda a, rows: a * a,
    "a + a": lambda a, rows: a + a,
    "a - a": lambda a, rows: a - a,
    "a * a - 3 * a + 1": lambda a, rows: a * a - 3 * a + 1,
}


@pytest.mark.parametrize("expression", OPERATOR_EXPRESSIONS)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), rows=sides)
def test_operators_with_constants_and_repeated_nodes(expression, data, rows):
    build = OPERATOR_EXPRESSIONS[expression]
    a_value = data.draw(arrays((rows, 3)))
    a = fw.Parameter("a")
    output = build(a, rows)
    assert isinstance(output, fw.Node), f"{expression} did not build a node"
    check_op(output, {a: a_value}, build(a_value, rows), data.draw(seeds))


@FAST
@given(data=st.data())
def test_fan_out_sums_the_gradients_of_both_consumers(data):
    shape = data.draw(shapes)
    a_value, b_value = data.draw(arrays(shape)), data.draw(arrays(shape))
    a, b = fw.Parameter("a"), fw.Parameter("b")
    hidden = fw.Tanh(a)  # used by two consumers below
    output = hidden * b + fw.Sigmoid(hidden)
    expected = np.tanh(a_value) * b_value + sigmoid(np.tanh(a_value))
    check_op(output, {a: a_value, b: b_value}, expected, data.draw(seeds))


@settings(max_examples=15, deadline=None)
@given(data=st.data(), batch=sides, n_in=sides, hidden=sides, classes=st.integers(2, 4))
def test_small_network_gradients(data, batch, n_in, hidden, classes):
    x = fw.Input("x")
    w1, b1, w2, b2 = (fw.Parameter(name) for name in ("w1", "b1", "w2", "b2"))
    labels = fw.Input("labels")
    logits = fw.Linear(fw.Sigmoid(fw.Linear(x, w1, b1)), w2, b2)
    fw.SoftmaxCrossEntropy(logits, labels)
    feed = {
        x: data.draw(arrays((batch, n_in))),
        w1: data.draw(arrays((n_in, hidden))), b1: data.draw(arrays((hidden,))),
        w2: data.draw(arrays((hidden, classes))), b2: data.draw(arrays((classes,))),
        labels: np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=batch,
                                            max_size=batch))),
    }
    assert_gradients_match(fw.topological_sort(feed), [w1, b1, w2, b2])


def test_sum_to_shape_undoes_broadcasting():
    grad = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(fw.sum_to_shape(grad, (3, 1)),
                                  grad.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(fw.sum_to_shape(grad, (4,)), grad.sum(axis=(0, 1)))
    np.testing.assert_array_equal(fw.sum_to_shape(grad, ()), grad.sum())
    assert fw.sum_to_shape(grad, (2, 3, 4)) is grad
