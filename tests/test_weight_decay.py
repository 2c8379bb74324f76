"""Weight decay (``weight_decay=λ`` of SGD, Momentum and Adam), against PyTorch's documented
algorithms written out here in NumPy, over several steps of a small model built from layers.

The reference model computes its gradients by hand (no framework code), and each optimizer
follows the pseudo-code of PyTorch's documentation for ``torch.optim.SGD`` and
``torch.optim.Adam``: g ← ∇θ L + λθ, then the usual update. Then the guarantees: a refused
setting names the optimizer, a step that would write a NaN or an infinity changes nothing
(state included), the gradient itself is left as ∂L/∂θ, and λ = 0 is exactly the step without
decay. A last test compares with PyTorch when it is installed.
"""

import math

import numpy as np
import pytest
from helpers import assert_names

import framework as fw
from framework import layers as L

N_ROWS, BATCH, STEPS = 12, 4, 6
NAMES = ("0.weight", "0.bias", "2.weight", "2.bias")


# The model: x (n, 3) → Linear(3, 4) → tanh → Linear(4, 2), mean squared error against t.

def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N_ROWS, 3)), rng.normal(size=(N_ROWS, 2))


def batch_rows(step):
    """The rows of step ``step``: the data in order, BATCH at a time, round and round."""
    return (np.arange(BATCH) + step * BATCH) % N_ROWS


def initial_values(seed=1):
    """Weights in the course's (in, out) layout, and biases away from zero, so that a decay
    of the biases (or a decay forgotten for them) shows."""
    rng = np.random.default_rng(seed)
    return {"0.weight": rng.normal(size=(3, 4)), "0.bias": rng.normal(size=4),
            "2.weight": rng.normal(size=(4, 2)), "2.bias": rng.normal(size=2)}


def hand_loss_and_gradients(params, x, t):
    """L = mean((tanh(x W1 + b1) W2 + b2 - t)²) and its gradients, by the chain rule."""
    w1, b1, w2, b2 = (params[name] for name in NAMES)
    h = np.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    dz = 2.0 * (z - t) / z.size
    dh = dz @ w2.T
    da1 = dh * (1.0 - h * h)
    grads = {"0.weight": x.T @ da1, "0.bias": da1.sum(axis=0),
             "2.weight": h.T @ dz, "2.bias": dz.sum(axis=0)}
    return float(np.mean((z - t) ** 2)), grads


class Model:
    """The same model from layers, its graph sorted once toward the loss."""

    def __init__(self, values):
        self.layers = L.Sequential(L.Linear(3, 4), L.Tanh(), L.Linear(4, 2))
        for name, node in self.layers.named_parameters().items():
            node.value = values[name].copy()
        self.x, self.t = fw.Input("x"), fw.Input("t")
        self.loss = fw.MSE(self.layers(self.x), self.t, name="loss")
        x, t = data()
        self.graph = fw.topological_sort({self.x: x[:BATCH], self.t: t[:BATCH]},
                                         outputs=[self.loss])

    def forward_backward(self, step):
        x, t = data()
        rows = batch_rows(step)
        self.x.value, self.t.value = x[rows], t[rows]
        fw.forward(self.graph)
        fw.backward(self.graph)

    def values(self):
        return {name: node.value for name, node in self.layers.named_parameters().items()}

    def parameter(self, name):
        return self.layers.named_parameters()[name]


# PyTorch's algorithms (its documentation's pseudo-code), in NumPy.

def sgd_reference(lr, weight_decay, momentum=None):
    """torch.optim.SGD: g ← g + λθ; with momentum μ, b ← g at the first step and b ← μb + g
    after (dampening 0, no Nesterov), g ← b; then θ ← θ - γ g."""
    buffers = {}

    def update(name, theta, grad, _step):
        g = grad + weight_decay * theta
        if momentum is not None:
            g = g if name not in buffers else momentum * buffers[name] + g
            buffers[name] = g
        return theta - lr * g

    return update


def adam_reference(lr, weight_decay, beta1=0.9, beta2=0.999, eps=1e-8):
    """torch.optim.Adam (amsgrad off): g ← g + λθ; m ← β₁m + (1-β₁)g; v ← β₂v + (1-β₂)g²;
    m̂ = m / (1-β₁ᵗ), v̂ = v / (1-β₂ᵗ); θ ← θ - γ m̂ / (√v̂ + ε)."""
    m, v = {}, {}

    def update(name, theta, grad, step):
        g = grad + weight_decay * theta
        m[name] = beta1 * m.get(name, 0.0) + (1 - beta1) * g
        v[name] = beta2 * v.get(name, 0.0) + (1 - beta2) * g * g
        m_hat = m[name] / (1 - beta1 ** step)
        v_hat = v[name] / (1 - beta2 ** step)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps)

    return update


def reference_run(update, steps=STEPS):
    """Every step's parameters (after the step) and losses (before it), by hand."""
    params, history = initial_values(), []
    x, t = data()
    for step in range(steps):
        rows = batch_rows(step)
        loss, grads = hand_loss_and_gradients(params, x[rows], t[rows])
        params = {name: update(name, params[name], grads[name], step + 1) for name in NAMES}
        history.append((loss, params))
    return history


OPTIMIZERS = {  # name → (the framework's optimizer, the reference), for a weight decay λ
    "SGD": (lambda wd: fw.SGD(0.1, weight_decay=wd), lambda wd: sgd_reference(0.1, wd)),
    "Momentum": (lambda wd: fw.Momentum(0.05, beta=0.8, weight_decay=wd),
                 lambda wd: sgd_reference(0.05, wd, momentum=0.8)),
    "Adam": (lambda wd: fw.Adam(0.01, beta1=0.8, beta2=0.95, epsilon=1e-6, weight_decay=wd),
             lambda wd: adam_reference(0.01, wd, beta1=0.8, beta2=0.95, eps=1e-6)),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01, 0.3])
def test_several_steps_against_pytorchs_algorithm_in_numpy(name, weight_decay):
    make, reference = OPTIMIZERS[name]
    model, optimizer = Model(initial_values()), make(weight_decay)
    assert optimizer.weight_decay == weight_decay
    for step, (loss, expected) in enumerate(reference_run(reference(weight_decay))):
        model.forward_backward(step)
        assert model.loss.value == pytest.approx(loss, rel=1e-12)
        optimizer.step(model.graph)
        for param, value in model.values().items():
            np.testing.assert_allclose(value, expected[param], rtol=1e-11, atol=1e-13,
                                       err_msg=f"{name}, step {step}, {param}")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_decay_changes_the_path(name):
    """The two runs differ: a decay applied to nothing (or to the wrong array) would pass
    the comparison above only for λ = 0."""
    make, _ = OPTIMIZERS[name]
    runs = []
    for weight_decay in (0.0, 0.3):
        model, optimizer = Model(initial_values()), make(weight_decay)
        for step in range(3):
            model.forward_backward(step)
            optimizer.step(model.graph)
        runs.append(model.values())
    for param in NAMES:
        assert not np.allclose(runs[0][param], runs[1][param]), param


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_zero_decay_is_exactly_the_step_without_decay(name):
    make, _ = OPTIMIZERS[name]
    plain = {"SGD": fw.SGD(0.1), "Momentum": fw.Momentum(0.05, beta=0.8),
             "Adam": fw.Adam(0.01, beta1=0.8, beta2=0.95, epsilon=1e-6)}[name]
    models, optimizers = [Model(initial_values()), Model(initial_values())], (plain, make(0.0))
    for step in range(4):
        for model, optimizer in zip(models, optimizers, strict=True):
            model.forward_backward(step)
            optimizer.step(model.graph)
    for param in NAMES:
        np.testing.assert_array_equal(models[0].values()[param], models[1].values()[param])


def test_sgd_shrinks_a_parameter_the_loss_ignores_by_one_minus_lr_times_decay():
    """∂L/∂θ = 0, so θ ← θ - ηλθ = (1 - ηλ)θ at every step: decay in its plainest form."""
    model = Model(initial_values())
    unused = fw.Parameter("unused")
    unused.value = np.array([1.0, -2.0, 4.0])
    total = model.loss + 0.0 * fw.Sum(unused)
    x, t = data()
    graph = fw.topological_sort({model.x: x[:BATCH], model.t: t[:BATCH]}, outputs=[total])
    optimizer = fw.SGD(0.1, weight_decay=0.5)
    for _ in range(5):
        fw.forward(graph)
        fw.backward(graph)
        np.testing.assert_array_equal(unused.gradients[unused], np.zeros(3))
        optimizer.step(graph)
    np.testing.assert_allclose(unused.value, np.array([1.0, -2.0, 4.0]) * 0.95**5,
                               rtol=1e-14)


def test_the_gradient_is_left_as_the_gradient_of_the_loss():
    """The decayed gradient g + λθ is the optimizer's own: a drawing, or a clip after the
    step, still sees ∂L/∂θ."""
    model, optimizer = Model(initial_values()), fw.Adam(0.01, weight_decay=0.5)
    model.forward_backward(0)
    x, t = data()
    _, expected = hand_loss_and_gradients(initial_values(), x[batch_rows(0)], t[batch_rows(0)])
    optimizer.step(model.graph)
    for name in NAMES:
        node = model.parameter(name)
        np.testing.assert_allclose(node.gradients[node], expected[name], rtol=1e-12,
                                   atol=1e-15)


def test_a_frozen_parameter_is_not_decayed():
    model, optimizer = Model(initial_values()), fw.SGD(0.1, weight_decay=0.5)
    frozen = model.parameter("0.bias")
    frozen.is_trainable = False
    before = frozen.value.copy()
    for step in range(3):
        model.forward_backward(step)
        optimizer.step(model.graph)
    np.testing.assert_array_equal(frozen.value, before)


def test_weight_decay_is_the_gradient_of_an_l2_penalty():
    """One step with decay λ equals one step without decay on L + (λ/2) Σ θ², the penalty's
    gradient taken by central differences here."""
    weight_decay, lr = 0.2, 0.1
    model = Model(initial_values())
    model.forward_backward(0)
    fw.SGD(lr, weight_decay=weight_decay).step(model.graph)
    x, t = data()
    rows = batch_rows(0)
    params = initial_values()

    def penalized(values):
        loss, _ = hand_loss_and_gradients(values, x[rows], t[rows])
        return loss + weight_decay / 2 * sum(np.sum(v * v) for v in values.values())

    for name in NAMES:
        numeric = np.zeros_like(params[name])
        for index in np.ndindex(numeric.shape):
            shifted = [dict(params, **{name: params[name].copy()}) for _ in range(2)]
            shifted[0][name][index] += 1e-6
            shifted[1][name][index] -= 1e-6
            numeric[index] = (penalized(shifted[0]) - penalized(shifted[1])) / 2e-6
        np.testing.assert_allclose(model.parameter(name).value, params[name] - lr * numeric,
                                   rtol=1e-7, atol=1e-9, err_msg=name)


# Bad settings: refused, naming the optimizer, the old value kept.

BAD = [(-0.1, ValueError), (float("nan"), ValueError), (math.inf, ValueError),
       (-math.inf, ValueError), ("0.1", TypeError), (True, TypeError), (None, TypeError),
       (np.array([0.1]), TypeError)]


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("value, error_type", BAD)
def test_a_bad_weight_decay_is_refused_naming_the_optimizer(name, value, error_type):
    make, _ = OPTIMIZERS[name]
    with pytest.raises(error_type) as error:
        make(value)
    assert_names(error, name, "weight_decay")
    optimizer = make(0.01)
    with pytest.raises(error_type) as error:
        optimizer.weight_decay = value
    assert_names(error, name, "weight_decay", repr(value) if error_type is ValueError else "")
    assert optimizer.weight_decay == 0.01


def test_a_weight_decay_of_numpy_type_is_taken():
    optimizer = fw.SGD(0.1, weight_decay=np.float32(0.25))
    assert optimizer.weight_decay == 0.25
    assert fw.Adam(weight_decay=1).weight_decay == 1


# All or nothing: a decay that overflows writes nothing, and keeps no state.

@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_step_that_overflows_through_the_decay_changes_nothing(name):
    """λθ = 1e308 · 5 is an infinity although θ, the loss and the gradient are finite: the
    step is refused, naming the parameter and the decay, and neither the parameters nor the
    optimizer's state (momentum, Adam's moments and step counts) change."""
    make, _ = OPTIMIZERS[name]
    model, optimizer = Model(initial_values()), make(1e-3)
    model.forward_backward(0)
    optimizer.step(model.graph)  # a first good step: state to keep
    state = {node: tuple(np.copy(s) for s in value) for node, value in optimizer.state.items()}
    model.parameter("2.bias").value = np.array([5.0, 1.0])
    model.forward_backward(1)
    before = {param: value.copy() for param, value in model.values().items()}
    optimizer.weight_decay = 1e308
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(FloatingPointError) as error:
        optimizer.step(model.graph)
    assert_names(error, name, "'2.bias'", "weight decay", "No parameter was changed")
    for param, value in model.values().items():
        np.testing.assert_array_equal(value, before[param], err_msg=param)
    assert optimizer.state.keys() == state.keys()
    for node, value in optimizer.state.items():
        for kept, old in zip(value, state[node], strict=True):
            np.testing.assert_array_equal(kept, old)
    optimizer.weight_decay = 1e-3  # and the optimizer goes on as if it had not been tried
    optimizer.step(model.graph)
    assert all(np.isfinite(value).all() for value in model.values().values())


def test_a_nan_gradient_is_still_refused_with_decay():
    model, optimizer = Model(initial_values()), fw.Momentum(0.1, weight_decay=0.1)
    model.forward_backward(0)
    node = model.parameter("0.weight")
    node.gradients[node] = np.full((3, 4), np.nan)
    before = {param: value.copy() for param, value in model.values().items()}
    with pytest.raises(FloatingPointError) as error:
        optimizer.step(model.graph)
    assert_names(error, "Momentum", "'0.weight'", "12 NaN")
    for param, value in model.values().items():
        np.testing.assert_array_equal(value, before[param])
    assert optimizer.state == {}


def test_a_gradient_of_another_graph_is_still_refused_with_decay():
    """The decay reads θ, not the gradient's origin: the check that every gradient comes from
    this graph's last backward pass is made all the same."""
    model, optimizer = Model(initial_values()), fw.SGD(0.1, weight_decay=0.1)
    model.forward_backward(0)
    other_x = fw.Input("other_x")
    other = fw.topological_sort({other_x: np.ones((2, 3))},
                                outputs=[fw.Sum(model.layers(other_x), name="other_loss")])
    fw.forward(other)
    fw.backward(other)
    before = {param: value.copy() for param, value in model.values().items()}
    with pytest.raises(ValueError) as error:
        optimizer.step(model.graph)
    assert_names(error, "SGD", "other_loss", "another graph", "no parameter was changed")
    for param, value in model.values().items():
        np.testing.assert_array_equal(value, before[param])


def test_a_loss_that_is_not_a_node_is_refused_naming_the_optimizer():
    model = Model(initial_values())
    model.forward_backward(0)
    for optimizer in (fw.SGD(0.1, weight_decay=0.1), fw.Adam(weight_decay=0.1)):
        with pytest.raises(TypeError) as error:
            optimizer.step(model.graph, loss="loss")
        assert_names(error, type(optimizer).__name__, "loss=", "'loss'")


# PyTorch, when it is installed.

@pytest.mark.parametrize("name", OPTIMIZERS)
def test_against_pytorch(name):
    torch = pytest.importorskip("torch")
    make, _ = OPTIMIZERS[name]
    weight_decay = 0.1
    values = initial_values()
    # torch.nn.Linear keeps (out, in): the transposes of the course's weights.
    theirs = {param: torch.tensor(value.T.copy() if value.ndim == 2 else value.copy(),
                                  dtype=torch.float64, requires_grad=True)
              for param, value in values.items()}
    their_optimizer = {
        "SGD": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=weight_decay),
        "Momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8,
                                              weight_decay=weight_decay),
        "Adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=1e-6,
                                           weight_decay=weight_decay),
    }[name](list(theirs.values()))
    model, optimizer = Model(values), make(weight_decay)
    x, t = data()
    for step in range(STEPS):
        rows = batch_rows(step)
        model.forward_backward(step)
        optimizer.step(model.graph)
        their_optimizer.zero_grad()
        h = torch.tanh(torch.nn.functional.linear(torch.from_numpy(x[rows]), theirs["0.weight"],
                                                  theirs["0.bias"]))
        z = torch.nn.functional.linear(h, theirs["2.weight"], theirs["2.bias"])
        torch.nn.functional.mse_loss(z, torch.from_numpy(t[rows])).backward()
        their_optimizer.step()
    for param, value in model.values().items():
        their = theirs[param].detach().numpy()
        np.testing.assert_allclose(value, their.T if their.ndim == 2 else their, rtol=1e-9,
                                   atol=1e-12, err_msg=param)
