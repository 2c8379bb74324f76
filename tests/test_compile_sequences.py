"""fw.compile on the sequence layers: a compiled step gives the interpreted loop's losses and
parameters (1e-12 relative) for an LSTM character model (L.Embedding → L.LSTM → L.Linear, as
notebooks 14 and 15 build it), a tiny transformer (notebook 15's block: L.Embedding,
L.LayerNorm, L.CausalSelfAttention, residual adds, SoftmaxCrossEntropy) and an RNN trained by
truncated backpropagation through time (the last state fed back through Inputs).

The state carried from one chunk to the next is the interpreted loop's (the compiled step keeps
the parameters' values, not the others'), fed alike to both; it starts again from zeros when
the batch size changes.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import compiled_gradients

import framework as fw
from framework import layers as L

RTOL = 1e-12
VOCAB, EMBED, HIDDEN, STEPS = 7, 6, 5, 4
BATCHES = (3, 3, 2, 3, 3, 2)  # a shorter batch in between: a second plan, then the first again
OPTIMIZERS = {"Adam": lambda: fw.Adam(0.02), "SGD": lambda: fw.SGD(0.1),
              "Momentum+decay": lambda: fw.Momentum(0.05, beta=0.8, weight_decay=0.01)}


class Model:
    """A graph to train: ``loss``, the data placeholders ``data`` (name → node) and the state
    carried from chunk to chunk, ``state`` [(the Input fed, the node computing its next value)]."""

    def __init__(self, graph, loss, data, state=()):
        self.graph, self.loss, self.data, self.state = graph, loss, data, list(state)


def lstm_model(rng, with_state):
    """Notebook 14's character model: ids (B, T) → Embedding → LSTM → outputs reshaped to
    (B·T, H) → Linear → SoftmaxCrossEntropy; with the state (h, c) fed through Inputs."""
    embedding = L.Embedding(VOCAB, EMBED, rng=rng)
    lstm = L.LSTM(EMBED, HIDDEN, rng=rng)
    head = L.Linear(HIDDEN, VOCAB, rng=rng)
    x, y = fw.Input("x"), fw.Input("y")
    feed = {x: np.zeros((BATCHES[0], STEPS)), y: np.zeros(BATCHES[0] * STEPS)}
    if with_state:
        h0, c0 = fw.Input("h0"), fw.Input("c0")
        outputs, (h_last, c_last) = lstm(embedding(x), STEPS, state=(h0, c0))
        feed.update({h0: np.zeros((BATCHES[0], HIDDEN)), c0: np.zeros((BATCHES[0], HIDDEN))})
    else:
        outputs, (h_last, c_last) = lstm(embedding(x), STEPS)
    loss = fw.SoftmaxCrossEntropy(head(outputs.reshape(-1, HIDDEN)), y)
    graph = fw.topological_sort(feed, outputs=[loss, h_last, c_last])
    state = [(h0, h_last), (c0, c_last)] if with_state else []
    return Model(graph, loss, {"ids": x, "targets": y}, state)


def rnn_model(rng):
    """An RNN over x (B, T, 3) from the state h0 fed through an Input, a Linear head on every
    h_t, MSE: truncated backpropagation through time when h0 is the last chunk's h."""
    rnn = L.RNN(3, HIDDEN, rng=rng)
    head = L.Linear(HIDDEN, 2, rng=rng)
    x, y, h0 = fw.Input("x"), fw.Input("y"), fw.Input("h0")
    outputs, h_last = rnn(x, STEPS, state=h0)
    loss = fw.MSE(head(outputs.reshape(-1, HIDDEN)), y)
    graph = fw.topological_sort({x: np.zeros((BATCHES[0], STEPS, 3)),
                                 y: np.zeros((BATCHES[0] * STEPS, 2)),
                                 h0: np.zeros((BATCHES[0], HIDDEN))}, outputs=[loss, h_last])
    return Model(graph, loss, {"x": x, "targets": y}, [(h0, h_last)])


class Block(L.Layer):
    """Notebook 15's pre-norm transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, embed, heads, steps, rng):
        super().__init__()
        self.ln1 = L.LayerNorm(embed)
        self.attn = L.CausalSelfAttention(embed, heads, rng=rng)
        self.ln2 = L.LayerNorm(embed)
        self.fc1 = L.Linear(embed, 4 * embed, rng=rng)
        self.fc2 = L.Linear(4 * embed, embed, rng=rng)
        self.embed, self.steps = embed, steps

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        rows = self.ln2(x).reshape(-1, self.embed)
        return x + self.fc2(fw.ReLU(self.fc1(rows))).reshape(-1, self.steps, self.embed)


def transformer_model(rng, blocks=1):
    """Notebook 15's tiny transformer: token and position embeddings, the blocks, a last
    LayerNorm, a Linear head to the logits of every position, SoftmaxCrossEntropy."""
    tokens, positions = L.Embedding(VOCAB, EMBED, rng=rng), L.Embedding(STEPS, EMBED, rng=rng)
    body = L.Sequential(*(Block(EMBED, 2, STEPS, rng) for _ in range(blocks)))
    ln, head = L.LayerNorm(EMBED), L.Linear(EMBED, VOCAB, rng=rng)
    ids, where, y = fw.Input("ids"), fw.Input("positions"), fw.Input("targets")
    x = body(tokens(ids) + positions(where))
    loss = fw.SoftmaxCrossEntropy(head(ln(x).reshape(-1, EMBED)), y, name="loss")
    graph = fw.topological_sort({ids: np.zeros((BATCHES[0], STEPS)), where: np.arange(STEPS),
                                 y: np.zeros(BATCHES[0] * STEPS)}, outputs=[loss])
    return Model(graph, loss, {"ids": ids, "positions": where, "targets": y})


MODELS = {
    "LSTM": lambda rng: lstm_model(rng, with_state=False),
    "LSTM with state": lambda rng: lstm_model(rng, with_state=True),
    "RNN with state": rnn_model,
    "transformer": transformer_model,
    "transformer, two blocks": lambda rng: transformer_model(rng, blocks=2),
}


def batch(model: Model, n: int, rng) -> dict:
    """The data of a batch of n sequences, {node: array}."""
    arrays = {"ids": rng.integers(0, VOCAB, (n, STEPS)), "x": rng.normal(size=(n, STEPS, 3)),
              "positions": np.arange(STEPS)}
    arrays["targets"] = (rng.integers(0, VOCAB, n * STEPS) if "ids" in model.data
                         else rng.normal(size=(n * STEPS, 2)))
    return {node: arrays[name] for name, node in model.data.items()}


def interpreted(model: Model, optimizer, max_norm=None):
    """Train with forward, backward, clip_grad_norm (if ``max_norm``), optimizer.step; the
    feeds, losses, gradients (as the step used them), parameters and the norms clipping saw."""
    rng = np.random.default_rng(7)
    feeds, losses, grads, params, norms, state = [], [], [], [], [], {}
    for n in BATCHES:
        feed = batch(model, n, rng)
        for fed, _ in model.state:
            carried = state.get(fed)
            feed[fed] = carried if carried is not None and len(carried) == n \
                else np.zeros((n, HIDDEN))
        for node, value in feed.items():
            node.value = value
        fw.forward(model.graph)
        fw.backward(model.graph, model.loss)
        if max_norm is not None:
            norms.append(fw.clip_grad_norm(model.graph, max_norm, loss=model.loss))
        grads.append([np.copy(p.gradients[p]) for p in fw.trainables(model.graph)])
        optimizer.step(model.graph, model.loss)
        state = {fed: np.copy(last.value) for fed, last in model.state}
        feeds.append(feed)
        losses.append(float(model.loss.value))
        params.append([p.value.copy() for p in fw.trainables(model.graph)])
    if model.state:
        assert any(np.any(f[model.state[0][0]] != 0) for f in feeds), "no state was carried"
    return feeds, losses, grads, params, norms


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("kind", list(MODELS))
def test_sequence_models_compile_to_the_interpreted_numbers(kind, optimizer):
    expected_model = MODELS[kind](np.random.default_rng(14))
    feeds, losses, grads, params, _ = interpreted(expected_model, OPTIMIZERS[optimizer]())
    model = MODELS[kind](np.random.default_rng(14))
    by_name = {node.name: node for node in model.graph}
    step = fw.compile(model.graph, OPTIMIZERS[optimizer](), loss=model.loss)
    for k, (feed, loss, expected_grads, values) in enumerate(
            zip(feeds, losses, grads, params, strict=True)):
        got = step({by_name[node.name]: value for node, value in feed.items()})
        np.testing.assert_allclose(got, loss, rtol=RTOL, atol=0, err_msg=f"loss of step {k}")
        got_grads = compiled_gradients(step)
        for p, grad, value in zip(fw.trainables(model.graph), expected_grads, values,
                                  strict=True):
            np.testing.assert_allclose(got_grads[p], grad, rtol=RTOL, atol=1e-300,
                                       err_msg=f"gradient of {p!r} at step {k}")
            np.testing.assert_allclose(p.value, value, rtol=RTOL, atol=1e-300,
                                       err_msg=f"{p!r} after step {k}")


@pytest.mark.parametrize("kind", ["LSTM with state", "transformer"])
def test_sequence_models_compile_with_clipping_to_the_interpreted_numbers(kind):
    max_norm = 0.5
    feeds, losses, _, params, norms = interpreted(MODELS[kind](np.random.default_rng(15)),
                                                  fw.Adam(0.02), max_norm)
    assert any(norm > max_norm for norm in norms)
    model = MODELS[kind](np.random.default_rng(15))
    by_name = {node.name: node for node in model.graph}
    step = fw.compile(model.graph, fw.Adam(0.02), loss=model.loss, clip_grad_norm=max_norm)
    for k, (feed, loss, values) in enumerate(zip(feeds, losses, params, strict=True)):
        got = step({by_name[node.name]: value for node, value in feed.items()})
        np.testing.assert_allclose(got, loss, rtol=RTOL, atol=0, err_msg=f"loss of step {k}")
        for p, value in zip(fw.trainables(model.graph), values, strict=True):
            if p.name.endswith("attn.in_proj_bias"):
                # The key bias b_k adds q·b_k to every score of a row, which the softmax takes
                # away: its gradient is 0 in exact arithmetic, rounding noise here, and Adam
                # makes steps of about 1e-13 of that noise. The compiled norm is one dot product
                # over the flat gradients, clip_grad_norm's a sum of one per parameter: the
                # factors differ in the last bit, and so does the noise from the next step on.
                keys = slice(EMBED, 2 * EMBED)
                np.testing.assert_allclose(p.value[keys], value[keys], rtol=0, atol=1e-11)
                assert np.abs(value[keys]).max() < 1e-11
                p_value, value = np.delete(p.value, keys), np.delete(value, keys)
            else:
                p_value = p.value
            # and an entry that passes near 0 is compared to its array's scale
            np.testing.assert_allclose(p_value, value, rtol=RTOL,
                                       atol=RTOL * np.abs(value).max(),
                                       err_msg=f"{p!r} after step {k}")


@pytest.mark.parametrize("kind", list(MODELS))
def test_the_sequence_layers_ops_compile_to_generated_code(kind):
    compiled = ("Softmax", "LogSoftmax", "CausalMask", "Heads", "MergeHeads", "Affine",
                "LayerNormalization", "Lookup", "Stack", "SequenceInput", "RNNStep",
                "LSTMStep", "StatePart")
    model = MODELS[kind](np.random.default_rng(14))
    step = fw.compile(model.graph, fw.SGD(0.1), loss=model.loss)
    names = {id(value): name[:-len("_node")] for name, value in step.__globals__.items()
             if name.endswith("_node")}
    for node in model.graph:
        if type(node).__name__ in compiled:
            assert f"{names[id(node)]}_node.forward()" not in step.source, node
