"""Training speed: the same model (an MLP, or a small CNN on the digits) trained by the
framework, by hand in NumPy, and by PyTorch.

All three start from the same weights and see the same mini-batches in the same order, so after
the same number of epochs they must hold the same parameters (checked with ``np.allclose``).
The time per epoch reported is a median over interleaved rounds (see ``benchmark``).
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import framework as fw
from framework.passes import ancestors_of

DATA = Path(__file__).resolve().parent.parent / "data"
SEED = 0


@dataclass
class Problem:
    """A data set, a model size and a training set-up: everything the three versions share.

    The model is an MLP: ``Linear`` layers of the sizes ``inputs, *hidden, outputs``, with
    ``activation`` ("relu" or "sigmoid") after every one but the last.
    """

    name: str
    task: str  # "classification" (softmax cross-entropy) or "regression" (MSE)
    features: np.ndarray  # (samples, inputs), float64
    targets: np.ndarray  # class ids (int64) or values (float64), shape (samples,)
    hidden: tuple  # the sizes of the hidden layers
    outputs: int
    batch_size: int
    learning_rate: float
    activation: str = "relu"
    initial: dict = field(init=False)  # W1, b1, W2, b2, ...: drawn once, shared by the versions

    def __post_init__(self):
        rng = np.random.default_rng(SEED)
        sizes = (self.features.shape[1], *self.hidden, self.outputs)
        # He initialisation (variance 2 / inputs) suits ReLU; LeCun's (1 / inputs), sigmoid
        gain = 2.0 if self.activation == "relu" else 1.0
        self.initial = {}
        for layer, (inputs, outputs) in enumerate(itertools.pairwise(sizes), start=1):
            self.initial[f"W{layer}"] = rng.normal(0.0, np.sqrt(gain / inputs), (inputs, outputs))
            self.initial[f"b{layer}"] = np.zeros(outputs)

    model = "MLP"  # which versions train it: see VERSIONS

    @property
    def layers(self) -> int:
        return len(self.hidden) + 1

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The shuffled mini-batches of one epoch, the same for every version."""
        rng = np.random.default_rng([SEED, epoch])
        return list(fw.minibatches(len(self.features), self.batch_size, rng))


@dataclass
class ConvProblem:
    """The digits as 1×8×8 images, for a small CNN: conv 3×3 (``filters[0]`` filters,
    padding 1), ReLU, max-pool 2, conv 3×3 (``filters[1]``, no padding), ReLU, flatten
    (``filters[1]``·2·2 features), a linear layer to 10 classes, softmax cross-entropy."""

    name: str
    features: np.ndarray  # (samples, 1, 8, 8), float64
    targets: np.ndarray  # class ids, int64
    filters: tuple
    batch_size: int
    learning_rate: float
    initial: dict = field(init=False)  # K1, c1, K2, c2, W, b: drawn once, shared

    task = "classification"
    model = "CNN"
    epoch_batches = Problem.epoch_batches

    def __post_init__(self):
        rng = np.random.default_rng(SEED)
        f1, f2 = self.filters
        flat = f2 * 2 * 2
        self.initial = {  # He initialisation: variance 2 / (inputs of one output)
            "K1": rng.normal(0.0, np.sqrt(2.0 / 9), (f1, 1, 3, 3)),
            "c1": np.zeros(f1),
            "K2": rng.normal(0.0, np.sqrt(2.0 / (9 * f1)), (f2, f1, 3, 3)),
            "c2": np.zeros(f2),
            "W": rng.normal(0.0, np.sqrt(2.0 / flat), (flat, 10)),
            "b": np.zeros(10),
        }


def _read_csv(name):
    return np.loadtxt(DATA / name, delimiter=",", skiprows=1)


def digits(hidden=128, batch_size=64) -> Problem:
    """Digits 8×8 → hidden → 10 classes; pixels scaled from 0..16 to 0..1."""
    data = _read_csv("digits.csv")
    return Problem(
        name=f"digits MLP 64-{hidden}-10", task="classification",
        features=data[:, :-1] / 16.0, targets=data[:, -1].astype(np.int64),
        hidden=(hidden,), outputs=10, batch_size=batch_size, learning_rate=0.1,
    )


def digits_cnn(filters=(8, 16), batch_size=64) -> ConvProblem:
    """Digits as 1×8×8 images → conv → ReLU → pool → conv → ReLU → flatten → 10 classes."""
    data = _read_csv("digits.csv")
    return ConvProblem(
        name=f"digits CNN c{filters[0]}-pool-c{filters[1]}-10", features=(data[:, :-1] /
        16.0).reshape(-1, 1, 8, 8), targets=data[:, -1].astype(np.int64), filters=filters,
        batch_size=batch_size, learning_rate=0.1,
    )


def diabetes(hidden=(32,), batch_size=16, activation="relu") -> Problem:
    """Diabetes 10 features → hidden layers → 1 value; features and target standardised."""
    data = _read_csv("diabetes.csv")
    standard = (data - data.mean(axis=0)) / data.std(axis=0)
    sizes = "-".join(map(str, (10, *hidden, 1)))
    return Problem(
        name=f"diabetes MLP {sizes}" + ("" if activation == "relu" else f" {activation}"),
        task="regression", features=standard[:, :-1], targets=standard[:, -1],
        hidden=hidden, outputs=1, batch_size=batch_size, learning_rate=0.01,
        activation=activation,
    )


def original_net() -> Problem:
    """The net of the project this course grew from: 10-10-16-1, sigmoid, MSE, batches of 16."""
    return diabetes(hidden=(10, 16), batch_size=16, activation="sigmoid")


class FrameworkMLP:
    """The course's way: build the graph once, sort it, then forward/backward/step per batch."""

    label = "framework"

    def __init__(self, problem: Problem):
        self.problem = problem
        self.x, self.y = fw.Input("x"), fw.Input("y")
        self.params = {name: fw.Parameter(name) for name in problem.initial}
        output = self.model(self.x, self.params)
        if problem.task == "classification":
            fw.SoftmaxCrossEntropy(output, self.y, name="loss")
        else:
            fw.MSE(output, self.y, name="loss")
        feed = {self.x: problem.features[:1], self.y: problem.targets[:1]}
        feed.update({self.params[name]: value for name, value in problem.initial.items()})
        self.graph = fw.topological_sort(feed)
        self.optimizer = fw.SGD(problem.learning_rate)

    def model(self, x, p):
        activation = fw.ReLU if self.problem.activation == "relu" else fw.Sigmoid
        h = x
        for layer in range(1, self.problem.layers):
            h = activation(fw.Linear(h, p[f"W{layer}"], p[f"b{layer}"]))
        last = self.problem.layers
        return fw.Linear(h, p[f"W{last}"], p[f"b{last}"])

    def train_epoch(self, batches):
        X, T = self.problem.features, self.problem.targets
        for idx in batches:
            self.x.value = X[idx]
            self.y.value = T[idx]
            fw.forward(self.graph)
            fw.backward(self.graph)
            self.optimizer.step(self.graph)

    def parameters(self) -> dict:
        return {name: node.value for name, node in self.params.items()}

    def skips_data_gradients(self) -> bool:
        """Nothing is computed toward the data: no gradient reaches x or y."""
        data = (self.x, self.y)
        sent = [g for node in self.graph for g in node.gradients if g in data]
        return not sent and not any(node.needs_gradient for node in data)


class BareNodesMLP(FrameworkMLP):
    """The framework's own nodes, with nothing of what the passes and the optimizer add: each
    node's forward in order, each backward in reverse (of the nodes that need a gradient), and
    the update θ - η g. No pass numbers, no reached set, no check that the values come from one
    pass, that the loss and the new parameters are finite, or that a gradient fits and is new.

    Not a way to train: each of those checks stops a mistake from giving a wrong number
    silently. It is the floor of this design, what a Python call per node and the ops' own
    checks (fed values made float64, shapes, labels) cost by themselves.
    """

    label = "nodes alone"

    def train_epoch(self, batches):
        X, T, lr = self.problem.features, self.problem.targets, self.problem.learning_rate
        graph = self.graph
        backward_order, parameters = nodes_alone_plan(graph)
        for idx in batches:
            self.x.value, self.y.value = X[idx], T[idx]
            nodes_alone_step(graph, backward_order, parameters, lr)


def nodes_alone_plan(graph) -> tuple[list, list]:
    """What a step of the nodes alone visits: backward, the nodes that need a gradient among
    those the loss (the graph's last node) is computed from, in reverse order (a node the loss
    does not depend on, such as an LSTM's unused last state, would take itself for the loss and
    send a gradient of ones); then the trainable parameters. The nodes' backward passes are
    cleared, since upstream_gradient reads only the outputs of the same pass."""
    leads_to_loss = ancestors_of(graph[-1])
    for node in graph:
        node.backward_pass = None
    backward_order = [node for node in reversed(graph)
                      if node.needs_gradient and node in leads_to_loss]
    return backward_order, fw.trainables(graph)


def nodes_alone_step(graph, backward_order, parameters, lr):
    """Each node's forward in order, each backward in ``backward_order``, and θ - η g."""
    for node in graph:
        node.forward()
    for node in backward_order:
        node.gradients = {}
        node.backward()
    for node in parameters:
        node.value = node.value - lr * node.gradients[node]


class CompiledMLP(FrameworkMLP):
    """The same graph, compiled: ``fw.compile(graph, optimizer)`` writes one function that runs
    the forward pass, the backward pass and the update of a batch (``step.source``), with the
    framework's checks (class ids, a finite loss, finite new parameters, all or nothing)."""

    label = "compiled"

    def __init__(self, problem):
        super().__init__(problem)
        self.step = fw.compile(self.graph, self.optimizer)

    def train_epoch(self, batches):
        X, T, step, x, y = self.problem.features, self.problem.targets, self.step, self.x, self.y
        for idx in batches:
            step({x: X[idx], y: T[idx]})


def softmax_cross_entropy(z, t):
    """The log-sum-exp cross-entropy of logits z (B, classes) against labels t, as sum / B, and
    its gradient ∂L/∂z = (softmax(z) - onehot(t)) / B: the framework's formulas."""
    shifted = z - z.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(t))
    loss = (np.log(total[:, 0]) - shifted[rows, t]).sum() / len(t)
    dz = exp / total
    dz[rows, t] -= 1.0
    dz /= len(t)
    return loss, dz


def sigmoid(a):
    """σ(a) and σ'(a), with the framework's formulas: e = e^{-|a|}, σ = 1 / (1 + e) for a ≥ 0
    and e / (1 + e) below, σ' = e / (1 + e)²."""
    e = np.exp(-np.abs(a))
    one_plus_e = 1.0 + e
    return np.where(a >= 0, 1.0, e) / one_plus_e, e / (one_plus_e * one_plus_e)


class NumpyMLP:
    """The same model written by hand, as a competent NumPy user would.

    Same formulas as the framework's ops, no gradient toward the data, and the same update
    ``p = p - lr * g`` (a new array, not in place). The loss value is computed every step, as
    the framework's forward pass does. One loop over the layers serves every size (it measured
    as fast as the same steps written out for one hidden layer).
    """

    label = "NumPy"
    checks = False  # see CheckedNumpyMLP

    def __init__(self, problem: Problem):
        self.problem = problem
        self.params = dict(problem.initial)

    def _loss(self, z, t):
        if self.problem.task == "classification":
            return softmax_cross_entropy(z, t)
        diff = z - t.reshape(z.shape)  # mean squared error; ∂L/∂z = 2 (z - t) / n
        return (diff * diff).sum() / diff.size, (2.0 / diff.size) * diff

    def train_epoch(self, batches):
        X, T, lr = self.problem.features, self.problem.targets, self.problem.learning_rate
        relu = self.problem.activation == "relu"
        n = self.problem.layers
        W = [self.params[f"W{i}"] for i in range(1, n + 1)]
        b = [self.params[f"b{i}"] for i in range(1, n + 1)]
        checks, classes = self.checks, W[-1].shape[1]
        for idx in batches:
            x, t = X[idx], T[idx]
            if checks:
                t = checked_targets(t, self.problem.task, classes)
            inputs, derivatives = [x], []  # each layer's input; each activation's derivative
            for i in range(n - 1):
                a = inputs[-1] @ W[i] + b[i]
                if relu:
                    inputs.append(np.maximum(a, 0.0))
                    derivatives.append(a > 0)
                else:
                    h, derivative = sigmoid(a)
                    inputs.append(h)
                    derivatives.append(derivative)
            self.loss, dz = self._loss(inputs[-1] @ W[-1] + b[-1], t)
            if checks and not math.isfinite(self.loss):
                raise FloatingPointError(f"the loss is {self.loss}")
            # With checks, every new value is kept aside until all are checked (all or nothing)
            new_W, new_b = (W[:], b[:]) if checks else (W, b)
            for i in reversed(range(n)):
                dW, db = inputs[i].T @ dz, dz.sum(axis=0)
                if i > 0:  # no gradient toward the data
                    dz = (dz @ W[i].T) * derivatives[i - 1]
                new_W[i], new_b[i] = W[i] - lr * dW, b[i] - lr * db
            if checks:
                require_finite(new_W + new_b)
            W, b = new_W, new_b
        self.params = {f"{name}{i + 1}": p[i] for i in range(n) for name, p in (("W", W), ("b", b))}

    def parameters(self) -> dict:
        return self.params


class CheckedNumpyMLP(NumpyMLP):
    """NumpyMLP plus, written by hand, the checks the framework makes every step so that a step
    never trains on a wrong number silently: labels converted to floats (every fed value is
    float64) and checked to be class ids with the cross-entropy's five NumPy calls, a finite
    loss, and every new parameter checked finite (one dot product each) before any is kept.
    What it costs over NumpyMLP is what those checks cost by themselves, whoever writes them."""

    label = "NumPy + checks"
    checks = True


def checked_targets(t, task, classes):
    """As the framework feeds targets: float64; and class labels as the cross-entropy checks
    them (see SoftmaxCrossEntropy._class_ids), returned as class ids."""
    t = t.astype(np.float64)
    if task != "classification":
        return t
    ids = np.fmin(np.fmax(t, -0.5), classes - 0.5).astype(np.intp)
    if not (ids == t).all():
        raise ValueError(f"labels must be whole numbers from 0 to {classes - 1}")
    return ids


def require_finite(values):
    """As the optimizer step checks its new values: a NaN or an inf makes a sum of squares
    NaN or inf."""
    for value in values:
        flat = value.ravel()
        if not math.isfinite(flat.dot(flat)):
            raise FloatingPointError("a step would write a NaN or an inf")


class TorchMLP:
    """PyTorch eager on the CPU, written the usual way: nn.Sequential, a loss, optim.SGD.

    float64 like the others, so that the parameters can be compared; one thread.
    """

    label = "PyTorch"

    def __init__(self, problem: Problem, torch):
        self.torch, self.problem = torch, problem
        nn = torch.nn
        sizes = (problem.features.shape[1], *problem.hidden, problem.outputs)
        activation = nn.ReLU if problem.activation == "relu" else nn.Sigmoid
        layers = []
        for inputs, outputs in itertools.pairwise(sizes):
            layers += [nn.Linear(inputs, outputs), activation()]
        self.model = nn.Sequential(*layers[:-1]).double()
        self.linears = [layer for layer in self.model if isinstance(layer, nn.Linear)]
        with torch.no_grad():  # nn.Linear keeps its weight as (out, in)
            for i, layer in enumerate(self.linears, start=1):
                layer.weight.copy_(torch.from_numpy(problem.initial[f"W{i}"].T))
                layer.bias.copy_(torch.from_numpy(problem.initial[f"b{i}"]))
        if problem.task == "classification":
            self.loss_fn = nn.CrossEntropyLoss()
            self.targets = torch.from_numpy(problem.targets)
        else:
            self.loss_fn = nn.MSELoss()
            self.targets = torch.from_numpy(problem.targets).reshape(-1, 1)
        self.features = torch.from_numpy(problem.features)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=problem.learning_rate)

    def train_epoch(self, batches):
        torch = self.torch
        for idx in batches:
            idx = torch.from_numpy(idx)
            loss = self.loss_fn(self.model(self.features[idx]), self.targets[idx])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def parameters(self) -> dict:
        values = {}
        for i, layer in enumerate(self.linears, start=1):
            values[f"W{i}"] = layer.weight.detach().numpy().T
            values[f"b{i}"] = layer.bias.detach().numpy()
        return values


class FrameworkCNN(FrameworkMLP):
    """The same training loop around the CNN, built from the framework's nodes."""

    def model(self, x, p):
        hidden = fw.MaxPool2d(fw.ReLU(fw.Conv2d(x, p["K1"], p["c1"], padding=1)), 2)
        hidden = fw.ReLU(fw.Conv2d(hidden, p["K2"], p["c2"]))
        return fw.Linear(fw.Flatten(hidden), p["W"], p["b"])


class CompiledCNN(CompiledMLP, FrameworkCNN):
    """The CNN's graph, compiled."""


def im2col(x, k):
    """The k×k windows (stride 1) of images x (N, C, H, W), one row per output pixel:
    shape (N·out_h·out_w, C·k·k), and the output's (N, out_h, out_w)."""
    view = sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, out_h, out_w, k, k)
    n, c, out_h, out_w = view.shape[:4]
    return view.transpose(0, 2, 3, 1, 4, 5).reshape(n * out_h * out_w, c * k * k), (n, out_h, out_w)


def col2im(dcols, shape, k):
    """Add window gradients dcols (N, out_h, out_w, C, k, k) back onto images of ``shape``."""
    n, out_h, out_w = dcols.shape[:3]
    grad = np.zeros((n, shape[2], shape[3], shape[1]))
    for di in range(k):
        for dj in range(k):
            grad[:, di:di + out_h, dj:dj + out_w, :] += dcols[:, :, :, :, di, dj]
    return grad.transpose(0, 3, 1, 2)


class NumpyCNN:
    """The CNN written by hand: im2col and one matrix product per convolution, max pooling by
    argmax over 2×2 windows with a bincount scatter back, the same formulas and the same new
    arrays for the parameters as NumpyMLP; no gradient toward the images."""

    label = "NumPy"

    def __init__(self, problem: ConvProblem):
        self.problem = problem
        self.params = dict(problem.initial)

    def train_epoch(self, batches):
        X, T, lr = self.problem.features, self.problem.targets, self.problem.learning_rate
        K1, c1, K2, c2, W, b = (self.params[k] for k in ("K1", "c1", "K2", "c2", "W", "b"))
        f1, f2 = K1.shape[0], K2.shape[0]
        for idx in batches:
            x, t = X[idx], T[idx]
            # conv 3×3, padding 1, then ReLU
            cols1, (n, h, w) = im2col(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), 3)
            a1 = (cols1 @ K1.reshape(f1, -1).T + c1).reshape(n, h, w, f1).transpose(0, 3, 1, 2)
            h1 = np.maximum(a1, 0.0)
            # max-pool 2×2: the argmax of each window
            windows = sliding_window_view(h1, (2, 2), axis=(2, 3))[:, :, ::2, ::2]
            flat = windows.reshape(*windows.shape[:4], 4)
            argmax = flat.argmax(axis=-1)
            p1 = np.take_along_axis(flat, argmax[..., np.newaxis], axis=-1)[..., 0]
            # conv 3×3, no padding, ReLU, flatten, linear
            cols2, (n, h2_, w2_) = im2col(p1, 3)
            a2 = (cols2 @ K2.reshape(f2, -1).T + c2).reshape(n, h2_, w2_, f2).transpose(0, 3, 1, 2)
            h2 = np.maximum(a2, 0.0)
            features = np.reshape(h2, (n, -1))
            z = features @ W + b
            self.loss, dz = softmax_cross_entropy(z, t)
            # backward: linear, flatten, ReLU, conv 2
            dW, db = features.T @ dz, dz.sum(axis=0)
            da2 = np.reshape(dz @ W.T, h2.shape) * (a2 > 0)
            g2 = np.transpose(da2, (0, 2, 3, 1)).reshape(-1, f2)
            dK2, dc2 = (g2.T @ cols2).reshape(K2.shape), g2.sum(axis=0)
            dp1 = col2im((g2 @ K2.reshape(f2, -1)).reshape(n, h2_, w2_, *K2.shape[1:]), p1.shape, 3)
            # max-pool: each window's gradient to its maximum; then ReLU and conv 1
            _, _, ph, pw = argmax.shape
            di, dj = np.divmod(argmax, 2)
            where = (np.arange(n * f1).reshape(n, f1, 1, 1) * h + np.arange(ph)[:, None] * 2
                     + di) * w + np.arange(pw) * 2 + dj
            dh1 = np.bincount(where.ravel(), weights=np.ravel(dp1),
                              minlength=h1.size).reshape(h1.shape)
            g1 = np.transpose(dh1 * (a1 > 0), (0, 2, 3, 1)).reshape(-1, f1)
            dK1, dc1 = (g1.T @ cols1).reshape(K1.shape), g1.sum(axis=0)
            K1, c1, K2, c2 = K1 - lr * dK1, c1 - lr * dc1, K2 - lr * dK2, c2 - lr * dc2
            W, b = W - lr * dW, b - lr * db
        self.params = {"K1": K1, "c1": c1, "K2": K2, "c2": c2, "W": W, "b": b}

    def parameters(self) -> dict:
        return self.params


class TorchCNN:
    """The CNN in PyTorch eager, the usual way: nn.Sequential, nn.CrossEntropyLoss, optim.SGD;
    float64 and one thread, like TorchMLP."""

    label = "PyTorch"

    def __init__(self, problem: ConvProblem, torch):
        self.torch, self.problem = torch, problem
        nn = torch.nn
        f1, f2 = problem.filters
        self.model = nn.Sequential(
            nn.Conv2d(1, f1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(f1, f2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(f2 * 2 * 2, 10),
        ).double()
        initial = problem.initial
        with torch.no_grad():  # conv weights share our layout; nn.Linear keeps (out, in)
            for layer, weight, bias in ((0, "K1", "c1"), (3, "K2", "c2"), (6, "W", "b")):
                value = initial[weight].T if weight == "W" else initial[weight]
                self.model[layer].weight.copy_(torch.from_numpy(np.ascontiguousarray(value)))
                self.model[layer].bias.copy_(torch.from_numpy(initial[bias]))
        self.loss_fn = nn.CrossEntropyLoss()
        self.features = torch.from_numpy(problem.features)
        self.targets = torch.from_numpy(problem.targets)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=problem.learning_rate)

    train_epoch = TorchMLP.train_epoch

    def parameters(self) -> dict:
        m = self.model
        values = {"K1": m[0].weight, "c1": m[0].bias, "K2": m[3].weight, "c2": m[3].bias,
                  "W": m[6].weight.T, "b": m[6].bias}
        return {name: value.detach().numpy() for name, value in values.items()}


VERSIONS = {  # problem.model → its framework version, NumPy versions and PyTorch version
    # (the compiled version right after NumPy's: each round times the two one after the other)
    "MLP": (FrameworkMLP, (NumpyMLP, CompiledMLP, CheckedNumpyMLP, BareNodesMLP), TorchMLP),
    "CNN": (FrameworkCNN, (NumpyCNN, CompiledCNN), TorchCNN),
}


@dataclass
class Result:
    problem: Problem
    steps_per_epoch: int
    epochs: int
    ms_per_epoch: dict  # "wall" or "cpu" → label → median milliseconds per epoch
    round_ratios: dict  # "wall" or "cpu" → (min, max) of framework ÷ NumPy within one round
    same_as_framework: dict  # label → np.allclose of every parameter after the same epochs
    largest_difference: dict  # label → max |parameter - framework's parameter|
    skips_data_gradients: bool
    # "wall" or "cpu" → every round's compiled ÷ NumPy, sorted (empty without a compiled version)
    compiled_ratios: dict = field(default_factory=dict)


def ratio_range(times: dict) -> tuple:
    """The smallest and largest framework ÷ NumPy ratio of one round: each round times both
    one after the other, so a ratio within a round is the least disturbed by a neighbour."""
    ratios = [f / n for f, n in zip(times["framework"], times["NumPy"], strict=True)]
    return min(ratios), max(ratios)


def same_parameters(a: dict, b: dict) -> bool:
    return all(np.allclose(a[name], b[name]) for name in a)


def largest_difference(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[name] - b[name]))) for name in a)


class Comparison:
    """The three versions of one problem, trained side by side, with their epoch times.

    Each round, each version in turn trains two epochs and only the second is timed: the first
    brings its code and data back into the caches that the previous version used, so each is
    timed in the steady state of a training loop, and a noisy neighbour slows all of them
    alike. Both the wall-clock time and the process's CPU time are kept: on a shared machine
    the second one leaves out the moments when a neighbour had the core.
    """

    def __init__(self, problem: Problem, torch=None):
        self.problem = problem
        framework_version, numpy_versions, torch_version = VERSIONS[problem.model]
        self.versions = [framework_version(problem), *(v(problem) for v in numpy_versions)]
        if torch is not None:
            self.versions.append(torch_version(problem, torch))
        self.wall = {v.label: [] for v in self.versions}
        self.cpu = {v.label: [] for v in self.versions}
        self.rounds = 0

    def run(self, rounds: int):
        for _ in range(rounds):
            warm_up = self.problem.epoch_batches(2 * self.rounds)
            timed = self.problem.epoch_batches(2 * self.rounds + 1)
            for version in self.versions:
                version.train_epoch(warm_up)
                start_wall, start_cpu = time.perf_counter(), time.process_time()
                version.train_epoch(timed)
                self.cpu[version.label].append(time.process_time() - start_cpu)
                self.wall[version.label].append(time.perf_counter() - start_wall)
            self.rounds += 1

    def result(self) -> Result:
        def medians(times):
            return {label: 1e3 * statistics.median(t) for label, t in times.items()}

        framework, others = self.versions[0].parameters(), self.versions[1:]
        return Result(
            problem=self.problem,
            steps_per_epoch=len(self.problem.epoch_batches(0)),
            epochs=2 * self.rounds,
            ms_per_epoch={"wall": medians(self.wall), "cpu": medians(self.cpu)},
            round_ratios={"wall": ratio_range(self.wall), "cpu": ratio_range(self.cpu)},
            same_as_framework={v.label: same_parameters(framework, v.parameters()) for v in others},
            largest_difference={
                v.label: largest_difference(framework, v.parameters()) for v in others
            },
            skips_data_gradients=self.versions[0].skips_data_gradients(),
            compiled_ratios={clock: sorted(c / n for c, n in zip(times.get("compiled", []),
                                                                  times["NumPy"], strict=False))
                             for clock, times in (("wall", self.wall), ("cpu", self.cpu))},
        )


def benchmark(problems: list[Problem], rounds: int, torch=None, blocks=8) -> list[Result]:
    """``rounds`` timed rounds of every problem, run a few at a time, problem after problem,
    so that each problem's rounds are spread over the whole run rather than one short burst."""
    comparisons = [Comparison(problem, torch) for problem in problems]
    per_block = [rounds // blocks + (i < rounds % blocks) for i in range(blocks)]
    for count in per_block:
        for comparison in comparisons:
            comparison.run(count)
    return [comparison.result() for comparison in comparisons]
