"""Optimizers: update every trainable placeholder from its gradient after a backward pass.

Updates make new arrays rather than writing in place, so arrays the user fed stay as they were.
A step is all or nothing: every new value is computed and checked before any is written, so a
step that would put a NaN or an infinity into one parameter changes none of them. And a step
uses only gradients that backward computed at the parameters' current values: a second step
without a new backward pass is refused rather than made from an old gradient.
"""

import math
from numbers import Real

import numpy as np

from .node import Node, Placeholder, require_nodes
from .passes import count_non_finite, is_as_sorted


def trainables(graph: list[Node]) -> list[Placeholder]:
    """The trainable placeholders of ``graph``, in graph order."""
    return list(_trainables(graph))  # a copy, which the caller may change


def _trainables(graph):
    """``trainables`` itself. An order as the sort made it keeps the list, and looks again only
    after a node was frozen or unfrozen: ``Node.trainability_changes`` counts every change."""
    changes, as_sorted = Node.trainability_changes, is_as_sorted(graph)
    if not as_sorted:
        require_nodes(graph)
    elif graph.trainables_kept is not None and graph.trainables_kept[0] == changes:
        return graph.trainables_kept[1]
    found = [node for node in graph if isinstance(node, Placeholder) and node.is_trainable]
    if as_sorted:
        graph.trainables_kept = (changes, found)
    return found


def _gradients(nodes: list[Placeholder]) -> list[np.ndarray]:
    """Each node's ∂loss/∂node, after checking that backward gave it one that fits its value."""
    grads = []
    for node in nodes:
        grad = node.gradients.get(node)
        if grad is None:
            raise ValueError(f"{node!r} has no gradient; run backward(graph) before updating it")
        # A second step from one gradient, say. (None: a subclass's own backward recorded
        # nothing, and its gradient is taken as it is, as backward takes its forward's value.)
        if node.value is not node.backward_value and node.backward_value is not None:
            raise ValueError(
                f"{node!r} has a new value since backward computed its gradient (a step, a "
                "load or a value set by hand): run forward and backward again before a step"
            )
        if grad.shape != node.value.shape:
            raise ValueError(
                f"{node!r} has value shape {node.value.shape} but its gradient has shape "
                f"{grad.shape}: the backward of an operation that uses it sent a gradient of "
                "the wrong shape"
            )
        grads.append(grad)
    return grads


def check_number(owner: str, what: str, value, low=0.0, high=math.inf):
    """Refuse anything but a finite real number in [low, high)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: the {what} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if not (math.isfinite(value) and low <= value < high):
        bound = "finite" if high == math.inf else f"< {high:g}"
        raise ValueError(f"{owner}: the {what} must be a number ≥ {low:g} and {bound}, "
                         f"got {value!r}")
    return value


def _all_finite(values: list[np.ndarray]) -> bool:
    """A NaN or an inf in an array makes the sum of its squares NaN or inf: one BLAS dot per
    array finds it. (So can an overflow of finite squares: the caller then looks element by
    element.) ``ndarray.dot`` of the flat arrays skips the Python layer of ``np.vdot``."""
    for value in values:
        flat = value.ravel()
        if not math.isfinite(flat.dot(flat)):
            return False
    return True


def _write_all_or_nothing(owner: str, nodes: list, values: list):
    """Give each node its new value, only if every value is finite."""
    if not _all_finite(values):
        for node, value in zip(nodes, values, strict=True):
            if not np.isfinite(value).all():
                grad = node.gradients[node]
                cause = (f"its gradient holds {count_non_finite(grad)}"
                         if not np.isfinite(grad).all()
                         else "the step overflowed (a learning rate too large?)")
                raise FloatingPointError(
                    f"{owner}: the step would write {count_non_finite(value)} into {node!r}: "
                    f"{cause}. No parameter was changed."
                )
    for node, value in zip(nodes, values, strict=True):
        node.value = value


def optimize(graph: list[Node], learning_rate: float = 1e-2):
    """Plain stochastic gradient descent: θ ← θ - η ∂L/∂θ for every trainable θ."""
    _gradient_descent(graph, check_number("optimize", "learning rate", learning_rate), "optimize")


def _gradient_descent(graph, learning_rate, owner):
    nodes = _trainables(graph)
    steps = zip(nodes, _gradients(nodes), strict=True)
    _write_all_or_nothing(owner, nodes, [node.value - learning_rate * grad for node, grad in steps])


class Optimizer:
    """What every optimizer shares: a learning rate that is a finite number ≥ 0, state kept
    per parameter (``reset`` forgets it), and a step that is all or nothing.

    A subclass writes ``update(value, grad, state)``, returning the new value and the new
    state; ``state`` is ``None`` the first time a parameter is seen.
    """

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.state: dict[Node, tuple] = {}

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = check_number(type(self).__name__, "learning rate", value)

    def reset(self):
        """Forget all state, as a new optimizer would: after a parameter changes shape."""
        self.state = {}

    def step(self, graph: list[Node]):
        nodes, values, states = _trainables(graph), [], []
        for node, grad in zip(nodes, _gradients(nodes), strict=True):
            state = self.state.get(node)
            if state is not None:
                self._check_state(node, state)
            value, state = self.update(node.value, grad, state)
            values.append(value)
            states.append(state)
        _write_all_or_nothing(type(self).__name__, nodes, values)
        self.state.update(zip(nodes, states, strict=True))

    def update(self, value, grad, state):
        raise NotImplementedError(f"{type(self).__name__} must implement update()")

    def _check_state(self, node, state):
        """State made for a value of another shape would broadcast into a wrong value."""
        shape = np.shape(state[0])
        if shape != node.value.shape:
            raise ValueError(
                f"{type(self).__name__}: {node!r} had value shape {shape} when its state was "
                f"made, and now has {node.value.shape}; that state does not fit it. Call reset() "
                "on the optimizer, or make a new one, to start afresh"
            )


class SGD(Optimizer):
    """θ ← θ - η g, the same rule as ``optimize``, as an object like the others."""

    def __init__(self, learning_rate=1e-2):
        super().__init__(learning_rate)

    def step(self, graph):  # no state to keep; the learning rate was checked when it was set
        _gradient_descent(graph, self._learning_rate, "SGD")


class Momentum(Optimizer):
    """v ← β v + g;  θ ← θ - η v.  The velocity v smooths the steps across batches."""

    def __init__(self, learning_rate=1e-2, beta=0.9):
        super().__init__(learning_rate)
        self.beta = check_number("Momentum", "beta", beta, high=1.0)

    def update(self, value, grad, state):
        # A copy to start from: the gradient itself may be zeroed in place after the step.
        v = grad.copy() if state is None else self.beta * state[0] + grad
        return value - self.learning_rate * v, (v,)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with bias-corrected first and second moments:

    m ← β₁ m + (1 - β₁) g,   s ← β₂ s + (1 - β₂) g²,
    θ ← θ - η m̂ / (√ŝ + ε),  with m̂ = m / (1 - β₁ᵗ) and ŝ = s / (1 - β₂ᵗ).

    The step count t is kept per parameter, as PyTorch does: a parameter that starts training
    later gets the bias correction of its own first steps.
    """

    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__(learning_rate)
        self.beta1 = check_number("Adam", "beta1", beta1, high=1.0)
        self.beta2 = check_number("Adam", "beta2", beta2, high=1.0)
        self.epsilon = check_number("Adam", "epsilon", epsilon)

    def update(self, value, grad, state):
        m, s, t = (0.0, 0.0, 0) if state is None else state
        t += 1
        m = self.beta1 * m + (1 - self.beta1) * grad
        s = self.beta2 * s + (1 - self.beta2) * grad * grad
        m_hat = m / (1 - self.beta1**t)
        s_hat = s / (1 - self.beta2**t)
        return value - self.learning_rate * m_hat / (np.sqrt(s_hat) + self.epsilon), (m, s, t)
