"""Gradient clipping by the global norm (``fw.clip_grad_norm``), against
``torch.nn.utils.clip_grad_norm_``'s documented rule written out here in NumPy.

‖g‖ = √(Σ over every trainable node of Σ g²); if c = max_norm / (‖g‖ + 1e-6) < 1, every
gradient is multiplied by c; the norm before clipping is returned. Checked over several
training steps of a small model (gradients by hand, in test_weight_decay), some clipped and
some not; then what it must not do: change an array in place, clip a gradient of another
graph or loss, take a NaN, or change anything when it refuses. A last test compares with
PyTorch when it is installed.
"""

import math

import numpy as np
import pytest
from helpers import assert_names
from test_weight_decay import (
    BATCH,
    NAMES,
    STEPS,
    Model,
    batch_rows,
    data,
    hand_loss_and_gradients,
    initial_values,
)

import framework as fw


def reference_clip(grads: dict, max_norm: float):
    """torch.nn.utils.clip_grad_norm_ (norm_type 2): the norm of all the gradients as one
    vector, and the gradients scaled by min(1, max_norm / (norm + 1e-6))."""
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    factor = min(1.0, max_norm / (norm + 1e-6))
    return norm, {name: g * factor for name, g in grads.items()}


def reference_run(max_norm, lr=0.5, steps=STEPS):
    """Each step: gradients by hand, clipped, then plain SGD. Returns, per step, the norm
    before clipping, whether it clipped, and the parameters after the step."""
    params, history = initial_values(), []
    x, t = data()
    for step in range(steps):
        rows = batch_rows(step)
        _, grads = hand_loss_and_gradients(params, x[rows], t[rows])
        norm, clipped = reference_clip(grads, max_norm)
        params = {name: params[name] - lr * clipped[name] for name in NAMES}
        history.append((norm, norm > max_norm, params))
    return history


def gradients(model):
    return {name: node.gradients[node] for name, node in model.layers.named_parameters().items()}


@pytest.mark.parametrize("max_norm, clips", [(0.5, "every step"), (3.0, "some steps"),
                                             (100.0, "no step")])
def test_several_steps_of_clipped_sgd_against_the_rule_in_numpy(max_norm, clips):
    history = reference_run(max_norm)
    clipped = [was_clipped for _, was_clipped, _ in history]
    assert clips == ("every step" if all(clipped) else "some steps" if any(clipped)
                     else "no step"), clipped
    model, optimizer = Model(initial_values()), fw.SGD(0.5)
    for step, (norm, _, expected) in enumerate(history):
        model.forward_backward(step)
        returned = fw.clip_grad_norm(model.graph, max_norm)
        assert isinstance(returned, float)
        assert returned == pytest.approx(norm, rel=1e-12)
        optimizer.step(model.graph)
        for name, value in model.values().items():
            np.testing.assert_allclose(value, expected[name], rtol=1e-11, atol=1e-13,
                                       err_msg=f"step {step}, {name}")


def test_after_clipping_the_norm_is_max_norm_and_the_direction_is_kept():
    model = Model(initial_values())
    model.forward_backward(0)
    before = {name: g.copy() for name, g in gradients(model).items()}
    norm = fw.clip_grad_norm(model.graph, 0.01)
    assert norm > 0.01
    after = gradients(model)
    new_norm = math.sqrt(sum(float(np.sum(g * g)) for g in after.values()))
    assert new_norm == pytest.approx(0.01 * norm / (norm + 1e-6), rel=1e-12)
    for name in NAMES:  # the same factor for every gradient: one direction
        np.testing.assert_allclose(after[name], before[name] * (0.01 / (norm + 1e-6)),
                                   rtol=1e-13)


def test_a_norm_below_max_norm_changes_nothing_not_even_the_arrays():
    model = Model(initial_values())
    model.forward_backward(0)
    before = gradients(model)
    norm = fw.clip_grad_norm(model.graph, 1e6)
    assert norm < 1e6
    after = gradients(model)
    assert all(after[name] is before[name] for name in NAMES)


def test_infinity_measures_the_norm_without_clipping():
    model = Model(initial_values())
    model.forward_backward(2)
    x, t = data()
    _, grads = hand_loss_and_gradients(initial_values(), x[batch_rows(2)], t[batch_rows(2)])
    expected = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    before = gradients(model)
    assert fw.clip_grad_norm(model.graph, math.inf) == pytest.approx(expected, rel=1e-12)
    assert all(gradients(model)[name] is before[name] for name in NAMES)


def test_just_under_max_norm_is_scaled_as_pytorch_does():
    """PyTorch multiplies by min(1, max_norm / (norm + 1e-6)): a norm within 1e-6 under
    max_norm is scaled a little, a norm further under is not."""
    p = fw.Parameter("p")
    loss = fw.Sum(p * fw.Constant(np.array([3.0, 4.0])))  # ∂loss/∂p = (3, 4): norm 5
    graph = fw.topological_sort({p: np.zeros(2)}, outputs=[loss])
    for max_norm, factor in [(5.0 + 5e-7, (5.0 + 5e-7) / (5.0 + 1e-6)), (5.0 + 2e-6, 1.0)]:
        fw.forward(graph)
        fw.backward(graph)
        assert fw.clip_grad_norm(graph, max_norm) == 5.0
        np.testing.assert_allclose(p.gradients[p], np.array([3.0, 4.0]) * factor, rtol=1e-15)


def test_an_array_backward_shares_is_not_changed_in_place():
    """p + q sends one upstream array to both: clipping p's gradient must not scale q's
    through it (nor the gradient the sum's output sent)."""
    p, q = fw.Parameter("p"), fw.Parameter("q")
    total = p + q
    loss = fw.Sum(total * fw.Constant(np.array([30.0, 40.0])))
    graph = fw.topological_sort({p: np.zeros(2), q: np.zeros(2)}, outputs=[loss])
    fw.forward(graph)
    fw.backward(graph)
    sent = {node: np.copy(grad) for node, grad in total.gradients.items()}
    kept = [p.gradients[p], q.gradients[q]]
    originals = [np.copy(g) for g in kept]
    norm = fw.clip_grad_norm(graph, 1.0)
    assert norm == pytest.approx(math.sqrt(2) * 50.0)
    for array, original in zip(kept, originals, strict=True):
        np.testing.assert_array_equal(array, original)
    for node, grad in total.gradients.items():
        np.testing.assert_array_equal(grad, sent[node])
    np.testing.assert_allclose(p.gradients[p], [30 / (norm + 1e-6), 40 / (norm + 1e-6)])


def test_huge_finite_gradients_are_measured_without_overflow():
    """Squares of 1e200 overflow, yet the norm is finite: the reference is math.hypot, which
    scales by itself."""
    p, q = fw.Parameter("p"), fw.Parameter("q")
    weights = np.array([1e200, -3e200])
    loss = fw.Sum(p * fw.Constant(weights)) + fw.Sum(q * fw.Constant(weights[:1]))
    graph = fw.topological_sort({p: np.zeros(2), q: np.zeros(1)}, outputs=[loss])
    fw.forward(graph)
    fw.backward(graph)
    with np.errstate(over="ignore"):  # the fast first try overflows, and is taken again
        norm = fw.clip_grad_norm(graph, 2.0)
    assert norm == pytest.approx(math.hypot(1e200, -3e200, 1e200), rel=1e-14)
    new_norm = math.hypot(*p.gradients[p], *q.gradients[q])
    assert new_norm == pytest.approx(2.0, rel=1e-12)


def test_frozen_parameters_are_neither_counted_nor_clipped():
    model = Model(initial_values())
    frozen = model.parameter("2.weight")
    frozen.is_trainable = False
    model.forward_backward(0)
    frozen_gradient = frozen.gradients.get(frozen)  # kept by its mark until the next sort
    grads = {name: g.copy() for name, g in gradients(model).items() if name != "2.weight"}
    expected_norm, expected = reference_clip(grads, 0.05)
    assert fw.clip_grad_norm(model.graph, 0.05) == pytest.approx(expected_norm, rel=1e-12)
    assert frozen.gradients.get(frozen) is frozen_gradient
    for name in grads:
        node = model.parameter(name)
        np.testing.assert_allclose(node.gradients[node], expected[name], rtol=1e-13)


def test_a_graph_without_trainable_nodes_has_norm_zero():
    x = fw.Input("x")
    loss = fw.Sum(x * 2.0)
    graph = fw.topological_sort({x: np.ones(3)}, outputs=[loss])
    fw.forward(graph)
    fw.backward(graph)
    assert fw.clip_grad_norm(graph, 1.0) == 0.0


# Refusals: each names what is wrong, and no gradient changes.

@pytest.mark.parametrize("max_norm, error_type, texts", [
    (0, ValueError, ["> 0", "0 would set every gradient to zero"]),
    (0.0, ValueError, ["> 0"]),
    (-1.0, ValueError, ["> 0", "-1.0"]),
    (float("nan"), ValueError, ["> 0", "nan"]),
    (-math.inf, ValueError, ["> 0"]),
    ("1.0", TypeError, ["number", "'1.0'"]),
    (True, TypeError, ["number", "True"]),
    (None, TypeError, ["number", "None"]),
    (np.array([1.0]), TypeError, ["number"]),
])
def test_a_bad_max_norm_is_refused(max_norm, error_type, texts):
    model = Model(initial_values())
    model.forward_backward(0)
    before = gradients(model)
    with pytest.raises(error_type) as error:
        fw.clip_grad_norm(model.graph, max_norm)
    assert_names(error, "clip_grad_norm", "max_norm", *texts)
    assert all(gradients(model)[name] is before[name] for name in NAMES)


def test_before_any_backward_pass_it_names_the_node():
    model = Model(initial_values())
    with pytest.raises(ValueError) as error:
        fw.clip_grad_norm(model.graph, 1.0)
    assert_names(error, "clip_grad_norm", "Parameter('0.weight')", "no gradient",
                 "backward(graph)")


def test_a_nan_gradient_is_refused_naming_the_node_and_nothing_changes():
    model = Model(initial_values())
    model.forward_backward(0)
    node = model.parameter("2.bias")
    node.gradients[node] = np.array([np.nan, 1.0])
    before = gradients(model)
    for max_norm in (0.01, math.inf):
        with pytest.raises(FloatingPointError) as error:
            fw.clip_grad_norm(model.graph, max_norm)
        assert_names(error, "clip_grad_norm", "Parameter('2.bias')", "1 NaN",
                     "no gradient was changed")
        assert all(gradients(model)[name] is before[name] for name in NAMES)


def test_an_infinite_gradient_is_refused_too():
    model = Model(initial_values())
    model.forward_backward(0)
    node = model.parameter("0.weight")
    grad = node.gradients[node].copy()
    grad[1, 2] = -np.inf
    node.gradients[node] = grad
    with pytest.raises(FloatingPointError) as error:
        fw.clip_grad_norm(model.graph, 1.0)
    assert_names(error, "Parameter('0.weight')", "1 inf")


def test_a_gradient_from_another_graph_is_refused_as_a_step_would_be():
    """The training graph and a second graph share the model's parameters: after backward
    over the second one, the parameters hold its gradients, which clipping the first must
    not scale (the step after it would refuse them anyway)."""
    model = Model(initial_values())
    model.forward_backward(0)
    other_x = fw.Input("other_x")
    other_loss = fw.Sum(model.layers(other_x), name="other_loss")
    other = fw.topological_sort({other_x: np.ones((2, 3))}, outputs=[other_loss])
    fw.forward(other)
    fw.backward(other)
    before = gradients(model)
    with pytest.raises(ValueError) as error:
        fw.clip_grad_norm(model.graph, 0.01)
    assert_names(error, "clip_grad_norm", "other_loss", "another graph")
    assert all(gradients(model)[name] is before[name] for name in NAMES)
    assert fw.clip_grad_norm(other, 1e9) > 0  # its own graph's gradients are fine


def test_a_gradient_of_another_loss_is_refused_with_loss():
    p = fw.Parameter("p")
    first = fw.Sum(p * 3.0, name="first")
    second = fw.Sum(p * p, name="second")
    graph = fw.topological_sort({p: np.ones(2)})
    fw.forward(graph)
    fw.backward(graph, loss=second)
    with pytest.raises(ValueError) as error:
        fw.clip_grad_norm(graph, 0.1, loss=first)
    assert_names(error, "clip_grad_norm", "first", "second")
    np.testing.assert_array_equal(p.gradients[p], [2.0, 2.0])
    assert fw.clip_grad_norm(graph, 0.1, loss=second) == pytest.approx(math.sqrt(8))
    with pytest.raises(TypeError) as error:
        fw.clip_grad_norm(graph, 0.1, loss="second")
    assert_names(error, "clip_grad_norm", "loss=")


def test_a_gradient_older_than_the_parameter_is_refused():
    """After a step the gradient was computed at another value: clip it no more than a
    second step would use it."""
    model = Model(initial_values())
    model.forward_backward(0)
    fw.SGD(0.1).step(model.graph)
    with pytest.raises(ValueError) as error:
        fw.clip_grad_norm(model.graph, 1.0)
    assert_names(error, "Parameter('0.weight')", "new value since backward")


def test_not_a_graph_is_refused():
    model = Model(initial_values())
    with pytest.raises(TypeError, match="a graph is a list of nodes"):
        fw.clip_grad_norm(model.layers, 1.0)
    with pytest.raises(TypeError, match="the node"):
        fw.clip_grad_norm(model.loss, 1.0)


def test_clipping_then_a_step_with_weight_decay():
    """The pieces together, as a training loop uses them: clip, then Adam with decay."""
    lr, weight_decay, max_norm = 0.05, 0.1, 0.2
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    params, m, v = initial_values(), {}, {}
    model, optimizer = Model(initial_values()), fw.Adam(lr, weight_decay=weight_decay)
    x, t = data()
    for step in range(1, STEPS + 1):
        rows = batch_rows(step - 1)
        _, grads = hand_loss_and_gradients(params, x[rows], t[rows])
        norm, grads = reference_clip(grads, max_norm)
        for name in NAMES:
            g = grads[name] + weight_decay * params[name]
            m[name] = beta1 * m.get(name, 0.0) + (1 - beta1) * g
            v[name] = beta2 * v.get(name, 0.0) + (1 - beta2) * g * g
            m_hat, v_hat = m[name] / (1 - beta1**step), v[name] / (1 - beta2**step)
            params[name] = params[name] - lr * m_hat / (np.sqrt(v_hat) + eps)
        model.forward_backward(step - 1)
        assert fw.clip_grad_norm(model.graph, max_norm) == pytest.approx(norm, rel=1e-12)
        optimizer.step(model.graph)
        for name, value in model.values().items():
            np.testing.assert_allclose(value, params[name], rtol=1e-10, atol=1e-12)
    assert BATCH == len(batch_rows(0))


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    model = Model(initial_values())
    model.forward_backward(0)
    grads = gradients(model)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in
               grads.values()]
    for tensor, grad in zip(tensors, grads.values(), strict=True):
        tensor.grad = torch.from_numpy(grad.copy())
    for max_norm in (0.05, 100.0):
        theirs = float(torch.nn.utils.clip_grad_norm_(tensors, max_norm))
        ours = fw.clip_grad_norm(model.graph, max_norm)
        assert ours == pytest.approx(theirs, rel=1e-12)
        for tensor, node in zip(tensors, model.layers.parameters(), strict=True):
            np.testing.assert_allclose(node.gradients[node], tensor.grad.numpy(), rtol=1e-12)
