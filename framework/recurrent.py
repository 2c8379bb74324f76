"""Recurrent layers, unrolled into the static graph: an RNN (tanh) and an LSTM, with
PyTorch's parameters, so that weights copy across.

A recurrent layer applies one cell at every time step, handing its state on to the next.
Called on x (batch, steps, input_size) with the number of ``steps``, the layer builds the
graph of all of them at once, "unrolling" the loop: one node per step, each with the previous
step's node among its inputs. The graph stays static, the sort orders the steps, and the
backward pass over them is backpropagation through time, with nothing added to the passes.

The RNN (``torch.nn.RNN``, nonlinearity "tanh"), for t = 1 … T, with h_0 = 0:

    h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh).

The LSTM (``torch.nn.LSTM``), the rows of W_ih, W_hh, b_ih and b_hh in four blocks of H, in
PyTorch's order: input, forget, cell, output; A_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh:

    i = σ(A_i)   how much of the candidate to write,     f = σ(A_f)   how much of c to keep,
    g = tanh(A_g)   the candidate,                       o = σ(A_o)   how much of c to show,
    c_t = f ⊙ c_{t-1} + i ⊙ g,        h_t = o ⊙ tanh(c_t),        h_0 = c_0 = 0.

Backward through one LSTM step, with G_h and G_c the gradients reaching h_t and c_t:

    ∂L/∂c_t (all of it) = G_c + G_h ⊙ o ⊙ (1 - tanh² c_t),
    ∂L/∂o = G_h ⊙ tanh c_t,     ∂L/∂i = ∂L/∂c_t ⊙ g,
    ∂L/∂f = ∂L/∂c_t ⊙ c_{t-1},    ∂L/∂g = ∂L/∂c_t ⊙ i,
    ∂L/∂A = ∂L/∂gates ⊙ (σ' = σ (1 - σ) for i, f, o;  tanh' = 1 - g² for g),
    ∂L/∂h_{t-1} = ∂L/∂A W_hh,   ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f,   ∂L/∂W_hh = Σ_t ∂L/∂A_tᵀ h_{t-1};

the RNN's is the first line's tanh alone: ∂L/∂A = G_h ⊙ (1 - h_t²).

How the graph is built. The input term x_t W_ihᵀ + b_ih + b_hh of every step is one matrix
product for all the steps (a ``SequenceInput`` node, which checks that x has the shape the
call promised: a wrong number of steps can only be seen when data is fed). Then one node per
step (``RNNStep``, ``LSTMStep``) adds h_{t-1} W_hhᵀ to its slice and applies the cell, with
the backward above: a few NumPy calls per step, where one node per operation would make
some twenty. ``fw.stack`` gathers the steps' outputs. An LSTM step's value is its whole
state, h_t and c_t side by side (batch, 2H); ``StatePart`` nodes pick h or c out of it.
"""

from __future__ import annotations

import math

import numpy as np

from .affine import Affine
from .dropout import check_generator
from .joining import stack
from .layers import Layer, _parameter, _whole
from .node import Node, as_node


class SequenceInput(Affine):
    """x W_ihᵀ + b_ih + b_hh for x (batch, steps, input_size): the input term of every step at
    once, (batch, steps, G·H). Its forward first checks x against the layer and the call:
    the number of steps the graph was unrolled over, and the layer's input_size."""

    def __init__(self, x, layer, steps: int, name=None):
        super().__init__(x, layer.weight_ih, layer.bias_ih, layer.bias_hh, name=name)
        self.layer, self.steps = layer, steps

    def forward(self):
        x = self.inputs[0]
        shape = np.shape(x.value)
        size = self.layer.input_size
        if len(shape) != 3 or shape[1:] != (self.steps, size):
            raise ValueError(
                f"{self.layer.describe()}: its input {x.name} has shape {shape}; expected "
                f"(batch, {self.steps}, {size}): batch first, then the {self.steps} steps "
                f"it was unrolled over, then {size} features per step"
            )
        super().forward()


class _Step(Node):
    """One time step t of a recurrent layer: inputs (the SequenceInput P, W_hh, and the state
    before the step: nothing at the first step without an initial state, else the previous
    step's node, or the nodes of the initial state)."""

    def __init__(self, projection, weight_hh, previous, t, layer, name=None):
        super().__init__([projection, weight_hh, *previous], name=name)
        self.t, self.layer = t, layer

    def _check_state(self, node: Node, what: str):
        """The initial state's node ``node`` must be (batch, hidden_size)."""
        expected = (np.shape(self.inputs[0].value)[0], self.layer.hidden_size)
        if np.shape(node.value) != expected:
            raise ValueError(
                f"{self.layer.describe()}: its initial state {what} {node.name} has shape "
                f"{np.shape(node.value)}; expected (batch, hidden_size) = {expected}"
            )

    def _pre_activation(self, h):
        """A_t = P[:, t] + h_{t-1} W_hhᵀ (only the slice where there is no h_{t-1})."""
        own = self.inputs[0].value[:, self.t]
        return own if h is None else own + h @ self.inputs[1].value.T

    def _send_to_weights(self, grad_a, h):
        """∂L/∂A_t to the slice t of P, and ∂L/∂W_hh = ∂L/∂A_tᵀ h_{t-1}; returns
        ∂L/∂h_{t-1} = ∂L/∂A_t W_hh, or None where no state before the step needs it (the
        first step, or an initial state fed into Inputs)."""
        projection, weight_hh, *before = self.inputs
        if projection.needs_gradient:
            projection.gather(self, (slice(None), self.t), grad_a)
        if h is None:
            return None
        if weight_hh.needs_gradient:
            self.send_gradient(weight_hh, grad_a.T @ h)
        return grad_a @ weight_hh.value if any(n.needs_gradient for n in before) else None


class RNNStep(_Step):
    """h_t = tanh(P[:, t] + h_{t-1} W_hhᵀ): one step of ``RNN``; the value is h_t (batch, H)."""

    def forward(self):
        if len(self.inputs) > 2:
            if self.t == 0:
                self._check_state(self.inputs[2], "h")
            self.h_before = self.inputs[2].value
        else:
            self.h_before = None
        self.value = np.tanh(self._pre_activation(self.h_before))

    def backward(self):
        h = self.value
        grad_a = self.upstream_gradient() * (1.0 - h * h)
        grad_h = self._send_to_weights(grad_a, self.h_before)
        if grad_h is not None:
            self.send_gradient(self.inputs[2], grad_h)


def _gate_constants(hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """k and b such that gates = k ⊙ tanh(k ⊙ A) + b applies σ to the blocks i, f, o and tanh to
    g, with one tanh for all four: σ(a) = ½ tanh(a/2) + ½ (k = ½, b = ½), and tanh (k = 1,
    b = 0). The derivative is then k² ⊙ (1 - tanh²(k ⊙ A)): σ' = σ (1 - σ), tanh' = 1 - g²."""
    k = np.repeat([0.5, 0.5, 1.0, 0.5], hidden)
    return k, np.repeat([0.5, 0.5, 0.0, 0.5], hidden)


def _blocks(gates: np.ndarray, hidden: int) -> np.ndarray:
    """The four blocks i, f, g, o (batch, H) of gates (batch, 4H), as views."""
    return gates.reshape(len(gates), 4, hidden).swapaxes(0, 1)


class LSTMStep(_Step):
    """One step of ``LSTM`` (the equations are in the module's docstring). Its value is the
    state after the step, h_t and c_t side by side: (batch, 2H)."""

    def __init__(self, projection, weight_hh, previous, t, layer, name=None):
        super().__init__(projection, weight_hh, previous, t, layer, name=name)
        self.k, self.b = _gate_constants(layer.hidden_size)
        self.k_squared = self.k * self.k

    def _state_before(self):
        """h_{t-1} and c_{t-1}: None and None at a first step without an initial state."""
        inputs = self.inputs
        if len(inputs) == 2:
            return None, None
        if len(inputs) == 4:  # the initial state, (h, c)
            self._check_state(inputs[2], "h")
            self._check_state(inputs[3], "c")
            return inputs[2].value, inputs[3].value
        state = inputs[2].value  # the step before: (h | c)
        hidden = self.layer.hidden_size
        return state[:, :hidden], state[:, hidden:]

    def forward(self):
        hidden = self.layer.hidden_size
        self.h_before, self.c_before = h, c = self._state_before()
        self.tanh_a = np.tanh(self._pre_activation(h) * self.k)
        gates = self.gates = self.tanh_a * self.k + self.b
        i, f, g, o = _blocks(gates, hidden)
        value = np.empty((len(gates), 2 * hidden))
        c_new = value[:, hidden:]
        np.multiply(i, g, out=c_new)
        if c is not None:
            c_new += f * c
        self.tanh_c = np.tanh(c_new)
        np.multiply(o, self.tanh_c, out=value[:, :hidden])
        self.value = value

    def backward(self):
        hidden = self.layer.hidden_size
        grad = self.upstream_gradient()
        grad_h, grad_c = grad[:, :hidden], grad[:, hidden:]
        i, f, g, o = _blocks(self.gates, hidden)
        tanh_c = self.tanh_c
        grad_c = grad_c + grad_h * o * (1.0 - tanh_c * tanh_c)  # all of ∂L/∂c_t
        grad_gates = np.empty_like(self.gates)
        np.multiply(grad_c, g, out=grad_gates[:, :hidden])
        if self.c_before is None:
            grad_gates[:, hidden:2 * hidden] = 0.0
        else:
            np.multiply(grad_c, self.c_before, out=grad_gates[:, hidden:2 * hidden])
        np.multiply(grad_c, i, out=grad_gates[:, 2 * hidden:3 * hidden])
        np.multiply(grad_h, tanh_c, out=grad_gates[:, 3 * hidden:])
        grad_a = grad_gates * self.k_squared * (1.0 - self.tanh_a * self.tanh_a)
        grad_h_before = self._send_to_weights(grad_a, self.h_before)
        if grad_h_before is not None:
            self._send_to_state(grad_h_before, grad_c * f)

    def _send_to_state(self, grad_h, grad_c):
        """∂L/∂h_{t-1} and ∂L/∂c_{t-1} to the initial state's two nodes, or side by side to the
        step before."""
        inputs = self.inputs
        if len(inputs) == 4:
            for node, grad in ((inputs[2], grad_h), (inputs[3], grad_c)):
                if node.needs_gradient:
                    self.send_gradient(node, grad)
        elif inputs[2].needs_gradient:
            self.send_gradient(inputs[2], np.concatenate([grad_h, grad_c], axis=1))


class StatePart(Node):
    """h (``part`` 0) or c (``part`` 1) out of LSTM states (..., 2H): the first or the second
    half of the last axis. The gradient is zero on the other half."""

    def __init__(self, state, part: int, hidden: int, name=None):
        super().__init__([state], name=name)
        self.part = (Ellipsis, slice(part * hidden, (part + 1) * hidden))

    def forward(self):
        self.value = self.inputs[0].value[self.part]

    def backward(self):
        state = self.inputs[0]
        if state.needs_gradient:
            grad = np.zeros_like(state.value)
            grad[self.part] = self.upstream_gradient()
            self.send_gradient(state, grad)


class _Recurrent(Layer):
    """What the RNN and the LSTM share: PyTorch's four parameters for G gates and their
    initialization, the checks of a call, and the unrolling loop."""

    gates = 1
    step_class = RNNStep

    def __init__(self, input_size: int, hidden_size: int, rng=None):
        super().__init__()
        owner = type(self).__name__
        self.input_size = _whole(owner, "input_size", input_size)
        self.hidden_size = _whole(owner, "hidden_size", hidden_size)
        rng = check_generator(rng, owner)
        rows, bound = self.gates * self.hidden_size, 1.0 / math.sqrt(self.hidden_size)
        for name, shape in (("weight_ih", (rows, self.input_size)),
                            ("weight_hh", (rows, self.hidden_size)),
                            ("bias_ih", (rows,)), ("bias_hh", (rows,))):
            setattr(self, name, _parameter(rng.uniform(-bound, bound, shape)))

    def __call__(self, x, steps, state=None):
        """``outputs, state = layer(x, steps, state=None)``: see ``forward``."""
        return self.forward(as_node(x), steps, state)

    def forward(self, x, steps, state=None):
        """Unroll the layer over ``steps`` steps of x (batch, steps, input_size); return the
        outputs (batch, steps, hidden_size) and the state after the last step."""
        steps = _whole(self.describe(), "steps", steps)
        previous = self._initial_state(state)
        base = self.node_name() or type(self).__name__
        projection = SequenceInput(x, self, steps, name=f"{base}.input")
        states = []
        for t in range(steps):
            node = self.step_class(projection, self.weight_hh, previous, t, self,
                                   name=f"{base}.step{t}")
            states.append(node)
            previous = [node]
        return self._outputs(states, base)

    def _initial_state(self, state) -> list[Node]:
        """The nodes of the initial state, [] for zeros; anything else refused."""
        raise NotImplementedError

    def _outputs(self, states: list[Node], base: str):
        """The outputs (batch, steps, H) and the state returned, from the steps' nodes."""
        raise NotImplementedError

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class RNN(_Recurrent):
    """``L.RNN(input_size, hidden_size, rng=None)``: the tanh RNN of ``torch.nn.RNN``
    (batch_first=True), unrolled when called (the equations are in the module's docstring).

    Parameters, PyTorch's names and layout: "weight_ih" (H, input_size), "weight_hh" (H, H),
    "bias_ih" (H,), "bias_hh" (H,), all drawn from U(-1/√H, 1/√H) as PyTorch does, with
    ``rng`` (a ``np.random.Generator``; a new unseeded one if None).

    ``outputs, h = rnn(x, steps, state=None)``: x a node of shape (batch, steps, input_size);
    outputs (batch, steps, H), every h_t; h the last one, (batch, H). ``state``, a node fed
    with h (batch, H), replaces h_0 = 0: fed with the last state of the previous chunk of a
    long sequence, it carries the sequence on while the gradient stops at the chunk's start
    (truncated backpropagation through time).
    """

    def _initial_state(self, state):
        if state is None:
            return []
        if isinstance(state, (tuple, list)):
            raise TypeError(f"{self.describe()}: state is one node, h (batch, "
                            f"{self.hidden_size}), or None; got a {type(state).__name__} (the "
                            "pair (h, c) is an LSTM's state)")
        return [as_node(state)]

    def _outputs(self, states, base):
        return stack(states, axis=1, name=f"{base}.outputs"), states[-1]


class LSTM(_Recurrent):
    """``L.LSTM(input_size, hidden_size, rng=None)``: the LSTM of ``torch.nn.LSTM``
    (batch_first=True), unrolled when called (the equations are in the module's docstring).

    Parameters, PyTorch's names and layout, the four gates' blocks of H rows in the order
    input, forget, cell, output: "weight_ih" (4H, input_size), "weight_hh" (4H, H), "bias_ih"
    (4H,), "bias_hh" (4H,), all drawn from U(-1/√H, 1/√H) as PyTorch does, with ``rng``.

    ``outputs, (h, c) = lstm(x, steps, state=None)``: x a node (batch, steps, input_size);
    outputs (batch, steps, H), every h_t; h and c the state after the last step, each
    (batch, H). ``state``, a pair of nodes (h, c) fed with the last state of the previous
    chunk, replaces the zeros (truncated backpropagation through time).

    A loss made from ``outputs`` alone does not need c (nor the node that picks h out of the
    last state): to carry the state into the next chunk, sort with
    ``topological_sort(feed, outputs=[loss, h, c])`` and pass ``loss=`` to ``backward`` and
    to the optimizer's step, so that h and c are computed too.
    """

    gates = 4
    step_class = LSTMStep

    def _initial_state(self, state):
        if state is None:
            return []
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            got = (f"a {type(state).__name__} of {len(state)}"
                   if isinstance(state, (tuple, list)) else repr(state))
            raise TypeError(f"{self.describe()}: state is a pair (h, c) of nodes, each (batch, "
                            f"{self.hidden_size}), or None; got {got}")
        return [as_node(part) for part in state]

    def _outputs(self, states, base):
        hidden = self.hidden_size
        every_state = stack(states, axis=1, name=f"{base}.states")  # (batch, steps, 2H)
        outputs = StatePart(every_state, 0, hidden, name=f"{base}.outputs")
        return outputs, (StatePart(states[-1], 0, hidden, name=f"{base}.h"),
                         StatePart(states[-1], 1, hidden, name=f"{base}.c"))
