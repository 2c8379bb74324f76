"""L.Embedding and L.LayerNorm against formulas written here, gradients against central
differences, on shapes drawn by hypothesis; then bad input, whose errors must name the layer.

The embedding's reference is a one-hot matrix product (y = onehot(ids) E, ∂L/∂E = onehotᵀ G),
which picks and adds rows without indexing; layer normalization's is the formula of PyTorch's
documentation, y = (x - E[x]) / √(Var[x] + ε) γ + β over the last axis, with the biased
variance. A last test compares both with PyTorch when it is installed.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import assert_names, run
from hypothesis import given, settings
from hypothesis import strategies as st
from test_layers import central_differences, check_layer, normal
from test_ops_gradients import WeightedSum, seeds

import framework as fw
from framework import layers as L

FAST = settings(max_examples=15, deadline=None)


# Embedding.

def one_hot(ids, count):
    return (np.asarray(ids)[..., np.newaxis] == np.arange(count)).astype(float)


@FAST
@given(ids_shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
       count=st.integers(1, 6), dim=st.integers(1, 4), seed=seeds)
def test_embedding_picks_rows_and_adds_their_gradients(ids_shape, count, dim, seed):
    rng = np.random.default_rng(seed)
    layer = L.Embedding(count, dim, rng=rng)
    ids_value = rng.integers(0, count, size=ids_shape)
    ids = fw.Input("ids")
    output = layer(ids)
    weights = rng.standard_normal(ids_shape + (dim,))
    loss = WeightedSum(output, weights)
    graph = fw.topological_sort({ids: ids_value})
    fw.run_steps(graph)
    table = layer.weight.value
    assert output.value.shape == ids_shape + (dim,)
    np.testing.assert_allclose(output.value, one_hot(ids_value, count) @ table, rtol=1e-15)
    hot = one_hot(ids_value, count).reshape(-1, count)
    expected = hot.T @ weights.reshape(-1, dim)  # row k: Σ of G over the positions of k
    np.testing.assert_allclose(layer.weight.gradients[layer.weight], expected, rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(expected, central_differences(graph, loss, layer.weight),
                               rtol=1e-6, atol=1e-8)
    assert ids.gradients == {}  # the ids are labels: no gradient


def test_a_repeated_id_collects_every_gradient():
    """ids [[1, 1], [1, 3]] of a 4-row table: row 1 gets the sum of three gradients, row 3 one,
    rows 0 and 2 none."""
    layer = L.Embedding(4, 2, rng=np.random.default_rng(0))
    ids = fw.Input("ids")
    output = layer(ids)
    weights = np.array([[[1.0, 2.0], [10.0, 20.0]], [[100.0, 200.0], [5.0, 7.0]]])
    WeightedSum(output, weights)
    graph = fw.topological_sort({ids: np.array([[1, 1], [1, 3]])})
    fw.run_steps(graph)
    np.testing.assert_array_equal(layer.weight.gradients[layer.weight],
                                  [[0.0, 0.0], [111.0, 222.0], [0.0, 0.0], [5.0, 7.0]])


def test_one_embedding_graph_takes_ids_of_any_shape():
    layer = L.Embedding(5, 3, rng=np.random.default_rng(1))
    ids = fw.Input("ids")
    output = layer(ids)
    graph = fw.topological_sort({ids: np.array([[0, 4, 2]])})
    fw.forward(graph)
    assert output.value.shape == (1, 3, 3)
    ids.value = np.array([3, 3])
    fw.forward(graph)
    np.testing.assert_array_equal(output.value, layer.weight.value[[3, 3]])


def test_embedding_weight_is_standard_normal_as_in_pytorch():
    layer = L.Embedding(400, 50, rng=np.random.default_rng(2))
    assert list(layer.named_parameters()) == ["weight"]
    weight = layer.weight.value
    assert weight.shape == (400, 50)
    # 20,000 draws of N(0, 1): the mean within 5 standard errors (0.007) of 0, the standard
    # deviation within 0.025 of 1.
    assert abs(weight.mean()) < 0.035 and abs(weight.std() - 1.0) < 0.025
    assert repr(layer) == "Embedding(400, 50)"


@pytest.mark.parametrize("bad, texts", [
    ([0, 5, 1], ["out of range: [5.0]"]),
    ([-1, 2], ["out of range: [-1.0]"]),
    ([0.5, 1], ["not whole numbers: [0.5]"]),
    ([np.nan, np.inf, 7], ["not whole numbers: [nan, inf]", "out of range: [7.0]"]),
])
def test_ids_out_of_range_or_not_whole_numbers(bad, texts):
    model = L.Sequential(L.Embedding(5, 2))
    ids = fw.Input("ids")
    model(ids)
    with pytest.raises(ValueError) as error:
        run({ids: np.array(bad)})
    assert_names(error, "Embedding layer '0' (5, 2)", "ids ids", f"({len(bad)},)",
                 "whole numbers from 0 to 4", *texts)


@pytest.mark.parametrize("make, error_type, texts", [
    (lambda: L.Embedding(0, 3), ValueError, ["Embedding", "num_embeddings", "≥ 1"]),
    (lambda: L.Embedding(3, 2.0), TypeError, ["embedding_dim", "2.0"]),
    (lambda: L.Embedding(3, 2, rng=1), TypeError, ["rng", "default_rng"]),
    (lambda: L.LayerNorm(0), ValueError, ["LayerNorm", "normalized_shape", "≥ 1"]),
    (lambda: L.LayerNorm((2, 3)), ValueError, ["normalized_shape (2, 3)", "last axis only"]),
    (lambda: L.LayerNorm("4"), TypeError, ["normalized_shape", "'4'"]),
    (lambda: L.LayerNorm(4, eps=0.0), ValueError, ["eps", "(0, inf)"]),
])
def test_bad_settings_are_refused_when_the_layer_is_made(make, error_type, texts):
    with pytest.raises(error_type) as error:
        make()
    assert_names(error, *texts)


# Layer normalization.

def layer_norm(x, gamma, beta, eps):
    """PyTorch's documented formula, over the last axis, with the biased variance."""
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gamma + beta


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       eps=st.sampled_from([1e-5, 0.1]), seed=seeds)
def test_layer_norm_against_the_formula_and_central_differences(shape, eps, seed):
    features = shape[-1]
    layer = L.LayerNorm(features, eps=eps)
    # γ and β of ones and zeros would hide a γ or a β applied wrongly.
    layer.weight.value = normal(seed, features, offset=1.0)
    layer.bias.value = normal(seed + 1, features)
    x_value = normal(seed + 2, shape, scale=2.0, offset=0.5)
    expected = layer_norm(x_value, layer.weight.value, layer.bias.value, eps)
    check_layer(layer, x_value, expected, seed)


def test_layer_norm_starts_as_pure_standardization():
    """γ = 1, β = 0: each row of [0, 2] and [4, 4, 4, 10] standardized with its own mean and
    biased variance, ε = 0.25 added: x̂ = (x - μ) / √(σ² + ε)."""
    layer = L.LayerNorm((2,), eps=0.25)
    assert list(layer.named_parameters()) == ["weight", "bias"]
    np.testing.assert_array_equal(layer.weight.value, [1.0, 1.0])
    np.testing.assert_array_equal(layer.bias.value, [0.0, 0.0])
    x = fw.Input("x")
    y = layer(x)
    run({x: np.array([[0.0, 2.0], [5.0, 5.0]])})
    # Row 1: μ = 1, σ² = 1; row 2: constant, so x̂ = 0.
    np.testing.assert_allclose(y.value, [[-1 / np.sqrt(1.25), 1 / np.sqrt(1.25)], [0.0, 0.0]],
                               rtol=1e-15)
    assert repr(layer) == "LayerNorm((2,), eps=0.25)"


def test_layer_norm_treats_each_row_on_its_own():
    """Unlike batch normalization: a row's output does not depend on the other rows."""
    layer = L.LayerNorm(3)
    x = fw.Input("x")
    y = layer(x)
    rows = normal(0, (4, 3))
    graph = fw.topological_sort({x: rows})
    fw.forward(graph)
    together = y.value.copy()
    x.value = rows[2:3]
    fw.forward(graph)
    np.testing.assert_array_equal(y.value[0], together[2])


def test_layer_norm_on_the_wrong_number_of_features():
    model = L.Sequential(L.ReLU(), L.LayerNorm(4))
    x = fw.Input("x")
    model(x)
    with pytest.raises(ValueError) as error:
        run({x: np.ones((2, 3))})
    assert_names(error, "LayerNorm layer '1'", "(2, 3)", "(..., 4)")


# PyTorch, when it is installed.

def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ids_value = rng.integers(0, 7, size=(3, 5))
    embedding, norm = L.Embedding(7, 4, rng=rng), L.LayerNorm(4)
    norm.weight.value, norm.bias.value = normal(1, 4, offset=1.0), normal(2, 4)
    ids = fw.Input("ids")
    y = norm(embedding(ids))
    weights = rng.standard_normal((3, 5, 4))
    WeightedSum(y, weights)
    graph = fw.topological_sort({ids: ids_value})
    fw.run_steps(graph)
    their_embedding, their_norm = torch.nn.Embedding(7, 4).double(), torch.nn.LayerNorm(4).double()
    with torch.no_grad():
        their_embedding.weight.copy_(torch.from_numpy(embedding.weight.value))
        their_norm.weight.copy_(torch.from_numpy(norm.weight.value))
        their_norm.bias.copy_(torch.from_numpy(norm.bias.value))
    their_y = their_norm(their_embedding(torch.from_numpy(ids_value)))
    (their_y * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(y.value, their_y.detach().numpy(), rtol=1e-12, atol=1e-14)
    for ours, theirs in ((embedding.weight, their_embedding.weight),
                         (norm.weight, their_norm.weight), (norm.bias, their_norm.bias)):
        np.testing.assert_allclose(ours.gradients[ours], theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-12)
