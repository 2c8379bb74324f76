"""L.CausalSelfAttention, and the batched matrix products it is built from.

The reference is written here with loops, the way ``torch.nn.MultiheadAttention`` documents
it: for each head and each position t, the scores of the positions s ≤ t only (no mask
needed), their softmax, and the weighted sum of the values; the heads side by side, then
out_proj. Values are compared with it and gradients with central differences, on sizes drawn
by hypothesis; then causality, one graph for any length, the parameters' names, layout and
initialization, and bad input, whose errors must name the layer. A last test compares with
PyTorch when it is installed.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from helpers import assert_names, run
from hypothesis import given, settings
from hypothesis import strategies as st
from test_layers import check_layer, normal
from test_ops_gradients import WeightedSum, arrays, check_op, seeds

import framework as fw
from framework import layers as L
from framework.attention import Projection

FAST = settings(max_examples=15, deadline=None)


# The batched products attention needs, with the framework's own MatMul.

@FAST
@given(data=st.data(), batch=st.integers(1, 3), steps=st.integers(1, 3),
       embed=st.integers(1, 3), out=st.integers(1, 3))
def test_matmul_of_a_batch_of_sequences_by_one_matrix(data, batch, steps, embed, out):
    """(B, T, E) @ (E, F): the matrix's gradient sums over every batch row and position."""
    a_value = data.draw(arrays((batch, steps, embed)))
    b_value = data.draw(arrays((embed, out)))
    a, b = fw.Parameter("a"), fw.Parameter("b")
    expected = np.einsum("bte,ef->btf", a_value, b_value)
    check_op(a @ b, {a: a_value, b: b_value}, expected, data.draw(seeds))


@FAST
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(
    num_shapes=2, min_dims=2, max_dims=2, min_side=1, max_side=3),
    inner=st.integers(1, 3), rows=st.integers(1, 3))
def test_matmul_of_stacks_of_matrices_with_broadcasting(data, shapes, inner, rows):
    """(B, H, T, d) @ (B, H, d, T') with the stacks (B, H) broadcast: (1, H) against (B, 1),
    say; each gradient sums over the axes its input was copied along."""
    a_shape = shapes.input_shapes[0] + (rows, inner)
    b_shape = shapes.input_shapes[1] + (inner, rows + 1)
    a_value, b_value = data.draw(arrays(a_shape)), data.draw(arrays(b_shape))
    a, b = fw.Parameter("a"), fw.Parameter("b")
    a_full = np.broadcast_to(a_value, shapes.result_shape + a_shape[-2:])
    b_full = np.broadcast_to(b_value, shapes.result_shape + b_shape[-2:])
    expected = np.einsum("...ij,...jk->...ik", a_full, b_full)
    check_op(a @ b, {a: a_value, b: b_value}, expected, data.draw(seeds))


# The reference.

def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def reference_attention(x, p, heads):
    """torch.nn.MultiheadAttention(x, x, x, causal mask), written with loops."""
    batch, steps, embed = x.shape
    d = embed // heads
    w, b = p["in_proj_weight"], p["in_proj_bias"]
    q, k, v = (x @ w[n * embed:(n + 1) * embed].T + b[n * embed:(n + 1) * embed]
               for n in range(3))
    merged = np.zeros((batch, steps, embed))
    for n in range(batch):
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            for t in range(steps):
                scores = k[n, :t + 1, cols] @ q[n, t, cols] / np.sqrt(d)  # s = 0 … t only
                merged[n, t, cols] = softmax(scores) @ v[n, :t + 1, cols]
    return merged @ p["out_proj.weight"].T + p["out_proj.bias"]


def parameters(layer):
    return {name: node.value for name, node in layer.named_parameters().items()}


def randomize_biases(layer, seed):
    """The biases start at zero, which would hide a bias added wrongly."""
    layer.in_proj_bias.value = normal(seed, layer.in_proj_bias.value.shape)
    layer.out_proj.bias.value = normal(seed + 1, layer.out_proj.bias.value.shape)


# Values and gradients.

@FAST
@given(batch=st.integers(1, 2), steps=st.integers(1, 4), heads=st.integers(1, 3),
       per_head=st.integers(1, 2), seed=seeds)
def test_attention_against_loops_and_central_differences(batch, steps, heads, per_head, seed):
    layer = L.CausalSelfAttention(heads * per_head, heads, rng=np.random.default_rng(seed))
    randomize_biases(layer, seed)
    x_value = normal(seed + 2, (batch, steps, heads * per_head))
    check_layer(layer, x_value, reference_attention(x_value, parameters(layer), heads), seed)


def test_a_change_at_the_last_position_changes_no_earlier_output():
    layer = L.CausalSelfAttention(6, 2, rng=np.random.default_rng(0))
    randomize_biases(layer, 1)
    x = fw.Input("x")
    y = layer(x)
    x_value = normal(2, (2, 5, 6))
    graph = fw.topological_sort({x: x_value})
    fw.forward(graph)
    before = y.value.copy()
    changed = x_value.copy()
    changed[:, -1] += normal(3, (2, 6))
    x.value = changed
    fw.forward(graph)
    np.testing.assert_array_equal(y.value[:, :-1], before[:, :-1])
    assert np.abs(y.value[:, -1] - before[:, -1]).min() > 1e-6


def test_no_gradient_flows_from_an_output_to_a_later_input():
    """∂y_t/∂x_s = 0 for every s > t, exactly: with a loss on y_2 only, the gradient toward
    x_3 and x_4 is zero, and toward x_0 … x_2 it is not."""
    layer = L.CausalSelfAttention(4, 2, rng=np.random.default_rng(4))
    x = fw.Parameter("x")
    weights = np.zeros((1, 5, 4))
    weights[0, 2] = normal(5, 4)
    WeightedSum(layer(x), weights)
    graph = fw.topological_sort({x: normal(6, (1, 5, 4))})
    fw.run_steps(graph)
    grad = x.gradients[x][0]
    np.testing.assert_array_equal(grad[3:], 0.0)
    assert (np.abs(grad[:3]).max(axis=1) > 1e-6).all()


def test_one_graph_serves_every_length():
    layer = L.CausalSelfAttention(4, 2, rng=np.random.default_rng(7))
    randomize_biases(layer, 8)
    x = fw.Input("x")
    y = layer(x)
    graph = fw.topological_sort({x: normal(9, (2, 2, 4))})
    for steps in (2, 5, 1, 3):
        x.value = normal(steps, (2, steps, 4))
        fw.forward(graph)
        np.testing.assert_allclose(y.value, reference_attention(x.value, parameters(layer), 2),
                                   rtol=1e-12, atol=1e-14)


def test_parameters_in_pytorchs_names_layout_and_initialization():
    layer = L.CausalSelfAttention(32, 4, rng=np.random.default_rng(10))
    shapes = {name: node.value.shape for name, node in layer.named_parameters().items()}
    assert shapes == {"in_proj_weight": (96, 32), "in_proj_bias": (96,),
                      "out_proj.weight": (32, 32), "out_proj.bias": (32,)}
    values = parameters(layer)
    xavier = np.sqrt(6 / (32 + 96))  # Xavier's uniform bound for fan in 32, fan out 96
    assert xavier * 0.95 < np.abs(values["in_proj_weight"]).max() <= xavier
    assert 0.95 / np.sqrt(32) < np.abs(values["out_proj.weight"]).max() <= 1 / np.sqrt(32)
    np.testing.assert_array_equal(values["in_proj_bias"], 0.0)
    np.testing.assert_array_equal(values["out_proj.bias"], 0.0)
    assert repr(layer) == ("CausalSelfAttention(\n  embed_dim=32, num_heads=4\n"
                           "  (out_proj): Projection(in_features=32, out_features=32)\n)")


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), out=st.integers(1, 3),
       seed=seeds)
def test_projection_maps_the_last_axis_in_pytorchs_layout(shape, out, seed):
    layer = Projection(shape[-1], out, rng=np.random.default_rng(seed))
    assert layer.weight.value.shape == (out, shape[-1])
    x_value = normal(seed + 1, shape)
    expected = np.einsum("...i,oi->...o", x_value, layer.weight.value) + layer.bias.value
    check_layer(layer, x_value, expected, seed)


# Bad input.

def test_an_embedding_dimension_the_heads_do_not_divide():
    with pytest.raises(ValueError) as error:
        L.CausalSelfAttention(6, 4)
    assert_names(error, "CausalSelfAttention layer (embed_dim=6, num_heads=4)",
                 "divisible by num_heads", "6 = 4 × 1 + 2")


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 4), (2, 0, 4), (1, 2, 3, 4)])
def test_input_of_the_wrong_shape(shape):
    model = L.Sequential(L.CausalSelfAttention(4, 2))
    x = fw.Input("x")
    model(x)
    with pytest.raises(ValueError) as error:
        run({x: np.ones(shape)})
    assert_names(error, "CausalSelfAttention layer '0' (embed_dim=4, num_heads=2)",
                 f"input x has shape {shape}", "(batch, T, 4)")


@pytest.mark.parametrize("make, error_type, texts", [
    (lambda: L.CausalSelfAttention(4, 0), ValueError, ["num_heads", "≥ 1"]),
    (lambda: L.CausalSelfAttention(4.0, 2), TypeError, ["embed_dim", "4.0"]),
    (lambda: L.CausalSelfAttention(4, 2, rng="seed"), TypeError, ["rng", "default_rng"]),
])
def test_bad_settings_are_refused_when_the_layer_is_made(make, error_type, texts):
    with pytest.raises(error_type) as error:
        make()
    assert_names(error, "CausalSelfAttention", *texts)


# PyTorch, when it is installed.

def test_against_pytorch():
    torch = pytest.importorskip("torch")
    ours = L.CausalSelfAttention(6, 3, rng=np.random.default_rng(11))
    randomize_biases(ours, 12)
    theirs = torch.nn.MultiheadAttention(6, 3, batch_first=True).double()
    their_parameters = dict(theirs.named_parameters())
    assert list(ours.named_parameters()) == list(their_parameters)
    with torch.no_grad():
        for name, node in ours.named_parameters().items():
            their_parameters[name].copy_(torch.from_numpy(node.value))
    x = fw.Parameter("x")
    y = ours(x)
    weights = normal(13, (2, 5, 6))
    WeightedSum(y, weights)
    x_value = normal(14, (2, 5, 6))
    graph = fw.topological_sort({x: x_value})
    fw.run_steps(graph)
    x_torch = torch.from_numpy(x_value).requires_grad_()
    causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1)
    their_y = theirs(x_torch, x_torch, x_torch, attn_mask=causal)[0]
    (their_y * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(y.value, their_y.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.gradients[x], x_torch.grad.numpy(), rtol=1e-10, atol=1e-13)
    for name, node in ours.named_parameters().items():
        np.testing.assert_allclose(node.gradients[node], their_parameters[name].grad.numpy(),
                                   rtol=1e-10, atol=1e-13, err_msg=name)
