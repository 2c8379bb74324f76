"""The layers (``framework.layers``), dropout and batch normalization, against references that
share nothing with the package.

Every layer's value is compared with a NumPy formula (or, for convolution and pooling, with the
plain loops of test_convolution), and its gradients, toward the input and every parameter,
with central differences computed here, on shapes drawn by hypothesis. Batch normalization
follows the formulas of PyTorch's documentation, running statistics included, over several
steps; dropout is checked for its statistics and its masks. Then the module system itself
(names, order, train/eval with no new sort, initial values) and bad input, whose errors must
name the layer. A last test compares with PyTorch when it is installed; every check it makes
is also made above with NumPy only.
"""

import itertools
import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import assert_names
from hypothesis import given, settings
from hypothesis import strategies as st
from test_convolution import conv_loops, convolutions, maxpool_loops
from test_ops_gradients import WeightedSum, seeds

import framework as fw
from framework import layers as L

FAST = settings(max_examples=15, deadline=None)
EPSILON = 1e-6


# Central differences, with a hook that runs before every forward pass: dropout's test puts
# the same random generator back each time, so that every pass draws the same mask.

def central_differences(graph, loss, node, before_forward=lambda: None):
    """∂loss/∂node by (L(θᵢ + ε) - L(θᵢ - ε)) / 2ε, one forward pass per nudge."""
    original = np.array(node.value, dtype=np.float64)
    grad = np.zeros_like(original)
    for index in np.ndindex(original.shape):
        values = []
        for step in (EPSILON, -EPSILON):
            shifted = original.copy()
            shifted[index] += step
            node.value = shifted
            before_forward()
            fw.forward(graph)
            values.append(float(loss.value))
        grad[index] = (values[0] - values[1]) / (2 * EPSILON)
    node.value = original
    before_forward()
    fw.forward(graph)
    return grad


def check_layer(layer, x_value, expected, seed, before_forward=lambda: None):
    """The layer on a trainable x: its value is ``expected``, and the gradients of x and of
    every parameter through a random weighted sum of the output agree with central
    differences. Returns the output node."""
    x = fw.Parameter("x")
    output = layer(x)
    loss = WeightedSum(output, np.random.default_rng(seed).standard_normal(expected.shape))
    graph = fw.topological_sort({x: x_value})  # the layer's parameters hold values already
    before_forward()
    fw.forward(graph)
    np.testing.assert_allclose(output.value, expected, rtol=1e-10, atol=1e-10)
    fw.backward(graph)
    nodes = [x, *layer.parameters()]
    analytic = {node: node.gradients[node] for node in nodes}
    for node in nodes:
        numeric = central_differences(graph, loss, node, before_forward)
        assert analytic[node].shape == np.shape(node.value), node.name
        np.testing.assert_allclose(analytic[node], numeric, rtol=1e-5, atol=1e-6,
                                   err_msg=f"gradient of {node.name}")
    return output


def normal(seed, shape, scale=1.0, offset=0.0):
    return offset + scale * np.random.default_rng(seed).standard_normal(shape)


# Linear, activations, Flatten, Conv2d, MaxPool2d, Sequential.

@FAST
@given(batch=st.integers(1, 4), inputs=st.integers(1, 5), outputs=st.integers(1, 4),
       bias=st.booleans(), seed=seeds)
def test_linear_is_x_w_plus_b_with_the_weight_in_out(batch, inputs, outputs, bias, seed):
    layer = L.Linear(inputs, outputs, bias=bias, rng=np.random.default_rng(seed))
    assert layer.weight.value.shape == (inputs, outputs)
    if bias:  # a bias of zeros would hide a bias added twice or not at all
        layer.bias.value = normal(seed + 1, outputs)
    x_value = normal(seed + 2, (batch, inputs))
    expected = x_value @ layer.weight.value + (layer.bias.value if bias else 0.0)
    check_layer(layer, x_value, expected, seed)
    assert list(layer.named_parameters()) == (["weight", "bias"] if bias else ["weight"])


ELEMENTWISE = {
    "ReLU": (L.ReLU, lambda x: np.maximum(x, 0.0)),
    "Sigmoid": (L.Sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x))),
    "Tanh": (L.Tanh, np.tanh),
    "Flatten": (L.Flatten, lambda x: x.reshape(len(x), -1)),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@FAST
@given(shape=hnp.array_shapes(min_dims=2, max_dims=4, max_side=3), seed=seeds)
def test_parameterless_layers(name, shape, seed):
    layer_class, reference = ELEMENTWISE[name]
    layer = layer_class()
    x_value = normal(seed, shape)
    check_layer(layer, x_value, reference(x_value), seed)
    assert layer.parameters() == [] and repr(layer) == f"{name}()"


@FAST
@given(setup=convolutions(), bias=st.booleans(), seed=seeds)
def test_conv2d_layer_against_loops(setup, bias, seed):
    x_shape, (c_out, c_in, kh, kw), stride, padding = setup
    layer = L.Conv2d(c_in, c_out, (kh, kw), stride=stride, padding=padding, bias=bias,
                     rng=np.random.default_rng(seed))
    assert layer.weight.value.shape == (c_out, c_in, kh, kw)
    if bias:
        assert layer.bias.value.shape == (c_out,)
        layer.bias.value = normal(seed + 1, c_out)
    x_value = normal(seed + 2, x_shape)
    expected = conv_loops(x_value, layer.weight.value, layer.bias.value if bias else None,
                          stride, padding)
    check_layer(layer, x_value, expected, seed)


@FAST
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(2, 6), w=st.integers(2, 6),
       k=st.integers(1, 2), stride=st.none() | st.integers(1, 3), seed=seeds)
def test_maxpool2d_layer_against_loops(n, c, h, w, k, stride, seed):
    x_value = normal(seed, (n, c, h, w))
    expected, _ = maxpool_loops(x_value, k, k if stride is None else stride)
    check_layer(L.MaxPool2d(k, stride), x_value, expected, seed)


@FAST
@given(batch=st.integers(1, 3), sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
       seed=seeds)
def test_sequential_is_the_layers_one_after_the_other(batch, sizes, seed):
    rng = np.random.default_rng(seed)
    layers = []
    for inputs, outputs in itertools.pairwise(sizes):
        layers += [L.Linear(inputs, outputs, rng=rng), L.Tanh()]
    model = L.Sequential(*layers)
    x_value = expected = normal(seed, (batch, sizes[0]))
    for layer in layers[::2]:
        layer.bias.value = rng.normal(size=layer.out_features)
        expected = np.tanh(expected @ layer.weight.value + layer.bias.value)
    check_layer(model, x_value, expected, seed)
    assert len(model) == len(layers) and list(model) == layers and model[-1] is layers[-1]
    assert list(model.named_parameters()) == [f"{i}.{name}" for i in range(0, len(layers), 2)
                                              for name in ("weight", "bias")]


def test_a_model_of_layers_passes_the_gradient_check():
    """fw.gradient_check reports by name: the dotted names are unique in a model."""
    rng = np.random.default_rng(0)
    model = L.Sequential(L.Conv2d(1, 2, 3, padding=1, rng=rng), L.BatchNorm2d(2), L.ReLU(),
                         L.MaxPool2d(2), L.Flatten(), L.Linear(8, 3, rng=rng),
                         L.BatchNorm1d(3), L.Sigmoid(), L.Linear(3, 2, rng=rng))
    x, y = fw.Input("x"), fw.Input("y")
    fw.SoftmaxCrossEntropy(model(x), y, name="loss")
    graph = fw.topological_sort({x: normal(1, (4, 1, 4, 4)), y: np.array([0, 1, 1, 0])})
    errors = fw.gradient_check(graph)
    assert set(errors) == set(model.named_parameters())
    assert max(errors.values()) < 1e-6, errors


# Batch normalization: PyTorch's formulas, written out here with NumPy.

def batch_norm_reference(x, gamma, beta, eps=1e-5):
    """y = γ (x - mean) / √(var + ε) + β, the mean and the biased variance of each channel
    (axis 1) over the batch and every other axis; and the unbiased variance, for the running
    estimate (torch.nn.BatchNorm1d's documentation)."""
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    y = gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y + beta.reshape(shape), mean, x.var(axis=axes, ddof=1)


def eval_reference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    normalized = (x - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + eps)
    return gamma.reshape(shape) * normalized + beta.reshape(shape)


batch_norm_shapes = st.one_of(
    st.tuples(st.integers(2, 5), st.integers(1, 4)).map(lambda s: ("1d", s)),
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
    .filter(lambda s: s[0] * s[2] * s[3] > 1).map(lambda s: ("2d", s)),
)


def make_batch_norm(kind, channels, **options):
    return (L.BatchNorm1d if kind == "1d" else L.BatchNorm2d)(channels, **options)


@FAST
@given(kind_shape=batch_norm_shapes, seed=seeds)
def test_batch_norm_in_training_normalizes_with_the_batch_statistics(kind_shape, seed):
    kind, shape = kind_shape
    layer = make_batch_norm(kind, shape[1])
    assert np.array_equal(layer.weight.value, np.ones(shape[1]))
    assert np.array_equal(layer.bias.value, np.zeros(shape[1]))
    layer.weight.value = normal(seed, shape[1], offset=1.0)
    layer.bias.value = normal(seed + 1, shape[1])
    # A channel of values far from 0 and of their own size: the mean and variance matter.
    x_value = normal(seed + 2, shape, scale=2.0, offset=3.0)
    expected, _, _ = batch_norm_reference(x_value, layer.weight.value, layer.bias.value)
    check_layer(layer, x_value, expected, seed)


@FAST
@given(kind_shape=batch_norm_shapes, seed=seeds)
def test_batch_norm_in_evaluation_uses_the_running_statistics(kind_shape, seed):
    kind, shape = kind_shape
    layer = make_batch_norm(kind, shape[1]).eval()
    layer.weight.value = normal(seed, shape[1], offset=1.0)
    layer.bias.value = normal(seed + 1, shape[1])
    layer.running_mean = normal(seed + 2, shape[1])
    layer.running_var = np.exp(normal(seed + 3, shape[1]))
    x_value = normal(seed + 4, shape)
    expected = eval_reference(x_value, layer.weight.value, layer.bias.value,
                              layer.running_mean, layer.running_var)
    check_layer(layer, x_value, expected, seed)


@pytest.mark.parametrize("kind, shape, momentum", [("1d", (8, 3), 0.1), ("1d", (5, 4, 3), 0.1),
                                                   ("2d", (4, 2, 3, 3), 0.1),
                                                   ("2d", (2, 3, 2, 2), 0.3)])
def test_running_statistics_over_several_training_steps(kind, shape, momentum):
    """running ← (1 - momentum) running + momentum · statistic of the batch, the variance
    unbiased (divided by m - 1, m = the values of a channel in the batch), step after step,
    while SGD trains γ and β; then evaluation uses them, and changes them no more."""
    layer = make_batch_norm(kind, shape[1], momentum=momentum)
    x, y = fw.Input("x"), fw.Input("y")
    out = layer(x)
    fw.MSE(out, y, name="loss")
    targets = normal(7, shape)
    graph = fw.topological_sort({x: np.zeros(shape), y: targets})
    optimizer = fw.SGD(0.1)
    mean, var = np.zeros(shape[1]), np.ones(shape[1])
    for step in range(6):
        batch = normal(step, shape, scale=step + 1.0, offset=step - 2.0)
        gamma, beta = layer.weight.value, layer.bias.value
        x.value = batch
        fw.forward(graph)
        expected, batch_mean, batch_var = batch_norm_reference(batch, gamma, beta)
        np.testing.assert_allclose(out.value, expected, rtol=1e-10, atol=1e-10)
        mean = (1 - momentum) * mean + momentum * batch_mean
        var = (1 - momentum) * var + momentum * batch_var
        np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.running_var, var, rtol=1e-12, atol=1e-12)
        fw.backward(graph)
        optimizer.step(graph)
    assert not np.allclose(layer.weight.value, 1.0)  # trained
    assert layer.eval() is layer and not layer.training
    x.value = normal(99, shape)
    for _ in range(2):
        fw.forward(graph)
        np.testing.assert_allclose(
            out.value, eval_reference(x.value, layer.weight.value, layer.bias.value, mean, var),
            rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12, atol=1e-12)
    assert list(layer.named_buffers()) == ["running_mean", "running_var"]
    assert layer.buffers()[0] is layer.running_mean


def test_backward_uses_the_statistics_of_the_forward_pass_not_the_current_mode():
    layer = L.BatchNorm1d(2)
    x = fw.Parameter("x")
    loss = WeightedSum(layer(x), normal(1, (4, 2)))
    graph = fw.topological_sort({x: normal(2, (4, 2), offset=1.0)})
    fw.forward(graph)
    layer.eval()  # switched between the passes: the gradient is still the training one
    fw.backward(graph)
    in_training = x.gradients[x]
    layer.train()
    fw.forward(graph)
    fw.backward(graph)
    np.testing.assert_allclose(in_training, x.gradients[x], rtol=1e-12)
    assert np.allclose(in_training.sum(axis=0), 0.0)  # a shift of a channel changes nothing
    assert loss.value is not None


def test_a_layer_called_twice_shares_its_parameters_and_running_statistics():
    """Two graphs built from one layer (here sorted together, both fed): one set of
    parameters, one pair of running estimates, one switch to evaluation."""
    layer = L.Sequential(L.Linear(3, 2, rng=np.random.default_rng(0)), L.BatchNorm1d(2))
    xa, xb = fw.Input("xa"), fw.Input("xb")
    ya, yb = layer(xa), layer(xb)
    graph = fw.topological_sort({xa: normal(1, (4, 3)), xb: normal(2, (5, 3))})
    fw.forward(graph)
    batch_norm = layer[1]
    _, mean_a, var_a = batch_norm_reference(xa.value @ layer[0].weight.value, np.ones(2),
                                            np.zeros(2))
    _, mean_b, var_b = batch_norm_reference(xb.value @ layer[0].weight.value, np.ones(2),
                                            np.zeros(2))
    order = [graph.index(ya), graph.index(yb)]
    first, second = (mean_a, mean_b) if order[0] < order[1] else (mean_b, mean_a)
    np.testing.assert_allclose(batch_norm.running_mean, 0.1 * 0.9 * first + 0.1 * second)
    assert sum(isinstance(node, fw.Parameter) for node in graph) == 4
    layer.eval()
    fw.forward(graph)
    np.testing.assert_allclose(ya.value, eval_reference(
        xa.value @ layer[0].weight.value, np.ones(2), np.zeros(2), batch_norm.running_mean,
        batch_norm.running_var))
    assert var_a.shape == var_b.shape == (2,)


def test_the_batch_norm_node_on_its_own():
    """fw.BatchNorm without a layer keeps its own settings and running estimates."""
    x, gamma, beta = fw.Input("x"), fw.Parameter("gamma"), fw.Parameter("beta")
    node = fw.BatchNorm(x, gamma, beta, momentum=0.5, name="bn")
    x_value = normal(0, (6, 3, 2), offset=2.0)
    graph = fw.topological_sort({x: x_value, gamma: np.full(3, 2.0), beta: np.ones(3)})
    fw.forward(graph)
    expected, mean, var = batch_norm_reference(x_value, np.full(3, 2.0), np.ones(3))
    np.testing.assert_allclose(node.value, expected, rtol=1e-12)
    np.testing.assert_allclose(node.running_mean, 0.5 * mean)
    np.testing.assert_allclose(node.running_var, 0.5 + 0.5 * var)
    node.training = False
    fw.forward(graph)
    np.testing.assert_allclose(node.value, eval_reference(
        x_value, np.full(3, 2.0), np.ones(3), 0.5 * mean, 0.5 + 0.5 * var), rtol=1e-12)


# Dropout: its statistics, and its masks.

@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p):
    layer = L.Dropout(p, rng=np.random.default_rng(0))
    x = fw.Input("x")
    out = layer(x)
    n = 200_000
    graph = fw.topological_sort({x: np.ones((400, n // 400))})
    fw.forward(graph)
    zeroed = np.mean(out.value == 0.0)
    assert abs(zeroed - p) < 5 * math.sqrt(p * (1 - p) / n)  # five standard deviations
    assert np.allclose(out.value[out.value != 0.0], 1.0 / (1.0 - p), rtol=1e-15, atol=0)
    assert abs(out.value.mean() - 1.0) < 5 * math.sqrt(p / (1 - p) / n)  # E[y] = x


def test_dropout_keeps_the_mean_of_any_input():
    x_value = normal(0, (300, 300), scale=2.0, offset=1.5)
    x = fw.Input("x")
    out = L.Dropout(0.4, rng=np.random.default_rng(1))(x)
    fw.forward(fw.topological_sort({x: x_value}))
    # Each y = M x with E[M] = 1, Var[M] = p / (1 - p): the mean of y is that of x, up to noise.
    noise = np.sqrt(0.4 / 0.6 * np.mean(x_value ** 2) / x_value.size)
    assert abs(out.value.mean() - x_value.mean()) < 5 * noise
    kept = out.value != 0
    np.testing.assert_allclose(out.value[kept], x_value[kept] / 0.6, rtol=1e-15)


def test_dropout_has_a_new_mask_every_pass_and_the_same_in_backward():
    layer = L.Dropout(0.5, rng=np.random.default_rng(0))
    x = fw.Parameter("x")
    out = layer(x)
    upstream = normal(1, (50, 40))
    WeightedSum(out, upstream)
    graph = fw.topological_sort({x: normal(2, (50, 40))})
    masks = []
    for _ in range(3):
        fw.forward(graph)
        fw.backward(graph)
        kept = out.value != 0
        masks.append(kept)
        np.testing.assert_array_equal(out.value, x.value * kept * 2.0)
        # ∂y/∂x = M: zero where the entry was dropped, 1 / (1 - p) where it was kept.
        np.testing.assert_array_equal(x.gradients[x], upstream * kept * 2.0)
        np.testing.assert_array_equal(out.mask, kept * 2.0)
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    agreement = np.mean(masks[0] == masks[1])  # independent masks: p² + (1 - p)² = 1/2
    assert 0.4 < agreement < 0.6


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), p=st.floats(0.0, 0.9),
       seed=seeds)
def test_dropout_gradient_with_the_mask_held_still(shape, p, seed):
    """With the generator put back before every pass, each pass draws one mask: the function
    is then x ↦ M x, and its central differences must match backward's gradient."""
    layer = L.Dropout(p)

    def same_mask():
        layer.rng = np.random.default_rng(seed)

    x_value = normal(seed, shape)
    keep = np.random.default_rng(seed).random(shape) >= p
    expected = x_value * keep / (1 - p) if p > 0 else x_value
    check_layer(layer, x_value, expected, seed, before_forward=same_mask)


def test_dropout_in_evaluation_is_the_identity_and_switches_without_a_new_sort():
    model = L.Sequential(L.Linear(4, 6, rng=np.random.default_rng(0)), L.Dropout(0.5))
    x = fw.Parameter("x")
    out = model(x)
    upstream = normal(1, (3, 6))
    WeightedSum(out, upstream)
    graph = fw.topological_sort({x: normal(2, (3, 4))})
    linear = out.inputs[0]
    assert model.eval() is model and not model.training and not model[1].training
    fw.forward(graph)
    fw.backward(graph)
    assert out.value is linear.value and out.mask is None
    np.testing.assert_array_equal(linear.gradients[x], upstream @ model[0].weight.value.T)
    assert model.train() is model and model[1].training
    fw.forward(graph)  # the same graph, not sorted again: dropout is on at once
    assert np.any(out.value == 0) and out.mask is not None
    model[1].training = False  # the attribute alone, as in PyTorch, also switches it
    fw.forward(graph)
    assert out.value is linear.value


def test_dropout_of_zero_keeps_everything_in_training():
    x = fw.Parameter("x")
    out = L.Dropout(0.0)(x)
    x_value = normal(0, (5, 5))
    fw.forward(fw.topological_sort({x: x_value}))
    np.testing.assert_array_equal(out.value, x_value)


def test_the_dropout_node_on_its_own():
    x = fw.Input("x")
    node = fw.Dropout(x, p=0.25, rng=np.random.default_rng(0), name="drop")
    graph = fw.topological_sort({x: np.ones((100, 100))})
    fw.forward(graph)
    assert set(np.unique(node.value)) == {0.0, 1 / 0.75}
    node.training = False
    fw.forward(graph)
    np.testing.assert_array_equal(node.value, np.ones((100, 100)))


# The module system: names, order, modes, initial values.

class TwoLayers(L.Layer):
    def __init__(self, rng):
        super().__init__()
        self.fc1 = L.Linear(4, 8, rng=rng)
        self.norm = L.BatchNorm1d(8)
        self.drop = L.Dropout(0.5, rng=rng)
        self.fc2 = L.Linear(8, 3, rng=rng)

    def forward(self, x):
        return self.fc2(self.drop(fw.ReLU(self.norm(self.fc1(x)))))


def test_named_parameters_follow_pytorch_and_name_the_nodes():
    rng = np.random.default_rng(0)
    model = L.Sequential(TwoLayers(rng), L.ReLU(), L.Linear(3, 2, rng=rng))
    expected = ["0.fc1.weight", "0.fc1.bias", "0.norm.weight", "0.norm.bias", "0.fc2.weight",
                "0.fc2.bias", "2.weight", "2.bias"]
    named = model.named_parameters()
    assert list(named) == expected
    assert [node.name for node in model.parameters()] == expected
    assert all(isinstance(node, fw.Parameter) and node.is_trainable for node in named.values())
    assert named["0.fc1.weight"] is model[0].fc1.weight
    assert list(model.named_buffers()) == ["0.norm.running_mean", "0.norm.running_var"]
    assert list(model.named_layers()) == ["", "0", "0.fc1", "0.norm", "0.drop", "0.fc2", "1",
                                          "2"]
    assert model[0].fc1.path == "0.fc1" and model.path == ""
    # The nodes a layer builds are named after it too, for drawings and errors.
    x = fw.Input("x")
    out = model(x)
    assert out.name == "2" and out.inputs[0].name == "1"
    assert model.parameters() == model.parameters()  # a fixed order, every time


def test_a_layer_alone_has_plain_names_and_is_renamed_when_placed():
    layer = L.Linear(2, 3)
    assert [node.name for node in layer.parameters()] == ["weight", "bias"]
    model = L.Sequential(L.ReLU(), layer)
    assert [node.name for node in layer.parameters()] == ["1.weight", "1.bias"]

    class Outer(L.Layer):
        def __init__(self):
            super().__init__()
            self.body = model

    Outer()
    assert [node.name for node in layer.parameters()] == ["body.1.weight", "body.1.bias"]


def test_train_and_eval_reach_every_layer_and_return_it():
    model = L.Sequential(TwoLayers(np.random.default_rng(0)), L.Dropout(0.1))
    layers = list(model.named_layers().values())
    assert all(layer.training for layer in layers)
    assert model.eval() is model and not any(layer.training for layer in layers)
    assert model.train() is model and all(layer.training for layer in layers)
    assert model.train(False) is model and not any(layer.training for layer in layers)
    with pytest.raises(TypeError, match="True or False"):
        model.train("no")


def test_parameters_hold_their_initial_values_so_only_data_is_fed():
    rng = np.random.default_rng(0)
    model = L.Sequential(L.Linear(3, 5, rng=rng), L.ReLU(), L.Linear(5, 2, rng=rng))
    x, y = fw.Input("x"), fw.Input("y")
    loss = fw.SoftmaxCrossEntropy(model(x), y)
    graph = fw.topological_sort({x: normal(0, (4, 3)), y: np.array([0, 1, 1, 0])})
    assert set(fw.trainables(graph)) == set(model.parameters())
    fw.forward(graph)
    fw.backward(graph)
    before = [node.value for node in model.parameters()]
    fw.SGD(0.1).step(graph)
    assert all(not np.array_equal(old, node.value)
               for old, node in zip(before, model.parameters(), strict=True))
    assert np.isfinite(loss.value)


def test_he_initialization_drawn_from_rng():
    """W ~ N(0, 2 / fan_in), b = 0: the very draws of notebooks 08 and 11 from one generator."""
    layer = L.Linear(64, 128, rng=np.random.default_rng(1))
    expected = np.random.default_rng(1).normal(0.0, np.sqrt(2 / 64), (64, 128))
    np.testing.assert_array_equal(layer.weight.value, expected)
    assert np.array_equal(layer.bias.value, np.zeros(128))
    big = L.Linear(500, 400, rng=np.random.default_rng(2))
    assert abs(big.weight.value.std() - np.sqrt(2 / 500)) < 0.01 * np.sqrt(2 / 500)
    conv = L.Conv2d(8, 16, 3, rng=np.random.default_rng(3))
    expected = np.random.default_rng(3).normal(0.0, np.sqrt(2 / 72), (16, 8, 3, 3))
    np.testing.assert_array_equal(conv.weight.value, expected)
    assert np.array_equal(conv.bias.value, np.zeros(16))
    assert not np.array_equal(L.Linear(3, 3).weight.value, L.Linear(3, 3).weight.value)


def test_layers_show_as_pytorch_modules_do():
    model = L.Sequential(L.Linear(4, 2, bias=False), L.BatchNorm1d(2), L.Dropout(0.25))
    assert repr(model) == ("Sequential(\n"
                           "  (0): Linear(in_features=4, out_features=2, bias=False)\n"
                           "  (1): BatchNorm1d(2, eps=1e-05, momentum=0.1)\n"
                           "  (2): Dropout(p=0.25)\n"
                           ")")


def test_a_small_model_with_dropout_and_batch_norm_trains():
    """Two interleaved spirals would take long; two Gaussian blobs, 200 steps, are enough to
    show the pieces together learning, then evaluated with dropout off."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-1.0, 1.0, (100, 2)), rng.normal(1.0, 1.0, (100, 2))])
    labels = np.repeat([0, 1], 100)
    model = L.Sequential(L.Linear(2, 16, rng=rng), L.BatchNorm1d(16), L.ReLU(),
                         L.Dropout(0.2, rng=rng), L.Linear(16, 2, rng=rng))
    x, y = fw.Input("x"), fw.Input("y")
    logits = model(x)
    loss = fw.SoftmaxCrossEntropy(logits, y)
    graph = fw.topological_sort({x: X, y: labels})
    optimizer = fw.Adam(0.02)
    for _ in range(10):
        for batch in fw.minibatches(len(X), 20, rng):
            x.value, y.value = X[batch], labels[batch]
            fw.forward(graph)
            fw.backward(graph)
            optimizer.step(graph)
    model.eval()
    x.value, y.value = X, labels
    fw.forward(graph)
    accuracy = np.mean(logits.value.argmax(axis=1) == labels)
    assert accuracy > 0.88 and loss.value < 0.4  # the Bayes rate of these blobs is ~92%


# Bad input: each error names the layer.

def test_linear_called_on_the_wrong_width_names_the_layer():
    model = L.Sequential(L.Linear(4, 3), L.ReLU(), L.Linear(5, 2))
    x = fw.Input("x")
    model(x)
    graph = fw.topological_sort({x: np.ones((6, 4))})
    with pytest.raises(ValueError) as error:
        fw.forward(graph)
    assert_names(error, "Linear layer '2'", "in_features=5", "(6, 3)", "(batch, 5)")
    alone = L.Linear(4, 3)
    z = fw.Input("z")
    alone(z)
    for shape in [(6, 5), (6,), (2, 3, 4)]:
        with pytest.raises(ValueError) as error:
            fw.forward(fw.topological_sort({z: np.ones(shape)}))
        assert_names(error, "Linear layer (in_features=4", str(shape), "(batch, 4)")


def test_conv2d_on_the_wrong_channels_names_the_layer():
    model = L.Sequential(L.Conv2d(3, 4, 3))
    x = fw.Input("x")
    model(x)
    with pytest.raises(ValueError) as error:
        fw.forward(fw.topological_sort({x: np.ones((2, 1, 5, 5))}))
    assert_names(error, "Conv2d layer '0'", "(2, 1, 5, 5)", "(N, 3, H, W)")


@pytest.mark.parametrize("p, error_type", [(1.0, ValueError), (1, ValueError),
                                           (-0.1, ValueError), (1.5, ValueError),
                                           (float("nan"), ValueError), ("0.5", TypeError),
                                           (True, TypeError), (None, TypeError)])
def test_dropout_probability_outside_zero_one(p, error_type):
    with pytest.raises(error_type) as error:
        L.Dropout(p)
    assert_names(error, "Dropout", "[0, 1)", repr(p))
    x = fw.Input("x")
    with pytest.raises(error_type):
        fw.Dropout(x, p)
    assert x.outputs == []  # the refused node left no trace


def test_dropout_p_changed_to_one_later_is_refused_at_the_next_pass():
    layer = L.Dropout(0.5)
    x = fw.Input("x")
    layer(x)
    graph = fw.topological_sort({x: np.ones(3)})
    layer.p = 1.0
    with pytest.raises(ValueError) as error:
        fw.forward(graph)
    assert_names(error, "Dropout layer (p=1.0)", "[0, 1)")


@pytest.mark.parametrize("layer, shape, expected", [
    (L.BatchNorm1d(3), (4, 2), "(batch, 3) or (batch, 3, length)"),
    (L.BatchNorm1d(3), (4, 3, 2, 2), "(batch, 3) or (batch, 3, length)"),
    (L.BatchNorm2d(3), (4, 2, 5, 5), "(N, 3, H, W)"),
    (L.BatchNorm2d(3), (4, 3), "(N, 3, H, W)"),
])
def test_batch_norm_on_the_wrong_number_of_features(layer, shape, expected):
    model = L.Sequential(L.ReLU(), layer)
    x = fw.Input("x")
    model(x)
    with pytest.raises(ValueError) as error:
        fw.forward(fw.topological_sort({x: np.ones(shape)}))
    assert_names(error, f"{type(layer).__name__} layer '1'", str(shape), expected)


@pytest.mark.parametrize("layer, shape", [(L.BatchNorm1d(3), (1, 3)),
                                          (L.BatchNorm1d(3), (1, 3, 1)),
                                          (L.BatchNorm2d(2), (1, 2, 1, 1))])
def test_batch_norm_refuses_a_batch_of_one_in_training_but_not_in_evaluation(layer, shape):
    x = fw.Input("x")
    out = layer(x)
    graph = fw.topological_sort({x: np.ones(shape)})
    with pytest.raises(ValueError) as error:
        fw.forward(graph)
    assert_names(error, f"{type(layer).__name__} layer", str(shape), "more than one",
                 ".eval()")
    assert np.array_equal(layer.running_mean, np.zeros(shape[1]))  # nothing changed
    layer.eval()
    fw.forward(graph)
    np.testing.assert_allclose(out.value, np.ones(shape) / np.sqrt(1 + 1e-5))


def test_batch_norm_on_one_image_of_several_pixels_trains_as_in_pytorch():
    """PyTorch refuses only one value per channel: one 2×2 image has four."""
    x = fw.Input("x")
    L.BatchNorm2d(2)(x)
    fw.forward(fw.topological_sort({x: normal(0, (1, 2, 2, 2))}))


@pytest.mark.parametrize("make, error_type, texts", [
    (lambda: L.Linear(0, 3), ValueError, ["Linear", "in_features", "≥ 1"]),
    (lambda: L.Linear(2.5, 3), TypeError, ["in_features", "2.5"]),
    (lambda: L.Linear(2, 3, rng=0), TypeError, ["rng", "default_rng"]),
    (lambda: L.Conv2d(1, 2, (3, 3, 3)), TypeError, ["kernel_size", "(kh, kw)"]),
    (lambda: L.Conv2d(1, 2, 3, padding=-1), ValueError, ["padding", "≥ 0"]),
    (lambda: L.MaxPool2d(0), ValueError, ["kernel_size"]),
    (lambda: L.BatchNorm1d(3, momentum=1.5), ValueError, ["momentum", "[0, 1]"]),
    (lambda: L.BatchNorm2d(3, eps=0), ValueError, ["eps"]),
    (lambda: L.BatchNorm2d(0), ValueError, ["num_features"]),
    (lambda: L.Sequential(L.Linear(2, 2), fw.ReLU), TypeError, ["item 1", "L.ReLU(...)"]),
    (lambda: L.Sequential(L.ReLU), TypeError, ["item 0", "ReLU(...)"]),
    (lambda: L.Sequential(L.ReLU(), "relu"), TypeError, ["item 1", "'relu'"]),
])
def test_bad_settings_are_refused_when_the_layer_is_made(make, error_type, texts):
    with pytest.raises(error_type) as error:
        make()
    assert_names(error, *texts)


def test_a_layer_that_forgets_super_init_is_told():
    class Forgetful(L.Layer):
        def __init__(self):
            self.fc = L.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"must call super\(\).__init__\(\)"):
        Forgetful()


def test_a_layer_cannot_contain_itself():
    model = L.Sequential(L.ReLU())
    with pytest.raises(ValueError, match="cannot contain itself"):
        model[0].parent = model
    with pytest.raises(ValueError, match="cannot contain itself"):
        model.me = model


def test_a_buffer_set_to_text_is_refused_by_name():
    layer = L.Sequential(L.BatchNorm1d(2))
    with pytest.raises(TypeError) as error:
        layer[0].running_mean = ["a", "b"]
    assert_names(error, "'0.running_mean'", "BatchNorm1d layer '0'")


# PyTorch, when it is installed: the same numbers from its modules.

def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours = L.Sequential(L.Conv2d(2, 3, 3, padding=1, rng=rng), L.BatchNorm2d(3), L.ReLU(),
                        L.MaxPool2d(2), L.Flatten(), L.Linear(12, 5, rng=rng),
                        L.BatchNorm1d(5, momentum=0.2), L.Tanh(), L.Linear(5, 4, rng=rng))
    nn = torch.nn
    theirs = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                           nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 5),
                           nn.BatchNorm1d(5, momentum=0.2), nn.Tanh(), nn.Linear(5, 4)).double()
    their_parameters = dict(theirs.named_parameters())
    assert list(ours.named_parameters()) == list(their_parameters)
    with torch.no_grad():
        for name, node in ours.named_parameters().items():
            value = node.value.T if name.endswith("weight") and node.value.ndim == 2 else node.value
            their_parameters[name].copy_(torch.from_numpy(np.ascontiguousarray(value)))
    x, y = fw.Input("x"), fw.Input("y")
    out = ours(x)
    fw.SoftmaxCrossEntropy(out, y)
    graph = fw.topological_sort({x: np.zeros((6, 2, 4, 4)), y: np.zeros(6)})
    for step in range(3):
        x.value, y.value = normal(step, (6, 2, 4, 4), offset=1.0), np.arange(6) % 4
        fw.forward(graph)
        fw.backward(graph)
        theirs.zero_grad()
        their_out = theirs(torch.from_numpy(x.value))
        nn.functional.cross_entropy(their_out, torch.from_numpy(np.arange(6) % 4)).backward()
        np.testing.assert_allclose(out.value, their_out.detach().numpy(), rtol=1e-9, atol=1e-12)
        for name, node in ours.named_parameters().items():
            grad = their_parameters[name].grad.numpy()
            grad = grad.T if name.endswith("weight") and grad.ndim == 2 else grad
            np.testing.assert_allclose(node.gradients[node], grad, rtol=1e-7, atol=1e-10)
    their_buffers = dict(theirs.named_buffers())
    for name, value in ours.named_buffers().items():
        np.testing.assert_allclose(value, their_buffers[name].numpy(), rtol=1e-10)
    ours.eval()
    theirs.eval()
    fw.forward(graph)
    np.testing.assert_allclose(out.value, theirs(torch.from_numpy(x.value)).detach().numpy(),
                               rtol=1e-9, atol=1e-12)
