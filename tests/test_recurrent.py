"""L.RNN and L.LSTM, unrolled: values against a recurrence written here in NumPy with
PyTorch's documented equations, gradients against central differences, on sizes drawn by
hypothesis; the LSTM's gates and their order; truncated backpropagation through time; then
bad input, whose errors must name the layer. A last test compares with PyTorch when it is
installed; every check it makes is also made here with NumPy only.
"""

import numpy as np
import pytest
from helpers import assert_names, run
from hypothesis import given, settings
from hypothesis import strategies as st
from test_layers import central_differences, normal
from test_ops_gradients import WeightedSum, seeds

import framework as fw
from framework import layers as L
from framework.drawing import gradient_of

FAST = settings(max_examples=15, deadline=None)
NAMES = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


# The references: PyTorch's equations, one step at a time.

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rnn_step(x_t, h, p):
    return np.tanh(x_t @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"])


def lstm_step(x_t, h, c, p):
    """i, f, g, o = the four blocks of the pre-activations, in PyTorch's order."""
    pre = x_t @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
    i, f, g, o = np.split(pre, 4, axis=1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def unroll(kind, x, p, state):
    """Every h_t (batch, steps, H) and the last state, from the given state."""
    outputs = []
    for t in range(x.shape[1]):
        if kind == "RNN":
            state = rnn_step(x[:, t], state, p)
            outputs.append(state)
        else:
            state = lstm_step(x[:, t], *state, p)
            outputs.append(state[0])
    return np.stack(outputs, axis=1), state


def values(layer) -> dict:
    return {name: node.value for name, node in layer.named_parameters().items()}


# Values and gradients.

@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
@FAST
@given(batch=st.integers(1, 3), steps=st.integers(1, 4), inputs=st.integers(1, 3),
       hidden=st.integers(1, 3), given_state=st.booleans(), seed=seeds)
def test_unrolled_layer_against_numpy_and_central_differences(kind, batch, steps, inputs,
                                                              hidden, given_state, seed):
    """outputs, the last state and the gradients of x, of every parameter and of the
    initial state, through a random weighted sum of the outputs and of the last state."""
    layer = getattr(L, kind)(inputs, hidden, rng=np.random.default_rng(seed))
    x = fw.Parameter("x")
    parts = 1 if kind == "RNN" else 2
    state_nodes = [fw.Parameter(f"s{k}") for k in range(parts)] if given_state else []
    state_values = [normal(seed + 1 + k, (batch, hidden)) for k in range(parts)]
    state_arg = (state_nodes[0] if kind == "RNN" else tuple(state_nodes)) if given_state else None
    outputs, state = layer(x, steps, state_arg)
    last = [state] if kind == "RNN" else list(state)
    loss = WeightedSum(outputs, normal(seed + 3, (batch, steps, hidden)))
    for k, node in enumerate(last):
        loss = loss + WeightedSum(node, normal(seed + 4 + k, (batch, hidden)))
    x_value = normal(seed + 6, (batch, steps, inputs))
    feed = {x: x_value, **dict(zip(state_nodes, state_values, strict=False))}
    graph = fw.topological_sort(feed)
    fw.forward(graph)

    start = state_values if given_state else [np.zeros((batch, hidden))] * parts
    expected, expected_last = unroll(kind, x_value, values(layer),
                                     start[0] if kind == "RNN" else tuple(start))
    np.testing.assert_allclose(outputs.value, expected, rtol=1e-12, atol=1e-14)
    expected_last = [expected_last] if kind == "RNN" else expected_last
    for node, value in zip(last, expected_last, strict=True):
        np.testing.assert_allclose(node.value, value, rtol=1e-12, atol=1e-14)

    fw.backward(graph, loss)
    nodes = [x, *layer.parameters(), *state_nodes]
    analytic = {node: node.gradients[node] for node in nodes}
    for node in nodes:
        numeric = central_differences(graph, loss, node)
        np.testing.assert_allclose(analytic[node], numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=f"gradient of {node.name}")
    fw.backward(graph, loss)  # a second pass over the same values: the same gradients
    for node in nodes:
        np.testing.assert_array_equal(node.gradients[node], analytic[node])


@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_a_longer_sequence_against_central_differences(kind):
    """Twelve steps and sixteen units: the gradient of the first step's input travels back
    through every step (a wrong hand-off between steps shows only over many steps)."""
    batch, steps, inputs, hidden = 2, 12, 3, 16
    layer = getattr(L, kind)(inputs, hidden, rng=np.random.default_rng(5))
    x = fw.Parameter("x")
    outputs, _ = layer(x, steps)
    loss = WeightedSum(outputs, normal(7, (batch, steps, hidden)))
    graph = fw.topological_sort({x: normal(8, (batch, steps, inputs))}, outputs=[loss])
    fw.forward(graph)
    fw.backward(graph, loss)
    for node in [x, *layer.parameters()]:
        np.testing.assert_allclose(node.gradients[node], central_differences(graph, loss, node),
                                   rtol=1e-5, atol=1e-8, err_msg=f"gradient of {node.name}")


def test_lstm_gates_in_pytorchs_order():
    """With both weights zero every gate is a constant of its bias: i = σ(b_i), f = σ(b_f),
    g = tanh(b_g), o = σ(b_o), b = b_ih + b_hh in blocks input, forget, cell, output. Then
    c_t = f c_{t-1} + i g = i g (1 + f + ... + f^(t-1)) and h_t = o tanh(c_t): four different
    biases tell every block apart."""
    layer = L.LSTM(2, 1, rng=np.random.default_rng(0))
    layer.weight_ih.value = np.zeros((4, 2))
    layer.weight_hh.value = np.zeros((4, 1))
    layer.bias_ih.value = np.array([0.5, 1.0, -0.3, 2.0])  # i, f, g, o
    layer.bias_hh.value = np.array([0.25, -0.5, 0.1, -1.0])
    x = fw.Input("x")
    outputs, (h, c) = layer(x, 3)
    run({x: normal(0, (1, 3, 2))})
    i, f, g, o = sigmoid(0.75), sigmoid(0.5), np.tanh(-0.2), sigmoid(1.0)
    cells = [i * g * sum(f ** k for k in range(t)) for t in (1, 2, 3)]
    np.testing.assert_allclose(outputs.value[0, :, 0], o * np.tanh(cells), rtol=1e-14)
    np.testing.assert_allclose(c.value, [[cells[-1]]], rtol=1e-14)
    np.testing.assert_allclose(h.value, [[o * np.tanh(cells[-1])]], rtol=1e-14)


def test_lstm_step_against_a_hand_written_step_at_large_pre_activations():
    """Pre-activations up to ±60: the gates saturate to 0 and 1 as σ and tanh do, no warning
    (the suite turns RuntimeWarnings into errors), and the state stays as the formula's."""
    layer = L.LSTM(3, 4, rng=np.random.default_rng(1))
    layer.weight_ih.value = layer.weight_ih.value * 40.0
    x = fw.Input("x")
    outputs, (h, c) = layer(x, 2)
    x_value = normal(2, (2, 2, 3), scale=3.0)
    run({x: x_value})
    expected, (h_ref, c_ref) = unroll("LSTM", x_value, values(layer),
                                      (np.zeros((2, 4)), np.zeros((2, 4))))
    np.testing.assert_allclose(outputs.value, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(c.value, c_ref, rtol=1e-12, atol=1e-15)


def test_drawing_the_backward_pass_step_by_step_gives_the_same_gradients():
    """Every step writes its slice of the input term's gradient into one array (see
    framework.affine): emptying the gradients and calling each node's backward by hand, as
    notebooks do to draw the pass frame by frame, must still give backward's gradients, and
    the drawing's gradient of the input term must be all of it."""
    layer = L.LSTM(2, 3, rng=np.random.default_rng(3))
    x = fw.Parameter("x")
    outputs, _ = layer(x, 4)
    loss = WeightedSum(outputs, normal(4, (2, 4, 3)))
    graph = fw.topological_sort({x: normal(5, (2, 4, 2))})
    fw.run_steps(graph, loss=loss)
    expected = {node: node.gradients[node].copy() for node in [x, *layer.parameters()]}
    projection = next(node for node in graph if node.name == "LSTM.input")
    through_projection = gradient_of(projection, set(graph))
    np.testing.assert_allclose(through_projection @ layer.weight_ih.value,
                               x.gradients[x].reshape(2, 4, 2), rtol=1e-12)
    leads_to_loss, frontier = {loss}, [loss]  # the last state (h, c) does not
    while frontier:
        for node in frontier.pop().inputs:
            if node not in leads_to_loss:
                leads_to_loss.add(node)
                frontier.append(node)
    for node in graph:
        node.gradients = {}
    for node in reversed(graph):
        if node.needs_gradient and node in leads_to_loss:
            node.backward()
    for node, grad in expected.items():
        np.testing.assert_allclose(node.gradients[node], grad, rtol=1e-14, err_msg=node.name)


def test_passes_toward_other_losses_and_over_other_lists_do_not_mix():
    """The steps write their slices of the input term's gradient into one array per pass
    (framework.affine): passes toward another loss, whose first step to write is another one,
    and over a list made by hand that leaves out the later steps (its loss reads the first
    step only), must each give the gradients of a pass on its own."""
    layer = L.RNN(2, 3, rng=np.random.default_rng(14))
    x = fw.Input("x")
    outputs, _ = layer(x, 3)
    everything = WeightedSum(outputs, normal(15, (2, 3, 3)))
    first = next(node for node in everything.inputs[0].inputs if node.name == "RNN.step0")
    early = WeightedSum(first, normal(16, (2, 3)))
    graph = fw.topological_sort({x: normal(17, (2, 3, 2))})
    prefix = [node for node in graph if not node.inputs or node is early
              or node.name in ("RNN.input", "RNN.step0")]
    fw.forward(graph)

    def gradients(nodes, loss):
        fw.backward(nodes, loss)
        return [node.gradients[node].copy() for node in layer.parameters()]

    alone = {everything: gradients(graph, everything), early: gradients(graph, early)}
    for nodes, loss in ((graph, everything), (prefix, early), (graph, everything),
                        (graph, early)):
        for grad, expected in zip(gradients(nodes, loss), alone[loss], strict=True):
            np.testing.assert_allclose(grad, expected, rtol=1e-14)


# Truncated backpropagation through time.

@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_truncated_backpropagation_through_time(kind):
    """A sequence of 2T steps run as one graph, and as two chunks of T, the second fed the
    first's last state:

    - the second chunk's outputs are the last T of the whole sequence's;
    - its gradient (the state fed as a constant) is the truncated one: it misses exactly the
      part that flows through the state into the first chunk, which is the gradient of
      ⟨∂L₂/∂state₀, state_T⟩ in the first chunk's graph; the two add up to the whole
      sequence's gradient of the same loss, and that missing part is not zero.
    """
    batch, steps, inputs, hidden = 2, 3, 2, 3
    layer = getattr(L, kind)(inputs, hidden, rng=np.random.default_rng(7))
    sequence = normal(8, (batch, 2 * steps, inputs))
    weights = normal(9, (batch, steps, hidden))

    def gradients(graph, loss):
        fw.forward(graph)
        fw.backward(graph, loss)
        return {node.name: node.gradients[node].copy() for node in layer.parameters()}

    # The whole sequence: L₂ = ⟨weights, the outputs of the last T steps⟩.
    x = fw.Input("x")
    outputs, _ = layer(x, 2 * steps)
    whole_loss = WeightedSum(outputs[:, steps:], weights)
    whole_graph = fw.topological_sort({x: sequence})
    whole = gradients(whole_graph, whole_loss)

    # Chunk 1, then chunk 2 from chunk 1's last state, fed into Parameters so that the
    # gradient toward the state can be read.
    x1 = fw.Input("x1")
    _, state1 = layer(x1, steps)
    last1 = [state1] if kind == "RNN" else list(state1)
    graph1 = fw.topological_sort({x1: sequence[:, :steps]})
    fw.forward(graph1)
    x2, fed = fw.Input("x2"), [fw.Parameter(f"state{k}") for k in range(len(last1))]
    outputs2, _ = layer(x2, steps, fed[0] if kind == "RNN" else tuple(fed))
    loss2 = WeightedSum(outputs2, weights)
    graph2 = fw.topological_sort({x2: sequence[:, steps:],
                                  **{node: last.value for node, last in zip(fed, last1,
                                                                            strict=True)}})
    truncated = gradients(graph2, loss2)
    np.testing.assert_allclose(outputs2.value, outputs.value[:, steps:], rtol=1e-13)

    # The part through the state: ⟨∂L₂/∂state₀, state_T⟩ in chunk 1's graph.
    through_state = None
    for node, last in zip(fed, last1, strict=True):
        term = WeightedSum(last, node.gradients[node].copy())
        through_state = term if through_state is None else through_state + term
    graph1 = fw.topological_sort({x1: sequence[:, :steps]})
    carried = gradients(graph1, through_state)

    for name in whole:
        np.testing.assert_allclose(truncated[name] + carried[name], whole[name], rtol=1e-10,
                                   atol=1e-13, err_msg=name)
        assert np.abs(carried[name]).max() > 1e-3, name  # truncation does drop something


def test_chunks_fed_their_last_state_through_inputs_continue_the_sequence():
    """The usual loop: one graph for a chunk, its initial state Inputs fed with the previous
    chunk's last state, run chunk after chunk: the outputs are those of the whole sequence."""
    layer = L.LSTM(2, 3, rng=np.random.default_rng(10))
    sequence = normal(11, (2, 12, 2))
    x, h0, c0 = fw.Input("x"), fw.Input("h0"), fw.Input("c0")
    outputs, (h, c) = layer(x, 4, state=(h0, c0))
    graph = fw.topological_sort({x: sequence[:, :4], h0: np.zeros((2, 3)),
                                 c0: np.zeros((2, 3))})
    expected, _ = unroll("LSTM", sequence, values(layer), (np.zeros((2, 3)), np.zeros((2, 3))))
    for chunk in range(3):
        x.value = sequence[:, 4 * chunk:4 * (chunk + 1)]
        fw.forward(graph)
        np.testing.assert_allclose(outputs.value, expected[:, 4 * chunk:4 * (chunk + 1)],
                                   rtol=1e-12)
        h0.value, c0.value = h.value, c.value


# Parameters and their initialization.

@pytest.mark.parametrize("kind, gates", [("RNN", 1), ("LSTM", 4)])
def test_parameters_in_pytorchs_names_layout_and_initialization(kind, gates):
    layer = getattr(L, kind)(5, 16, rng=np.random.default_rng(12))
    parameters = layer.named_parameters()
    assert list(parameters) == NAMES
    shapes = [(gates * 16, 5), (gates * 16, 16), (gates * 16,), (gates * 16,)]
    assert [p.value.shape for p in parameters.values()] == shapes
    everything = np.concatenate([p.value.ravel() for p in parameters.values()])
    bound = 1 / np.sqrt(16)  # U(-1/√H, 1/√H)
    assert np.abs(everything).max() <= bound and np.abs(everything).max() > 0.95 * bound
    assert abs(everything.mean()) < 0.02  # some 100 to 1,000 draws of mean 0, sd 0.14
    assert repr(layer) == f"{kind}(5, 16)"


def test_inside_a_model_the_parameters_and_nodes_carry_its_name():
    class Model(L.Layer):
        def __init__(self):
            super().__init__()
            self.lstm = L.LSTM(2, 3)

    model = Model()
    assert list(model.named_parameters()) == [f"lstm.{name}" for name in NAMES]
    x = fw.Input("x")
    outputs, (h, c) = model.lstm(x, 2)
    assert (outputs.name, h.name, c.name) == ("lstm.outputs", "lstm.h", "lstm.c")


# Bad input: the errors name the layer.

@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 4, 2), (2, 4), (4, 3)])
def test_data_that_does_not_match_the_unrolled_steps_or_the_width(kind, shape):
    model = L.Sequential(getattr(L, kind)(3, 2))
    x = fw.Input("x")
    model[0](x, 4)
    with pytest.raises(ValueError) as error:
        run({x: np.ones(shape)})
    assert_names(error, f"{kind} layer '0' (3, 2)", f"input x has shape {shape}",
                 "(batch, 4, 3)", "the 4 steps it was unrolled over", "3 features")


@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_an_initial_state_of_the_wrong_shape(kind):
    layer = getattr(L, kind)(3, 2)
    x, h0, c0 = fw.Input("x"), fw.Input("h0"), fw.Input("c0")
    layer(x, 2, h0 if kind == "RNN" else (h0, c0))
    with pytest.raises(ValueError) as error:
        run({x: np.ones((4, 2, 3)), h0: np.ones((4, 3)), c0: np.ones((4, 2))})
    assert_names(error, f"{kind} layer (3, 2)", "initial state h h0", "(4, 3)",
                 "(batch, hidden_size) = (4, 2)")


@pytest.mark.parametrize("kind, state, texts", [
    ("RNN", (fw.Input("h"), fw.Input("c")), ["one node", "LSTM's state"]),
    ("LSTM", fw.Input("h"), ["a pair (h, c)", "Input('h')"]),
    ("LSTM", (fw.Input("h"),), ["a pair (h, c)", "a tuple of 1"]),
])
def test_a_state_of_the_wrong_kind(kind, state, texts):
    layer = getattr(L, kind)(3, 2)
    with pytest.raises(TypeError) as error:
        layer(fw.Input("x"), 2, state)
    assert_names(error, f"{kind} layer (3, 2)", *texts)


@pytest.mark.parametrize("make, error_type, texts", [
    (lambda: L.LSTM(3, 2)(fw.Input("x"), 0), ValueError, ["LSTM layer (3, 2)", "steps", "≥ 1"]),
    (lambda: L.RNN(3, 2)(fw.Input("x"), 2.0), TypeError, ["RNN layer (3, 2)", "steps", "2.0"]),
    (lambda: L.LSTM(0, 2), ValueError, ["LSTM", "input_size", "≥ 1"]),
    (lambda: L.RNN(3, 1.5), TypeError, ["RNN", "hidden_size", "1.5"]),
    (lambda: L.LSTM(3, 2, rng=0), TypeError, ["rng", "default_rng"]),
])
def test_bad_settings_and_calls_are_refused(make, error_type, texts):
    with pytest.raises(error_type) as error:
        make()
    assert_names(error, *texts)


# PyTorch, when it is installed.

@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_against_pytorch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    ours = getattr(L, kind)(3, 4, rng=rng)
    theirs = getattr(torch.nn, kind)(3, 4, batch_first=True).double()
    with torch.no_grad():
        for name, node in ours.named_parameters().items():
            getattr(theirs, f"{name}_l0").copy_(torch.from_numpy(node.value))
    x, h0, c0 = fw.Parameter("x"), fw.Parameter("h0"), fw.Parameter("c0")
    outputs, state = ours(x, 5, h0 if kind == "RNN" else (h0, c0))
    weights = rng.standard_normal((2, 5, 4))
    loss = WeightedSum(outputs, weights)
    feed = {x: rng.standard_normal((2, 5, 3)), h0: rng.standard_normal((2, 4)),
            c0: rng.standard_normal((2, 4))}
    graph = fw.topological_sort(feed)
    fw.run_steps(graph, loss=loss)
    tensors = {node: torch.from_numpy(value).requires_grad_() for node, value in feed.items()}
    initial = (tensors[h0][None] if kind == "RNN"
               else (tensors[h0][None], tensors[c0][None]))
    their_outputs, _ = theirs(tensors[x], initial)
    (their_outputs * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(outputs.value, their_outputs.detach().numpy(), rtol=1e-12,
                               atol=1e-14)
    for name, node in ours.named_parameters().items():
        np.testing.assert_allclose(node.gradients[node],
                                   getattr(theirs, f"{name}_l0").grad.numpy(), rtol=1e-10,
                                   atol=1e-13, err_msg=name)
    for node in (x, h0) if kind == "RNN" else (x, h0, c0):
        np.testing.assert_allclose(node.gradients[node], tensors[node].grad.numpy(),
                                   rtol=1e-10, atol=1e-13)
