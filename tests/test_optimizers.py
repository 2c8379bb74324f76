"""Optimizers: each update checked against the formula written out by hand."""

import numpy as np
import pytest

import framework as fw

P0 = np.array([0.5, -1.0, 2.0])
Q0 = np.array([1.5, 0.25, -0.75])
T = np.array([1.0, -2.0, 0.5])


def problem():
    """L = mean((p q - t)²), with p and q trainable and t data."""
    p, q, t = fw.Parameter("p"), fw.Parameter("q"), fw.Input("t")
    fw.MSE(p * q, t)
    p_fed, q_fed, t_fed = P0.copy(), Q0.copy(), T.copy()
    graph = fw.topological_sort({p: p_fed, q: q_fed, t: t_fed})
    return graph, (p, q, t), (p_fed, q_fed, t_fed)


def hand_gradients(p, q):
    """∂L/∂p = 2 (p q - t) q / n and ∂L/∂q = 2 (p q - t) p / n."""
    r = 2 * (p * q - T) / len(T)
    return r * q, r * p


def run(optimizer, steps):
    graph, (p, q, t), fed = problem()
    for _ in range(steps):
        fw.run_steps(graph)
        optimizer.step(graph)
    return (p.value, q.value), (p, q, t), fed


def sgd_by_hand(learning_rate, steps):
    p, q = P0.copy(), Q0.copy()
    for _ in range(steps):
        gp, gq = hand_gradients(p, q)
        p, q = p - learning_rate * gp, q - learning_rate * gq
    return p, q


def momentum_by_hand(learning_rate, beta, steps):
    p, q = P0.copy(), Q0.copy()
    vp, vq = np.zeros(3), np.zeros(3)
    for _ in range(steps):
        gp, gq = hand_gradients(p, q)
        vp, vq = beta * vp + gp, beta * vq + gq
        p, q = p - learning_rate * vp, q - learning_rate * vq
    return p, q


def adam_by_hand(learning_rate, beta1, beta2, epsilon, steps):
    theta = [P0.copy(), Q0.copy()]
    m = [np.zeros(3), np.zeros(3)]
    s = [np.zeros(3), np.zeros(3)]
    for step in range(1, steps + 1):
        grads = hand_gradients(*theta)
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            s[i] = beta2 * s[i] + (1 - beta2) * g**2
            m_hat = m[i] / (1 - beta1**step)
            s_hat = s[i] / (1 - beta2**step)
            theta[i] = theta[i] - learning_rate * m_hat / (np.sqrt(s_hat) + epsilon)
    return tuple(theta)


def test_optimize_takes_one_plain_gradient_step():
    graph, (p, q, _), _ = problem()
    fw.run_steps(graph)
    fw.optimize(graph, learning_rate=0.1)
    expected = sgd_by_hand(0.1, steps=1)
    np.testing.assert_allclose(p.value, expected[0], rtol=1e-14)
    np.testing.assert_allclose(q.value, expected[1], rtol=1e-14)


@pytest.mark.parametrize("steps", [1, 2])
def test_sgd(steps):
    (p, q), _, _ = run(fw.SGD(learning_rate=0.1), steps)
    expected = sgd_by_hand(0.1, steps)
    np.testing.assert_allclose(p, expected[0], rtol=1e-14)
    np.testing.assert_allclose(q, expected[1], rtol=1e-14)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_momentum(steps):
    (p, q), _, _ = run(fw.Momentum(learning_rate=0.1, beta=0.8), steps)
    expected = momentum_by_hand(0.1, 0.8, steps)
    np.testing.assert_allclose(p, expected[0], rtol=1e-13)
    np.testing.assert_allclose(q, expected[1], rtol=1e-13)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_adam(steps):
    (p, q), _, _ = run(fw.Adam(learning_rate=0.1, beta1=0.8, beta2=0.9, epsilon=1e-8), steps)
    expected = adam_by_hand(0.1, 0.8, 0.9, 1e-8, steps)
    np.testing.assert_allclose(p, expected[0], rtol=1e-13)
    np.testing.assert_allclose(q, expected[1], rtol=1e-13)


def test_adam_first_step_moves_each_element_by_the_learning_rate():
    # With m̂ = g and ŝ = g² after one step, the update is η g / (|g| + ε) = η sign(g) to
    # within ε / |g|: ε = 1e-300 (ε = 0 is refused) is far below rtol for these gradients.
    (p, q), _, _ = run(fw.Adam(learning_rate=0.01, epsilon=1e-300), steps=1)
    gp, gq = hand_gradients(P0, Q0)
    np.testing.assert_allclose(P0 - p, 0.01 * np.sign(gp), rtol=1e-12)
    np.testing.assert_allclose(Q0 - q, 0.01 * np.sign(gq), rtol=1e-12)


@pytest.mark.parametrize(
    "make", [lambda: fw.SGD(0.1), lambda: fw.Momentum(0.1), lambda: fw.Adam(0.1)],
    ids=["SGD", "Momentum", "Adam"],
)
def test_fed_arrays_are_not_modified_in_place(make):
    _, (p, q, t), (p_fed, q_fed, t_fed) = run(make(), steps=2)
    np.testing.assert_array_equal(p_fed, P0)
    np.testing.assert_array_equal(q_fed, Q0)
    np.testing.assert_array_equal(t_fed, T)
    assert not np.array_equal(p.value, P0), "the parameter should have moved"
    np.testing.assert_array_equal(t.value, T)  # data is never trained


@pytest.mark.parametrize("make", [fw.Momentum, fw.Adam])
def test_state_of_another_shape_is_refused_not_broadcast(make):
    x, w = fw.Input("x"), fw.Parameter("w")
    fw.MSE(x @ w, fw.Input("y"))
    rng = np.random.default_rng(0)
    graph = fw.topological_sort({x: rng.normal(size=(4, 3)), w: rng.normal(size=(3, 1)),
                                 graph_y(x): rng.normal(size=(4, 1))})
    optimizer = make(0.01)
    fw.run_steps(graph)
    optimizer.step(graph)
    w.value = rng.normal(size=(3, 3))  # a new shape, and a target to match
    graph_y(x).value = rng.normal(size=(4, 3))
    fw.run_steps(graph)
    before = w.value.copy()
    with pytest.raises(ValueError, match=r"Parameter\('w'\).*\(3, 1\).*\(3, 3\).*reset\(\)"):
        optimizer.step(graph)
    np.testing.assert_array_equal(w.value, before)
    optimizer.reset()
    optimizer.step(graph)
    assert w.value.shape == (3, 3)


def graph_y(x):
    """The target placeholder of the little regression built on ``x``."""
    return x.outputs[0].outputs[0].inputs[1]


NEW_VALUE = r"Parameter\('p'\) has a new value since backward computed its gradient.*again"


@pytest.mark.parametrize("new_value", [np.ones(5), P0 + 1.0], ids=["other shape", "same shape"])
def test_a_gradient_from_before_a_new_value_is_refused(new_value):
    graph, (p, q, t), _ = problem()
    fw.run_steps(graph)
    p.value = new_value
    with pytest.raises(ValueError, match=NEW_VALUE):
        fw.SGD(0.1).step(graph)
    assert p.value is new_value and np.array_equal(q.value, Q0)  # nothing was stepped


@pytest.mark.parametrize("between", ["nothing", "a forward pass"])
def test_a_second_step_from_the_same_gradient_is_refused(between):
    """A training loop that forgot backward: the second step would reuse the first's gradient."""
    graph, (p, q, t), _ = problem()
    optimizer = fw.Momentum(0.1)
    fw.run_steps(graph)
    optimizer.step(graph)
    if between == "a forward pass":
        fw.forward(graph)
    with pytest.raises(ValueError, match=NEW_VALUE):
        optimizer.step(graph)


def test_a_step_after_evaluating_other_data_uses_the_gradient_of_the_batch():
    """Forward on other rows between backward and the step changes no parameter, so the
    gradient still holds: the step is the one of the batch."""
    graph, (p, q, t), _ = problem()
    fw.run_steps(graph)
    t.value = T + 5.0
    fw.forward(graph)  # evaluate on other targets
    fw.SGD(0.1).step(graph)
    dp, dq = hand_gradients(P0, Q0)
    np.testing.assert_allclose(p.value, P0 - 0.1 * dp)
    np.testing.assert_allclose(q.value, Q0 - 0.1 * dq)


def test_a_gradient_of_the_wrong_shape_from_an_operation_is_refused():
    graph, (p, q, t), _ = problem()
    fw.run_steps(graph)
    p.gradients[p] = np.ones(5)  # as a faulty backward would leave it
    with pytest.raises(ValueError, match=r"Parameter\('p'\) has value shape \(3,\) but its "
                                         r"gradient has shape \(5,\)"):
        fw.SGD(0.1).step(graph)


def test_a_step_after_a_gradient_check_is_allowed():
    """The numerical check nudges copies and puts the very same value back."""
    graph, (p, q, t), _ = problem()
    fw.gradient_check(graph)
    fw.SGD(0.1).step(graph)
    dp, _ = hand_gradients(P0, Q0)
    np.testing.assert_allclose(p.value, P0 - 0.1 * dp)


def adam_with_late_start(learning_rate, beta1, beta2, epsilon, frozen_steps, steps):
    """Adam by hand where q is frozen for the first ``frozen_steps`` steps: each parameter
    counts its own steps, so q's first step gets the bias correction of a first step."""
    theta, m, s, t = [P0.copy(), Q0.copy()], [0.0, 0.0], [0.0, 0.0], [0, 0]
    for step in range(steps):
        grads = hand_gradients(*theta)
        for i, g in enumerate(grads):
            if i == 1 and step < frozen_steps:
                continue
            t[i] += 1
            m[i] = beta1 * m[i] + (1 - beta1) * g
            s[i] = beta2 * s[i] + (1 - beta2) * g**2
            m_hat, s_hat = m[i] / (1 - beta1 ** t[i]), s[i] / (1 - beta2 ** t[i])
            theta[i] = theta[i] - learning_rate * m_hat / (np.sqrt(s_hat) + epsilon)
    return theta


def train_with_late_start(optimizer, frozen_steps, steps):
    graph, (p, q, t), _ = problem()
    q.is_trainable = False
    graph = fw.topological_sort({t: T})  # sorted again, so the marks see q frozen
    for step in range(steps):
        if step == frozen_steps:
            q.is_trainable = True
            graph = fw.topological_sort({t: T})
        fw.run_steps(graph)
        optimizer.step(graph)
    return p.value, q.value


def test_adam_counts_steps_per_parameter():
    got = train_with_late_start(fw.Adam(0.05), frozen_steps=10, steps=15)
    expected = adam_with_late_start(0.05, 0.9, 0.999, 1e-8, frozen_steps=10, steps=15)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


def test_adam_counts_steps_per_parameter_as_pytorch_does():
    torch = pytest.importorskip("torch")
    p, q = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (P0, Q0))
    opt = torch.optim.Adam([p, q], lr=0.05)
    target = torch.tensor(T)
    for step in range(15):
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((p * q - target) ** 2)
        loss.backward()
        if step < 10:
            q.grad = None  # frozen: PyTorch skips a parameter without a gradient
        opt.step()
    got = train_with_late_start(fw.Adam(0.05), frozen_steps=10, steps=15)
    for g, e in zip(got, (p.detach().numpy(), q.detach().numpy()), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("make, message", [
    (lambda: fw.Momentum(0.1, beta=1.0), "Momentum: the beta"),
    (lambda: fw.Adam(0.1, beta1=-0.1), "Adam: the beta1"),
    (lambda: fw.Adam(0.1, beta2="0.9"), "Adam: the beta2"),
    (lambda: fw.Adam(0.1, epsilon=float("nan")), "Adam: the epsilon"),
])
def test_other_settings_are_checked_too(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_a_placeholder_with_its_own_backward_can_be_stepped():
    """backward records the value each node had, whatever its class's backward does."""

    class Scaled(fw.Parameter):
        def backward(self):
            self.gradients[self] = 2.0 * self.upstream_gradient()

    w = Scaled("w")
    (w * w).sum()
    graph = fw.topological_sort({w: np.array([1.0, 3.0])})
    fw.run_steps(graph)
    fw.SGD(0.1).step(graph)
    np.testing.assert_allclose(w.value, [1.0, 3.0] - 0.1 * 2.0 * 2 * np.array([1.0, 3.0]))
