"""fw.compile: a compiled step computes what the interpreted loop computes.

Every case builds the same graph twice from one seed (random shapes, random values). One copy
trains with the interpreted loop, ``forward``, ``backward`` and ``optimizer.step``; the other
with ``fw.compile``. Their losses and the parameters' gradients, step by step, and their
parameters after every step must agree to 1e-12 relative. Batches change size between steps,
so every op is planned for several batch shapes. (The refusals are in test_compile_refusals.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import OPTIMIZERS, compiled_gradients

import framework as fw
from framework import layers as L
from framework.codegen import template_for
from framework.recurrent import StatePart

BATCHES = (5, 5, 3, 5)  # a shorter batch in between: a second plan, then the first again
RTOL = 1e-12


class Case:
    """A graph and its batches, built from a seed: ``build`` returns the loss, the data
    placeholders and a function giving the arrays of a batch of n rows."""

    def __init__(self, seed, build):
        rng = np.random.default_rng(seed)
        self.loss, self.inputs, self.data = build(rng)
        feed = {node: value for node, value in zip(self.inputs, self.data(BATCHES[0]),
                                                   strict=True)}
        self.graph = fw.topological_sort(feed)
        self.rng = rng

    def batches(self):
        rng = np.random.default_rng(1234)
        return [dict(zip(self.inputs, self.data(n, rng), strict=True)) for n in BATCHES]

    def params(self):
        return fw.trainables(self.graph)


def interpreted(case: Case, optimizer):
    losses = []
    for feed in case.batches():
        for node, value in feed.items():
            node.value = value
        fw.forward(case.graph)
        fw.backward(case.graph, case.loss)
        optimizer.step(case.graph, case.loss)
        losses.append(float(case.loss.value))
    return losses


def compare(seed, build, optimizer="SGD", batches=None):
    """Train one copy interpreted and one compiled; check they agree at every step."""
    expected_case, case = Case(seed, build), Case(seed, build)
    assert [p.name for p in expected_case.params()] == [p.name for p in case.params()]
    optimizer_made = OPTIMIZERS[optimizer]
    expected_optimizer = optimizer_made()
    step = fw.compile(case.graph, optimizer_made(), loss=case.loss)
    for k, (expected_feed, feed) in enumerate(zip(expected_case.batches(), case.batches(),
                                                  strict=True)):
        for node, value in expected_feed.items():
            node.value = value
        fw.forward(expected_case.graph)
        fw.backward(expected_case.graph, expected_case.loss)
        expected_optimizer.step(expected_case.graph, expected_case.loss)
        loss = step(feed)
        assert isinstance(loss, float)
        np.testing.assert_allclose(loss, float(expected_case.loss.value), rtol=RTOL, atol=0,
                                   err_msg=f"loss of step {k}")
        gradients = compiled_gradients(step)
        for expected, got in zip(expected_case.params(), case.params(), strict=True):
            np.testing.assert_allclose(gradients[got], expected.gradients[expected], rtol=RTOL,
                                       atol=1e-300, err_msg=f"gradient of {got!r} at step {k}")
            np.testing.assert_allclose(got.value, expected.value, rtol=RTOL, atol=1e-300,
                                       err_msg=f"{got!r} after step {k}")
    return step, case


# The cases: one per op (several for some), each a small graph around it.


def _dims(rng, *ranges):
    return [int(rng.integers(low, high + 1)) for low, high in ranges]


def _param(rng, name, shape, positive=False, scale=1.0):
    p = fw.Parameter(name)
    p.value = rng.uniform(0.5, 1.5, shape) if positive else rng.normal(0.0, scale, shape)
    return p


def elementwise_case(op):
    def build(rng):
        (n,) = _dims(rng, (2, 5))
        x = fw.Input("x")
        w, a = _param(rng, "w", (n,)), _param(rng, "a", (1, n), positive=True)
        xw = x * w
        if op == "add":
            h = fw.Add(xw, a)
        elif op == "subtract":
            h = fw.Subtract(a, xw) - w
        elif op == "multiply":
            h = fw.Multiply(xw, a) * a  # a used twice: its gradients are added
        else:
            h = fw.Divide(xw, a * a + 1.0) / a
        return _case_with(rng, x, h, lambda b: (b, n), lambda b: (b, n))
    return build


def _case_with(rng, x, h, x_shape_of, h_shape_of):
    """The loss MSE(h, t), x and t fed with normal values of these shapes for a batch."""
    t = fw.Input("t")

    def data(n, data_rng=rng):
        return data_rng.normal(size=x_shape_of(n)), data_rng.normal(size=h_shape_of(n))
    return fw.MSE(h, t, name="loss"), [x, t], data


def simple(make_h, n_range=(2, 5), k_range=(1, 4), out_shape=None):
    """x (batch, n), W (n, k) and b (k,) parameters; h = make_h(x, W, b)."""
    def build(rng):
        n, k = _dims(rng, n_range, k_range)
        x = fw.Input("x")
        W, b = _param(rng, "W", (n, k)), _param(rng, "b", (k,))
        h = make_h(x, W, b, n, k)
        shape = out_shape(k) if out_shape else (lambda batch: (batch, k))
        return _case_with(rng, x, h, lambda batch: (batch, n), shape)
    return build


def positive_case(make_h):
    def build(rng):
        n, k = _dims(rng, (2, 5), (1, 4))
        x = fw.Input("x")
        W, b = _param(rng, "W", (n, k)), _param(rng, "b", (k,))
        h = make_h(fw.exp(fw.Linear(x, W, b) * 0.3))
        return _case_with(rng, x, h, lambda batch: (batch, n), lambda batch: (batch, k))
    return build


def matmul_case(kind):
    def build(rng):
        n, k, m = _dims(rng, (2, 5), (1, 4), (2, 3))
        x = fw.Input("x")
        if kind == "matrices":
            W = _param(rng, "W", (n, k))
            h = x @ W
            return _case_with(rng, x, fw.ReLU(h) @ _param(rng, "V", (k, 2)),
                              lambda b: (b, n), lambda b: (b, 2))
        if kind == "stacks":  # (batch, m, n) @ (n, k): the weight broadcast over the batch
            W = _param(rng, "W", (n, k))
            return _case_with(rng, x, x @ W, lambda b: (b, m, n), lambda b: (b, m, k))
        if kind == "vector":  # (batch, n) @ (n,)
            v = _param(rng, "v", (n,))
            return _case_with(rng, x, (x * _param(rng, "w", (n,))) @ v, lambda b: (b, n),
                              lambda b: (b,))
        raise ValueError(kind)
    return build


def power_case(exponent):
    return positive_case(lambda h: h ** exponent)


def reduction_case(op, axis, keepdims):
    def build(rng):
        n, k = _dims(rng, (2, 5), (2, 4))
        x = fw.Input("x")
        W = _param(rng, "W", (n, k))
        h = fw.Tanh(x @ W).reshape(-1, k, 1) * _param(rng, "s", (1, 1, 2))  # (batch, k, 2)
        h = op(h, axis=axis, keepdims=keepdims)
        full = np.zeros((7, k, 2))
        shape = np.shape(np.sum(full, axis=axis, keepdims=keepdims))

        def out(batch):
            return tuple(batch if d == 7 else d for d in shape)
        return _case_with(rng, x, h, lambda b: (b, n), out)
    return build


def shapes_case(kind):
    def build(rng):
        n, k = _dims(rng, (2, 5), (1, 3))
        x = fw.Input("x")
        W = _param(rng, "W", (n, 2 * k))
        h = fw.Sigmoid(x @ W)  # (batch, 2k)
        if kind == "reshape":
            return _case_with(rng, x, h.reshape(-1, 2) * _param(rng, "s", (2,)),
                              lambda b: (b, n), lambda b: (b * k, 2))
        if kind == "transpose":
            return _case_with(rng, x, h.T * _param(rng, "s", (2 * k, 1)),
                              lambda b: (b, n), lambda b: (2 * k, b))
        if kind == "flatten":
            h3 = h.reshape(-1, k, 2)
            return _case_with(rng, x, fw.Flatten(h3) @ _param(rng, "V", (2 * k, 3)),
                              lambda b: (b, n), lambda b: (b, 3))
        if kind == "slice":
            return _case_with(rng, x, h[:, 1:] * 2.0, lambda b: (b, n), lambda b: (b, 2 * k - 1))
        if kind == "fancy":  # a column read three times: its gradient is the sum
            return _case_with(rng, x, h[:, [0, 0, 1, 0]], lambda b: (b, n), lambda b: (b, 4))
        raise ValueError(kind)
    return build


def conv_case(padding, stride, bias, pool=None):
    def build(rng):
        c_in, f, size = _dims(rng, (1, 2), (2, 3), (5, 7))
        x = fw.Input("x")
        K = _param(rng, "K", (f, c_in, 3, 3), scale=0.3)
        c = _param(rng, "c", (f,)) if bias else None
        h = fw.Conv2d(x, K, c, stride=stride, padding=padding)
        h = fw.ReLU(h)
        if pool:
            h = fw.MaxPool2d(h, *pool)
        h2 = fw.Conv2d(h, _param(rng, "K2", (2, f, 2, 2), scale=0.3), _param(rng, "c2", (2,)))
        flat = fw.Flatten(h2)
        probe = np.zeros((1, c_in, size, size))
        out = _interpret_shape(flat, x, probe)
        W = _param(rng, "W", (out[1], 3), scale=0.3)
        return _case_with(rng, x, flat @ W, lambda b: (b, c_in, size, size), lambda b: (b, 3))
    return build


def _interpret_shape(node, x, value):
    """The shape of node's value for x = value, from the interpreted forward pass."""
    x.value = value
    graph = fw.topological_sort({x: value})
    fw.forward(graph)
    return node.value.shape


def dropout_case(training, p=0.4):
    def build(rng):
        n, k = _dims(rng, (2, 5), (2, 4))
        x = fw.Input("x")
        W, b = _param(rng, "W", (n, k)), _param(rng, "b", (k,))
        drop = fw.Dropout(fw.ReLU(fw.Linear(x, W, b)), p=p, rng=np.random.default_rng(7))
        drop.training = training
        h = fw.Linear(drop, _param(rng, "V", (k, 2)), _param(rng, "d", (2,)))
        return _case_with(rng, x, h, lambda b: (b, n), lambda b: (b, 2))
    return build


def batchnorm_case(training, images=False):
    def build(rng):
        n, k = _dims(rng, (2, 5), (2, 4))
        x = fw.Input("x")
        if images:
            K = _param(rng, "K", (k, 1, 2, 2))
            h = fw.Conv2d(x, K, _param(rng, "c", (k,)))
            features = (1, 4, 4)
        else:
            h = x @ _param(rng, "W", (n, k))
            features = (n,)

        def x_shape(batch):
            return (batch, *features)
        bn = fw.BatchNorm(h, _param(rng, "gamma", (k,), positive=True), _param(rng, "beta", (k,)))
        bn.training = training
        if not training:
            bn.running_mean, bn.running_var = rng.normal(size=k), rng.uniform(0.5, 2, k)
        out = fw.Flatten(fw.Tanh(bn))
        probe = np.zeros((2, *x_shape(2)[1:]))
        width = _interpret_shape(out, x, probe)[1]
        if not training:
            bn.running_mean, bn.running_var = rng.normal(size=k), rng.uniform(0.5, 2, k)
        h = out @ _param(rng, "V", (width, 2))
        return _case_with(rng, x, h, x_shape, lambda b: (b, 2))
    return build


def classification_case(rng_dims=((2, 6), (2, 5))):
    def build(rng):
        n, classes = _dims(rng, *rng_dims)
        x, labels = fw.Input("x"), fw.Input("labels")
        W, b = _param(rng, "W", (n, classes)), _param(rng, "b", (classes,))
        loss = fw.SoftmaxCrossEntropy(fw.Linear(x, W, b), labels, name="loss")

        def data(batch, data_rng=rng):
            return data_rng.normal(size=(batch, n)), data_rng.integers(0, classes, batch)
        return loss, [x, labels], data
    return build


def mse_case(target_shape):
    def build(rng):
        (n,) = _dims(rng, (2, 5))
        x, t = fw.Input("x"), fw.Input("t")
        W, b = _param(rng, "W", (n, 1)), _param(rng, "b", (1,))
        loss = fw.MSE(fw.Linear(x, W, b), t, name="loss")

        def data(batch, data_rng=rng):
            return data_rng.normal(size=(batch, n)), data_rng.normal(size=target_shape(batch))
        return loss, [x, t], data
    return build


def recurrent_case(layer, state=None, frozen_input=False, input_term_read=False):
    """x (batch, T, n) through an RNN or an LSTM of h units over T = 1 to 4 steps; the loss
    reads every output (a Linear head) and the last state (h ⊙ c for an LSTM, h alone for an
    RNN and for an LSTM from a fed state). ``state``: None (zeros), "fed" (Inputs fed with
    normal values) or "learned" (the fed values times a parameter, so the initial state gets a
    gradient). ``frozen_input``: the input weights frozen, so no step sends a gradient to the
    input term; ``input_term_read``: the input term is read by another op too."""
    def build(rng):
        n, hidden, steps = _dims(rng, (2, 4), (2, 4), (1, 4))
        make = L.RNN if layer == "rnn" else L.LSTM
        cell = make(n, hidden, rng=np.random.default_rng(int(rng.integers(1000))))
        x = fw.Input("x")
        fed = [fw.Input(f"state{k}") for k in range(1 if layer == "rnn" else 2)] if state else []
        initial = [s * _param(rng, f"gate{k}", (hidden,)) if state == "learned" else s
                   for k, s in enumerate(fed)]
        if layer == "rnn":
            outputs, last = cell(x, steps, state=initial[0] if initial else None)
            extra = last * 0.5
        else:
            outputs, (h, c) = cell(x, steps, state=tuple(initial) if initial else None)
            extra = h * 0.5 if state == "fed" else h * c
        if frozen_input:
            for p in (cell.weight_ih, cell.bias_ih, cell.bias_hh):
                p.is_trainable = False
        if input_term_read:
            every_step = outputs if layer == "rnn" else outputs.inputs[0]  # the stack
            term = every_step.inputs[0].inputs[0]
            assert type(term).__name__ == "SequenceInput"
            extra = extra + fw.Sum(term, axis=(1, 2)).reshape(-1, 1) * 0.1
        head = fw.Linear(outputs.reshape(-1, hidden), _param(rng, "V", (hidden, 2)),
                         _param(rng, "d", (2,)))
        h_out = fw.concatenate([head.reshape(-1, 1), extra.reshape(-1, 1)], axis=0)
        t = fw.Input("t")

        def data(batch, data_rng=rng):
            states = [data_rng.normal(size=(batch, hidden)) for _ in fed]
            return (data_rng.normal(size=(batch, steps, n)), *states,
                    data_rng.normal(size=(batch * (2 * steps + hidden), 1)))
        return fw.MSE(h_out, t, name="loss"), [x, *fed, t], data
    return build


def state_part_case(parts):
    """StatePart, which picks h or c out of LSTM states, on a value (batch, 2k) that other ops
    read too: each half's gradient must be the reader's alone, 0 where the part reads nothing."""
    def build(rng):
        n, k = _dims(rng, (2, 4), (1, 3))
        x = fw.Input("x")
        z = fw.Linear(x, _param(rng, "W", (n, 2 * k)), _param(rng, "b", (2 * k,)))
        out = fw.Tanh(z)[:, :k] * 0.5  # made first: the parts send their gradient first
        halves = [StatePart(z, part, k) for part in parts]
        for half in halves:
            out = out + half * 2.0
        return _case_with(rng, x, out, lambda batch: (batch, n), lambda batch: (batch, k))
    return build


CASES = {
    "add": elementwise_case("add"),
    "subtract": elementwise_case("subtract"),
    "multiply": elementwise_case("multiply"),
    "divide": elementwise_case("divide"),
    "power 2": power_case(2),
    "power 3": power_case(3),
    "power -1.5": power_case(-1.5),
    "power 0": power_case(0),
    "matmul": matmul_case("matrices"),
    "matmul stacks": matmul_case("stacks"),
    "matmul vector": matmul_case("vector"),
    "negate": simple(lambda x, W, b, n, k: -fw.Linear(x, W, b)),
    "relu": simple(lambda x, W, b, n, k: fw.ReLU(fw.Linear(x, W, b))),
    "sigmoid": simple(lambda x, W, b, n, k: fw.Sigmoid(fw.Linear(x, W, b) * 3.0)),
    "tanh": simple(lambda x, W, b, n, k: fw.Tanh(fw.Linear(x, W, b))),
    "exp": simple(lambda x, W, b, n, k: fw.exp(fw.Linear(x, W, b) * 0.5)),
    "log": positive_case(fw.log),
    "linear": simple(lambda x, W, b, n, k: fw.Linear(fw.Sigmoid(fw.Linear(x, W, b)),
                                                       fw.Constant(np.eye(k)), b)),
    "mse (batch, 1) and (batch,)": mse_case(lambda b: (b,)),
    "mse same shapes": mse_case(lambda b: (b, 1)),
    "softmax cross-entropy": classification_case(),
    "sum all": reduction_case(fw.Sum, None, False),
    "sum axis 1 keepdims": reduction_case(fw.Sum, 1, True),
    "mean axes (0, 2)": reduction_case(fw.Mean, (0, 2), False),
    "mean axis -1": reduction_case(fw.Mean, -1, False),
    "reshape": shapes_case("reshape"),
    "transpose": shapes_case("transpose"),
    "flatten": shapes_case("flatten"),
    "index slice": shapes_case("slice"),
    "index repeated": shapes_case("fancy"),
    "conv": conv_case(padding=0, stride=1, bias=True),
    "conv padded strided": conv_case(padding=1, stride=2, bias=True),
    "conv no bias": conv_case(padding=1, stride=1, bias=False),
    "conv maxpool": conv_case(padding=1, stride=1, bias=True, pool=(2,)),
    "conv maxpool overlapping": conv_case(padding=0, stride=1, bias=True, pool=(2, 1)),
    "dropout training": dropout_case(True),
    "dropout evaluating": dropout_case(False),
    "dropout p = 0": dropout_case(True, p=0.0),
    "batchnorm training": batchnorm_case(True),
    "batchnorm evaluating": batchnorm_case(False),
    "batchnorm images": batchnorm_case(True, images=True),
    "rnn": recurrent_case("rnn"),
    "rnn from a fed state": recurrent_case("rnn", "fed"),
    "rnn from a learned state": recurrent_case("rnn", "learned"),
    "lstm": recurrent_case("lstm"),
    "lstm from a fed state": recurrent_case("lstm", "fed"),
    "lstm from a learned state": recurrent_case("lstm", "learned"),
    "lstm, input weights frozen": recurrent_case("lstm", "learned", frozen_input=True),
    "rnn, input weights frozen": recurrent_case("rnn", frozen_input=True),
    "state part h": state_part_case([0]),
    "state part c": state_part_case([1]),
    "state parts h and c": state_part_case([0, 1]),
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", list(CASES))
def test_every_op_compiles_to_the_interpreted_numbers(case, seed):
    compare(seed, CASES[case], "SGD")


@pytest.mark.parametrize("optimizer", [o for o in OPTIMIZERS if o != "SGD"])
@pytest.mark.parametrize("case", ["add", "divide", "matmul", "softmax cross-entropy",
                                  "conv maxpool", "batchnorm training", "dropout training",
                                  "index repeated", "mean axes (0, 2)"])
def test_every_optimizer_compiles_to_the_interpreted_numbers(case, optimizer):
    compare(3, CASES[case], optimizer)


# Models made of layers (framework.layers): the MLP and the CNN of the course, with dropout
# and batch normalization.


def layers_case(kind):
    def build(rng):
        seed = int(rng.integers(1000))
        layer_rng = np.random.default_rng(seed)
        x, labels = fw.Input("x"), fw.Input("labels")
        if kind == "mlp":
            model = L.Sequential(L.Linear(6, 8, rng=layer_rng), L.ReLU(),
                                 L.Dropout(0.25, rng=layer_rng), L.Linear(8, 4, rng=layer_rng))
            x_shape = (6,)
        elif kind == "mlp batchnorm":
            model = L.Sequential(L.Linear(6, 8, rng=layer_rng), L.BatchNorm1d(8), L.Tanh(),
                                 L.Linear(8, 8, bias=False, rng=layer_rng), L.Sigmoid(),
                                 L.Linear(8, 4, rng=layer_rng))
            x_shape = (6,)
        else:
            model = L.Sequential(L.Conv2d(1, 3, 3, padding=1, rng=layer_rng), L.BatchNorm2d(3),
                                 L.ReLU(), L.MaxPool2d(2), L.Conv2d(3, 4, 2, rng=layer_rng),
                                 L.ReLU(), L.Flatten(), L.Dropout(0.1, rng=layer_rng),
                                 L.Linear(16, 4, rng=layer_rng))
            x_shape = (1, 6, 6)
        loss = fw.SoftmaxCrossEntropy(model(x), labels, name="loss")
        loss.model = model  # kept for the test of train() and eval()

        def data(batch, data_rng=rng):
            return data_rng.normal(size=(batch, *x_shape)), data_rng.integers(0, 4, batch)
        return loss, [x, labels], data
    return build


LAYER_CASES = {"mlp": layers_case("mlp"), "mlp batchnorm": layers_case("mlp batchnorm"),
               "cnn": layers_case("cnn")}


@pytest.mark.parametrize("optimizer", ["SGD", "Momentum", "Adam+decay"])
@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_models_of_layers_compile_to_the_interpreted_numbers(case, optimizer):
    compare(4, LAYER_CASES[case], optimizer)


def test_a_model_in_evaluation_mode_compiles_and_follows_train_and_eval():
    """Dropout and batch normalization read the layer's mode at every step, as their own
    forward does: switching the model to eval() and back needs no new compile."""
    expected_case, case = Case(5, LAYER_CASES["cnn"]), Case(5, LAYER_CASES["cnn"])
    step = fw.compile(case.graph, fw.SGD(0.05))
    optimizer = fw.SGD(0.05)
    models = [expected_case.loss.model, case.loss.model]
    for k, (expected_feed, feed) in enumerate(zip(expected_case.batches(), case.batches(),
                                                  strict=True)):
        for model in models:
            model.train(k % 2 == 0)
        for node, value in expected_feed.items():
            node.value = value
        fw.forward(expected_case.graph)
        fw.backward(expected_case.graph)
        optimizer.step(expected_case.graph)
        np.testing.assert_allclose(step(feed), float(expected_case.loss.value), rtol=RTOL)
    for expected, got in zip(expected_case.params(), case.params(), strict=True):
        np.testing.assert_allclose(got.value, expected.value, rtol=RTOL, atol=1e-300)
    buffers = [model.named_buffers() for model in models]
    for name, value in buffers[0].items():
        np.testing.assert_allclose(buffers[1][name], value, rtol=RTOL, atol=1e-300)


# Ops the compiler does not know run their own forward and backward inside the step.


class Square(fw.Node):
    """A learner's own op: x², with its own forward and backward."""

    def __init__(self, x, name=None):
        super().__init__([x], name=name)

    def forward(self):
        self.value = self.inputs[0].value ** 2

    def backward(self):
        x = self.inputs[0]
        self.send_gradient(x, 2.0 * x.value * self.upstream_gradient())


class TwiceReLU(fw.ReLU):
    """A subclass of a known op with a backward of its own (wrong on purpose: twice the
    gradient): it must run its own methods, not the ReLU template."""

    def backward(self):
        x = self.inputs[0]
        self.send_gradient(x, 2.0 * self.upstream_gradient() * (x.value > 0))


class Pair(fw.Node):
    """An op of two inputs that uses its second input twice: a * b + b."""

    def __init__(self, a, b, name=None):
        super().__init__([a, b], name=name)

    def forward(self):
        a, b = self.inputs
        self.value = a.value * b.value + b.value

    def backward(self):
        a, b = self.inputs
        g = self.upstream_gradient()
        self.send_gradient(a, fw.sum_to_shape(g * b.value, a.value.shape))
        self.send_gradient(b, fw.sum_to_shape(g * a.value + g, b.value.shape))


def fallback_case(kind):
    def build(rng):
        n, k = _dims(rng, (2, 4), (2, 3))
        x = fw.Input("x")
        W, b = _param(rng, "W", (n, k), scale=0.3), _param(rng, "b", (k,), scale=0.3)
        h = fw.Linear(x, W, b)
        if kind == "square":  # used by compiled ops after it, three times (gradients added)
            s = Square(h)
            out = fw.Tanh(s) + fw.Sigmoid(s) * 0.5 + s[:, :1] * 0.1
        elif kind == "subclass":
            out = TwiceReLU(h) @ _param(rng, "V", (k, k))
        elif kind == "two inputs":  # a parameter straight into the unknown op, and a chain
            out = Square(Pair(h, _param(rng, "c", (k,)))) + Square(h)
        elif kind == "package ops beside an unknown op":
            joined = fw.concatenate([h, fw.log_softmax(h), h], axis=-1)  # h given twice
            out = (fw.softmax(h) * fw.stack([h, -h], axis=1).sum(axis=1) + Square(h)
                   + joined.sum(axis=1, keepdims=True))
        else:
            raise ValueError(kind)
        return _case_with(rng, x, out, lambda batch: (batch, n), lambda batch: (batch, k))
    return build


COMPILED_PACKAGE_OPS = ("Softmax", "LogSoftmax", "CausalMask", "Heads", "MergeHeads", "Affine",
                        "LayerNormalization", "Lookup", "Stack", "Concatenate")
FALLBACK_CASES = ["square", "subclass", "two inputs", "package ops beside an unknown op"]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("case", FALLBACK_CASES)
def test_an_op_the_compiler_does_not_know_runs_its_own_methods(case, optimizer):
    step, compiled = compare(6, fallback_case(case), optimizer)
    unknown = [n for n in compiled.graph if type(n).__name__ in ("Square", "TwiceReLU", "Pair")]
    assert unknown
    for node in compiled.graph:  # a package op with a template: generated code, not its methods
        if type(node).__name__ in COMPILED_PACKAGE_OPS:
            assert f"{_var(step, node)}_node.forward()" not in step.source
    for node in unknown:  # called from inside the step, not replaced by generated code
        assert f"{_var(step, node)}_node.forward()" in step.source


def _package_ops():
    """Every class of node the package defines, but the placeholders and the private bases."""
    found, todo = [], [fw.Node]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("framework.") and not cls.__name__.startswith("_") \
                and not issubclass(cls, fw.Placeholder) and cls is not fw.Node:
            found.append(cls)
    return found


def test_every_op_of_the_package_has_a_template():
    """An op without one would still train (it runs its own methods), but slower, and the
    notebook says that every op of the package compiles."""
    ops = _package_ops()
    assert {"LSTMStep", "StatePart", "Conv2d", "Affine", "LayerNormalization"} <= \
        {cls.__name__ for cls in ops}
    missing = [f"{cls.__module__}.{cls.__qualname__}" for cls in ops
               if template_for(cls.__new__(cls)) is None]
    assert not missing, f"no template in codegen.py for {missing}"


RECURRENT_NODES = ("SequenceInput", "RNNStep", "LSTMStep", "StatePart")


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith(("rnn", "lstm"))])
def test_the_recurrent_layers_compile_to_generated_code(case):
    step, compiled = compare(2, CASES[case], "Adam")
    recurrent = [n for n in compiled.graph if type(n).__name__ in RECURRENT_NODES]
    assert len(recurrent) >= 2
    for node in recurrent:
        assert f"{_var(step, node)}_node.forward()" not in step.source, node


@pytest.mark.parametrize("layer", ["rnn", "lstm"])
def test_steps_whose_input_term_another_op_reads_run_their_own_methods(layer):
    """The steps write their slices of the input term's gradient into one array, which only
    works if nothing else sends it a gradient: when another op reads the input term too, the
    steps run their own methods, and the step still computes what the interpreted loop does."""
    step, compiled = compare(3, recurrent_case(layer, "learned", input_term_read=True), "SGD")
    steps = [n for n in compiled.graph if type(n).__name__ in ("RNNStep", "LSTMStep")]
    assert steps
    for node in steps:
        assert f"{_var(step, node)}_node.backward()" in step.source, node


def _var(step, node):
    """The name the compiled code gives a node: the global holding it, without "_node"."""
    return next(name[:-len("_node")] for name, value in step.__globals__.items()
                if value is node and name.endswith("_node"))


# What the generated code looks like.


def test_the_source_is_the_code_that_runs_and_reads_like_numpy():
    case = Case(0, mse_case(lambda b: (b,)))
    step = fw.compile(case.graph, fw.SGD(0.1))
    source = step.source
    assert source.startswith("def step(feed):")
    assert "np.matmul(x, W, out=linear1); linear1 += b" in source
    assert "np.matmul(x.T, d_linear1, out=d_W)" in source
    assert "np.multiply(g, lr, out=new_theta)" in source
    assert "node.forward()" not in source and "node.backward()" not in source
    # the function is compiled from exactly that text (tracebacks show its lines)
    import linecache
    code = step.__code__
    assert "".join(linecache.getlines(code.co_filename)) == source
    assert max(map(len, source.splitlines())) <= 100


def test_the_parameters_are_views_of_one_flat_array_and_stay_so():
    case = Case(1, classification_case())
    step = fw.compile(case.graph, fw.Adam(0.01))
    params = case.params()
    assert step.parameters == params
    assert step.theta.size == sum(p.value.size for p in params)
    for p in params:
        assert p.value.base is step.theta
    before = step.theta.copy()
    for feed in case.batches():
        step(feed)
    assert not np.array_equal(step.theta, before)
    offset = 0
    for p in params:  # the nodes see the new values without a write-back
        np.testing.assert_array_equal(p.value.ravel(), step.theta[offset:offset + p.value.size])
        offset += p.value.size
        assert p.value.base is step.theta


def test_varying_batch_sizes_make_one_plan_each_and_reuse_it():
    expected_case, case = Case(2, classification_case()), Case(2, classification_case())
    step = fw.compile(case.graph, fw.SGD(0.1))
    optimizer = fw.SGD(0.1)
    rng = np.random.default_rng(0)
    sizes = [7, 7, 1, 3, 7, 1, 3]
    n = expected_case.params()[0].value.shape[0]
    classes = expected_case.params()[0].value.shape[1]
    for size in sizes:
        X, labels = rng.normal(size=(size, n)), rng.integers(0, classes, size)
        expected_case.inputs[0].value, expected_case.inputs[1].value = X, labels
        fw.run_steps(expected_case.graph)
        optimizer.step(expected_case.graph)
        np.testing.assert_allclose(step({case.inputs[0]: X, case.inputs[1]: labels}),
                                   float(expected_case.loss.value), rtol=RTOL)
    assert len(step.__globals__["plans0"]) == 3
    for expected, got in zip(expected_case.params(), case.params(), strict=True):
        np.testing.assert_allclose(got.value, expected.value, rtol=RTOL)


def test_labels_fed_as_floats_or_ints_give_the_same_steps():
    cases = [Case(3, classification_case()) for _ in range(2)]
    steps = [fw.compile(case.graph, fw.SGD(0.1)) for case in cases]
    for feeds in zip(cases[0].batches(), cases[1].batches(), strict=True):
        as_ints, as_floats = feeds
        as_floats = {node: value.astype(float) for node, value in as_floats.items()}
        assert steps[0](as_ints) == steps[1](as_floats)
    np.testing.assert_array_equal(steps[0].theta, steps[1].theta)


def test_a_fan_out_of_three_adds_the_gradients_in_the_interpreted_order():
    """x used by three ops: its gradient is the sum of three, added in the order of its
    outputs, as upstream_gradient adds them (floating-point addition is not associative)."""
    def build(rng):
        n, k = _dims(rng, (2, 4), (2, 4))
        x = fw.Input("x")
        W = _param(rng, "W", (n, k))
        h = x @ W
        out = fw.Tanh(h) * 1e8 + fw.Sigmoid(h) - fw.Sigmoid(h) * h * 1e-8 + h
        return _case_with(rng, x, out, lambda b: (b, n), lambda b: (b, k))
    for seed in range(3):
        compare(seed, build, "SGD")


def test_a_loss_that_is_not_the_last_node_is_taken_with_loss():
    def build(rng):
        n = 3
        x, t = fw.Input("x"), fw.Input("t")
        W = _param(rng, "W", (n, 2))
        prediction = x @ W
        loss = fw.MSE(prediction, t, name="loss")
        fw.Sigmoid(prediction, name="probabilities")  # an end node that sorts last

        def data(batch, data_rng=rng):
            return data_rng.normal(size=(batch, n)), data_rng.normal(size=(batch, 2))
        return loss, [x, t], data
    step, case = compare(0, build, "Momentum")
    assert case.graph[-1] is not case.loss
