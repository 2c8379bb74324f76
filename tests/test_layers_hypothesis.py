"""More of the layers against independent references, on shapes and settings drawn by
hypothesis: what tests/test_layers.py checks on fixed cases, here on random ones.

- Batch normalization's running statistics over several training steps, for any shape,
  momentum and ε, against the formulas of PyTorch's documentation written in NumPy (the
  unbiased batch variance in the running estimate), then evaluation with them.
- BatchNorm1d on sequences (N, C, L), in training and in evaluation, against the same
  formulas and central differences.
- Dropout for any p and shape: the fraction zeroed, the scale of the kept entries, the mean
  kept, a new mask every pass and that same mask in backward, the identity in evaluation.
- Random models (convolution, batch norm, an activation, pooling, flatten, linear...) built
  with ``L.Sequential``, against the composition of the references, value and gradients.
"""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_convolution import conv_loops, maxpool_loops
from test_layers import batch_norm_reference, check_layer, eval_reference, normal
from test_ops_gradients import WeightedSum, seeds

import framework as fw
from framework import layers as L

FEW = settings(max_examples=12, deadline=None)
SOME = settings(max_examples=25, deadline=None)


# Batch normalization: running statistics over several steps.

@st.composite
def batch_norm_setups(draw):
    """A kind (1d or 2d), an input shape with at least two values per channel, a momentum in
    [0, 1] and an ε > 0."""
    kind = draw(st.sampled_from(["1d", "1d-sequence", "2d"]))
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if kind == "1d":
        shape = (draw(st.integers(2, 5)), c)
    elif kind == "1d-sequence":
        shape = (n, c, draw(st.integers(1, 4)))
    else:
        shape = (n, c, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    assume(math.prod(shape) // c >= 2)
    momentum = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.01, 0.99))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    return kind, shape, momentum, eps


def make(kind, channels, **options):
    return (L.BatchNorm2d if kind == "2d" else L.BatchNorm1d)(channels, **options)


@SOME
@given(setup=batch_norm_setups(), steps=st.integers(1, 5), seed=seeds)
def test_running_statistics_follow_pytorchs_formulas_step_after_step(setup, steps, seed):
    """running_mean ← (1 - α) running_mean + α mean, running_var ← (1 - α) running_var +
    α var·m/(m - 1) after each training pass (m values per channel), starting from 0 and 1;
    evaluation then normalizes with them, and changes them no more."""
    kind, shape, momentum, eps = setup
    layer = make(kind, shape[1], momentum=momentum, eps=eps)
    layer.weight.value = normal(seed, shape[1], offset=1.0)
    layer.bias.value = normal(seed + 1, shape[1])
    x = fw.Input("x")
    out = layer(x)
    graph = fw.topological_sort({x: np.zeros(shape)}, outputs=[out])
    mean, var = np.zeros(shape[1]), np.ones(shape[1])
    for step in range(steps):
        x.value = normal(seed + 2 + step, shape, scale=1.0 + step, offset=step - 1.0)
        fw.forward(graph)
        expected, batch_mean, batch_var = batch_norm_reference(
            x.value, layer.weight.value, layer.bias.value, eps)
        np.testing.assert_allclose(out.value, expected, rtol=1e-9, atol=1e-10)
        mean = (1 - momentum) * mean + momentum * batch_mean
        var = (1 - momentum) * var + momentum * batch_var
        np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(layer.running_var, var, rtol=1e-12, atol=1e-13)
    layer.eval()
    x.value = normal(seed + 99, shape)
    for _ in range(2):
        fw.forward(graph)
        np.testing.assert_allclose(out.value, eval_reference(
            x.value, layer.weight.value, layer.bias.value, mean, var, eps), rtol=1e-9,
            atol=1e-10)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12, atol=1e-13)


@FEW
@given(n=st.integers(1, 3), c=st.integers(1, 3), length=st.integers(1, 3),
       training=st.booleans(), seed=seeds)
def test_batch_norm_1d_on_sequences(n, c, length, training, seed):
    """(N, C, L): each channel over the batch and the length, value and gradients."""
    assume(n * length >= 2)
    layer = L.BatchNorm1d(c).train(training)
    layer.weight.value = normal(seed, c, offset=1.0)
    layer.bias.value = normal(seed + 1, c)
    if not training:
        layer.running_mean = normal(seed + 2, c)
        layer.running_var = np.exp(normal(seed + 3, c))
    x_value = normal(seed + 4, (n, c, length), scale=2.0, offset=1.0)
    if training:
        expected, _, _ = batch_norm_reference(x_value, layer.weight.value, layer.bias.value)
    else:
        expected = eval_reference(x_value, layer.weight.value, layer.bias.value,
                                  layer.running_mean, layer.running_var)
    check_layer(layer, x_value, expected, seed)


# Dropout: statistics and masks, for any p and shape.

@SOME
@given(p=st.floats(0.05, 0.95), rows=st.integers(100, 300), seed=seeds)
def test_dropout_statistics_for_any_p(p, rows, seed):
    """Each entry is zeroed with probability p, independently: the fraction zeroed is p and the
    agreement of two passes' masks p² + (1 - p)², within five standard deviations; the kept
    entries are x / (1 - p) exactly; and E[y] = x."""
    layer = L.Dropout(p, rng=np.random.default_rng(seed))
    x = fw.Input("x")
    out = layer(x)
    x_value = normal(seed, (rows, 100), offset=2.0)
    n = x_value.size
    graph = fw.topological_sort({x: x_value}, outputs=[out])
    fw.forward(graph)
    first = out.value != 0
    assert abs((1 - first.mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(out.value[first], x_value[first] / (1 - p), rtol=1e-15)
    # y - x = (M - 1) x with E[M] = 1 and Var[M] = p / (1 - p)
    noise = math.sqrt(p / (1 - p) * np.mean(x_value**2) / n)
    assert abs(out.value.mean() - x_value.mean()) < 5 * noise
    fw.forward(graph)
    second = out.value != 0
    agreement, expected = np.mean(first == second), p * p + (1 - p) ** 2
    assert abs(agreement - expected) < 5 * math.sqrt(expected * (1 - expected) / n)


@SOME
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), p=st.floats(0.0, 0.9),
       seed=seeds)
def test_dropout_backward_sends_the_gradient_through_the_forward_mask(shape, p, seed):
    """∂y/∂x = M, the mask of the pass that computed the loss, whatever shape x has; and in
    evaluation, the identity both ways."""
    layer = L.Dropout(p, rng=np.random.default_rng(seed))
    x = fw.Parameter("x")
    out = layer(x)
    upstream = normal(seed + 1, shape)
    WeightedSum(out, upstream)
    x_value = np.abs(normal(seed + 2, shape)) + 0.5  # no zero: a zero of y is a dropped entry
    graph = fw.topological_sort({x: x_value})
    for _ in range(2):
        fw.forward(graph)
        fw.backward(graph)
        mask = (out.value != 0) / (1 - p)
        assert set(np.unique(mask)) <= {0.0, 1 / (1 - p)}
        np.testing.assert_allclose(out.value, x_value * mask, rtol=1e-15)
        np.testing.assert_allclose(x.gradients[x], upstream * mask, rtol=1e-15)
    layer.eval()
    fw.forward(graph)
    fw.backward(graph)
    np.testing.assert_array_equal(out.value, x_value)
    np.testing.assert_array_equal(x.gradients[x], upstream)


@FEW
@given(p=st.floats(0.1, 0.9), seed=seeds)
def test_dropout_masks_repeat_with_the_generator_and_differ_between_passes(p, seed):
    def masks(rng):
        x = fw.Input("x")
        out = L.Dropout(p, rng=rng)(x)
        graph = fw.topological_sort({x: np.ones((40, 50))}, outputs=[out])
        drawn = []
        for _ in range(3):
            fw.forward(graph)
            drawn.append(out.value != 0)
        return drawn

    first, again = masks(np.random.default_rng(seed)), masks(np.random.default_rng(seed))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])


# Random models from layers, against the references composed by hand.

ACTIVATIONS = {"relu": (L.ReLU, lambda a: np.maximum(a, 0.0)),
               "tanh": (L.Tanh, np.tanh),
               "sigmoid": (L.Sigmoid, lambda a: 1.0 / (1.0 + np.exp(-a)))}


def bn_train(a, gamma, beta):
    y, _, _ = batch_norm_reference(a, gamma, beta)
    return y


@st.composite
def models(draw):
    """A description of a small CNN: the input shape, then each layer's settings."""
    n, c, h, w = (draw(st.integers(2, 3)), draw(st.integers(1, 2)), draw(st.integers(3, 5)),
                  draw(st.integers(3, 5)))
    k = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 1))
    filters = draw(st.integers(1, 3))
    return {
        "input": (n, c, h, w), "kernel": k, "padding": padding, "filters": filters,
        "norm2d": draw(st.booleans()), "act1": draw(st.sampled_from(sorted(ACTIVATIONS))),
        "pool": draw(st.booleans()), "hidden": draw(st.integers(1, 3)),
        "norm1d": draw(st.booleans()), "act2": draw(st.sampled_from(sorted(ACTIVATIONS))),
        "classes": draw(st.integers(1, 3)),
    }


@FEW
@given(spec=models(), seed=seeds)
def test_random_sequential_models_against_the_composed_references(spec, seed):
    rng = np.random.default_rng(seed)
    n, c, h, w = spec["input"]
    k, padding = spec["kernel"], spec["padding"]
    out_h, out_w = h + 2 * padding - k + 1, w + 2 * padding - k + 1
    pool = spec["pool"] and min(out_h, out_w) >= 2
    if pool:
        out_h, out_w = out_h // 2, out_w // 2
    features = spec["filters"] * out_h * out_w
    layers = [L.Conv2d(c, spec["filters"], k, padding=padding, rng=rng)]
    layers += [L.BatchNorm2d(spec["filters"])] if spec["norm2d"] else []
    layers += [ACTIVATIONS[spec["act1"]][0]()]
    layers += [L.MaxPool2d(2)] if pool else []
    layers += [L.Flatten(), L.Linear(features, spec["hidden"], rng=rng)]
    layers += [L.BatchNorm1d(spec["hidden"])] if spec["norm1d"] else []
    layers += [ACTIVATIONS[spec["act2"]][0](), L.Linear(spec["hidden"], spec["classes"], rng=rng)]
    model = L.Sequential(*layers)
    for name, node in model.named_parameters().items():  # nothing at its initial 0 or 1
        node.value = node.value + normal(seed + len(name), node.value.shape, scale=0.3)
    p = {name: node.value for name, node in model.named_parameters().items()}
    x_value = normal(seed + 1, (n, c, h, w))

    i = 0  # the reference, layer by layer, from the parameters' values alone
    a = conv_loops(x_value, p[f"{i}.weight"], p[f"{i}.bias"], 1, padding)
    if spec["norm2d"]:
        i += 1
        a = bn_train(a, p[f"{i}.weight"], p[f"{i}.bias"])
    i += 1
    a = ACTIVATIONS[spec["act1"]][1](a)
    if pool:
        i += 1
        a, _ = maxpool_loops(a, 2, 2)
    i += 2  # Flatten, then Linear
    a = a.reshape(n, -1) @ p[f"{i}.weight"] + p[f"{i}.bias"]
    if spec["norm1d"]:
        i += 1
        a = bn_train(a, p[f"{i}.weight"], p[f"{i}.bias"])
    i += 2  # the activation, then the last Linear
    expected = ACTIVATIONS[spec["act2"]][1](a) @ p[f"{i}.weight"] + p[f"{i}.bias"]
    assert i == len(model) - 1
    check_layer(model, x_value, expected, seed)
