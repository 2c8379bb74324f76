"""fw.compile(..., clip_grad_norm=max_norm): the compiled step clips the gradients as the
interpreted loop does with ``fw.clip_grad_norm`` between ``backward`` and ``optimizer.step``
(before weight decay is added), and refuses what ``clip_grad_norm`` refuses, with nothing
changed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import OPTIMIZERS, sqrt_graph

import framework as fw

RTOL = 1e-12
MAX_NORM = 3.0
# The targets' scale per step: large targets give large gradients (clipped), small ones do not.
SCALES = (0.05, 20.0, 0.05, 0.05, 20.0, 3.0, 0.05, 20.0)
BATCHES = (6, 6, 4, 6, 6, 4, 6, 6)


def mlp(seed=0):
    """x (batch, 4) → Linear → Tanh → Linear → 2 values, MSE; the graph, x, t and the loss."""
    rng = np.random.default_rng(seed)
    x, t = fw.Input("x"), fw.Input("t")
    W1, b1, W2, b2 = (fw.Parameter(n) for n in ("W1", "b1", "W2", "b2"))
    W1.value, b1.value = rng.normal(size=(4, 5)), rng.normal(size=5)
    W2.value, b2.value = rng.normal(size=(5, 2)), rng.normal(size=2)
    h = fw.Tanh(fw.Linear(x, W1, b1, name="hidden"), name="tanh")
    loss = fw.MSE(fw.Linear(h, W2, b2, name="out"), t, name="loss")
    graph = fw.topological_sort({x: np.zeros((6, 4)), t: np.zeros((6, 2))})
    return graph, x, t, loss


def batches():
    rng = np.random.default_rng(99)
    return [(rng.normal(size=(n, 4)), scale * rng.normal(size=(n, 2)))
            for n, scale in zip(BATCHES, SCALES, strict=True)]


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_a_clipped_compiled_step_gives_the_interpreted_numbers(optimizer):
    graph, x, t, loss = mlp()
    expected_optimizer = OPTIMIZERS[optimizer]()
    expected = []
    for X, T in batches():
        x.value, t.value = X, T
        fw.forward(graph)
        fw.backward(graph, loss)
        norm = fw.clip_grad_norm(graph, MAX_NORM, loss=loss)
        expected_optimizer.step(graph, loss)
        expected.append((float(loss.value), norm, [p.value.copy() for p in fw.trainables(graph)]))
    clipped = [norm > MAX_NORM for _, norm, _ in expected]
    assert any(clipped) and not all(clipped), "the test wants clipped and unclipped steps"

    graph, x, t, loss = mlp()
    step = fw.compile(graph, OPTIMIZERS[optimizer](), loss=loss, clip_grad_norm=MAX_NORM)
    for k, ((X, T), (expected_loss, norm, params)) in enumerate(zip(batches(), expected,
                                                                    strict=True)):
        got = step({x: X, t: T})
        np.testing.assert_allclose(got, expected_loss, rtol=RTOL, atol=0,
                                   err_msg=f"loss of step {k}")
        # the gradients the step used: clipped to at most MAX_NORM
        assert np.linalg.norm(step.grads) <= min(norm, MAX_NORM) * (1 + 1e-12)
        for p, value in zip(fw.trainables(graph), params, strict=True):
            np.testing.assert_allclose(p.value, value, rtol=RTOL, atol=1e-300,
                                       err_msg=f"{p!r} after step {k}")


def test_without_clipping_the_steps_differ_and_the_source_has_no_clipping_lines():
    graph, x, t, loss = mlp()
    plain = fw.compile(graph, fw.SGD(0.05))
    assert "clip" not in plain.source and "norm" not in plain.source
    X, T = batches()[1]
    plain({x: X, t: T})
    unclipped = [p.value.copy() for p in fw.trainables(graph)]

    graph, x, t, loss = mlp()
    step = fw.compile(graph, fw.SGD(0.05), clip_grad_norm=MAX_NORM)
    assert "norm = grads.dot(grads)" in step.source
    assert "np.multiply(grads, factor, out=grads)" in step.source
    source = step.source
    assert source.index("# backward") < source.index("norm = grads.dot") < \
        source.index("# update")
    step({x: X, t: T})
    assert any(not np.allclose(p.value, u) for p, u in zip(fw.trainables(graph), unclipped,
                                                           strict=True))


def test_infinity_only_measures_as_clip_grad_norm_does():
    graph, x, t, loss = mlp()
    expected_optimizer = fw.Adam(0.01)
    for X, T in batches():
        x.value, t.value = X, T
        fw.run_steps(graph)
        expected_optimizer.step(graph)
    expected = [p.value.copy() for p in fw.trainables(graph)]
    graph, x, t, loss = mlp()
    step = fw.compile(graph, fw.Adam(0.01), clip_grad_norm=math.inf)
    for X, T in batches():
        step({x: X, t: T})
    for p, value in zip(fw.trainables(graph), expected, strict=True):
        np.testing.assert_allclose(p.value, value, rtol=RTOL, atol=1e-300)


@pytest.mark.parametrize("bad, error", [
    (0, ValueError), (-1.0, ValueError), (math.nan, ValueError), (-math.inf, ValueError),
    (True, TypeError), ("1", TypeError), ([1.0], TypeError), (np.array([1.0]), TypeError)])
def test_bad_settings_are_refused_in_clip_grad_norms_words(bad, error):
    graph, x, t, loss = mlp()
    before = [p.value.copy() for p in fw.trainables(graph)]
    with pytest.raises(error) as interpreted:
        fw.clip_grad_norm(graph, bad)
    with pytest.raises(error) as compiled:
        fw.compile(graph, fw.SGD(0.1), clip_grad_norm=bad)
    message = str(compiled.value)
    assert message.startswith("compile: clip_grad_norm must be a number > 0")
    assert repr(bad) in message
    assert str(interpreted.value).startswith("clip_grad_norm: max_norm must be a number > 0")
    if bad == 0:
        assert "0 would set every gradient to zero" in message
    for p, value in zip(fw.trainables(graph), before, strict=True):
        np.testing.assert_array_equal(p.value, value)


def test_numpy_numbers_are_taken():
    graph, x, t, loss = mlp()
    step = fw.compile(graph, fw.SGD(0.1), clip_grad_norm=np.float32(0.5))
    X, T = batches()[1]
    step({x: X, t: T})
    assert np.linalg.norm(step.grads) <= 0.5


@pytest.mark.parametrize("optimizer", ["SGD", "Momentum", "Adam"])
def test_a_gradient_that_holds_a_nan_is_refused_as_clip_grad_norm_refuses_it(optimizer):
    good = (np.ones((3, 2)), np.ones((3, 2)))
    bad = (np.array([[1.0, 0.0], [2.0, 1.0], [0.5, 0.0]]), np.ones((3, 2)))
    graph, x, t, loss = sqrt_graph()
    expected_optimizer = OPTIMIZERS[optimizer]()
    x.value, t.value = good
    fw.run_steps(graph)
    fw.clip_grad_norm(graph, 0.1)
    expected_optimizer.step(graph)
    x.value, t.value = bad
    with np.errstate(divide="ignore", invalid="ignore"), \
            pytest.raises(FloatingPointError) as interpreted:
        fw.run_steps(graph)
        fw.clip_grad_norm(graph, 0.1)
    assert "clip_grad_norm: the gradient of" in str(interpreted.value)

    graph, x, t, loss = sqrt_graph()
    optimizer_made = OPTIMIZERS[optimizer]()
    step = fw.compile(graph, optimizer_made, clip_grad_norm=0.1)
    step(dict(zip((x, t), good, strict=True)))
    before, theta = [p.value.copy() for p in fw.trainables(graph)], step.theta.copy()
    state = {node: [np.copy(s) for s in entry] for node, entry in optimizer_made.state.items()}
    with np.errstate(divide="ignore", invalid="ignore"), \
            pytest.raises(FloatingPointError) as compiled:
        step(dict(zip((x, t), bad, strict=True)))
    assert str(compiled.value) == str(interpreted.value)
    np.testing.assert_array_equal(step.theta, theta)
    for p, value in zip(fw.trainables(graph), before, strict=True):
        np.testing.assert_array_equal(p.value, value)
    for node, entry in state.items():
        for kept, now in zip(entry, optimizer_made.state[node], strict=True):
            np.testing.assert_array_equal(now, kept)
    # and the step goes on from there, as the interpreted loop would
    loss_value = step(dict(zip((x, t), good, strict=True)))
    assert math.isfinite(loss_value)


def test_finite_gradients_too_large_to_square_are_clipped_as_clip_grad_norm_clips_them():
    """‖g‖² overflows for gradients above 1e154: the norm is taken again, scaled, as
    clip_grad_norm takes it, and the step goes on."""
    def build():
        x = fw.Input("x")
        w = fw.Parameter("w")
        w.value = np.array([1e-200, 1.0])
        loss = (x * w).sum()
        return fw.topological_sort({x: np.ones((2, 2))}), x, loss, w
    X = np.array([[1e160, 3e159], [-2e159, 5e159]])
    graph, x, loss, w = build()
    with np.errstate(over="ignore"):
        x.value = X
        fw.run_steps(graph)
        norm = fw.clip_grad_norm(graph, 1.0)
        fw.SGD(0.1).step(graph)
        assert math.isfinite(norm) and not math.isfinite(norm * norm)
        graph2, x2, loss2, w2 = build()
        step = fw.compile(graph2, fw.SGD(0.1), clip_grad_norm=1.0)
        step({x2: X})
    np.testing.assert_allclose(w2.value, w.value, rtol=RTOL)
    assert np.all(w.value != [1e-200, 1.0])
