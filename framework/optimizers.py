"""Optimizers: update every trainable placeholder from its gradient after a backward pass.

Updates make new arrays rather than writing in place, so arrays the user fed stay as they were.
A step is all or nothing: every new value is computed and checked before any is written, so a
step that would put a NaN or an infinity into one parameter changes none of them. And a step
uses only gradients that backward computed at the parameters' current values: a second step
without a new backward pass is refused rather than made from an old gradient.

The loss a step of ``graph`` descends is the loss of the last backward pass over ``graph``
(``loss=`` names the one meant, and is then checked): every gradient must come from that pass.
A parameter shared with another graph may hold the gradient of that graph's loss, and
``backward(graph, loss=b)`` replaces the gradients of ``backward(graph, loss=a)``; a step with
such a gradient would descend another loss, so it is refused.

Weight decay, as PyTorch's ``weight_decay``: every optimizer adds λθ to each gradient before
its own update, g ← ∂L/∂θ + λθ, which descends L + (λ/2) Σ‖θ‖² (an L2 penalty on every
trainable node, biases and batch normalization's γ and β included, as in PyTorch). For Adam this
is PyTorch's ``Adam(weight_decay=λ)``, the L2 form, not AdamW's decoupled decay: the penalty's
gradient goes through the moments like the loss's.
"""

import math
from numbers import Real

import numpy as np

from .node import Node, Placeholder, require_nodes
from .passes import count_non_finite, is_as_sorted
from .sort import Order


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


def _gradients(owner: str, graph, nodes: list[Placeholder], loss=None) -> list[np.ndarray]:
    """Each node's ∂loss/∂node, after checking that the last backward pass over ``graph``
    (toward ``loss``, if given) gave it one that fits its value."""
    if loss is not None and not isinstance(loss, Node):
        raise TypeError(f"{owner}: loss= takes the loss node whose gradients are used, got "
                        f"{loss!r} ({type(loss).__name__})")
    grads = []
    # Usually every gradient comes from one pass, over this very graph: then one identity test
    # per node, and one for the pass, are all the check costs.
    made_by = nodes[0].backward_pass if nodes else None
    for node in nodes:
        if node.backward_pass is not made_by:  # two passes: not both can be this graph's last
            _refuse_other_passes(owner, graph, nodes, loss)
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
    if made_by is None:  # no backward pass made them: set by hand, taken as they are
        if loss is not None:
            _refuse_other_passes(owner, graph, nodes, loss)
    elif made_by.graph is not graph or (loss is not None and made_by.loss is not loss):
        _refuse_other_passes(owner, graph, nodes, loss)  # returns for a copy of the graph
    return grads


def _refuse_other_passes(owner: str, graph, nodes: list[Placeholder], loss):
    """Raise unless every node's gradient comes from the last backward pass over ``graph``,
    toward ``loss`` if given (the slow path of ``_gradients``: a pass over a copy of
    ``graph`` counts as one over it, which only a comparison of the two lists can tell)."""
    own = _last_pass_over(graph)
    wanted = loss if loss is not None else (own.loss if own is not None else None)
    strays = {}  # {the pass that made a stray gradient: the nodes that hold one}
    for node in nodes:
        made_by = node.backward_pass
        if made_by is None or not made_by.is_over(graph) or (
                wanted is not None and made_by.loss is not wanted):
            strays.setdefault(made_by, []).append(node)
    if not strays:
        return
    made_by, holders = next(iter(strays.items()))
    if loss is not None:
        step_for = f"this step is for {loss!r}, as loss= says"
    elif own is not None:
        step_for = f"this step is for {own.loss!r}, the loss of the last backward over this graph"
    else:
        step_for = "and no backward pass over this graph has run since"
    raise ValueError(
        f"{owner}: {_names(holders)} {_made_by(made_by, graph)}; {step_for}. Run "
        f"backward(graph{'' if loss is None else f', loss={loss.name}'}) again before the "
        "step; no parameter was changed"
    )


def _last_pass_over(graph):
    """The last backward pass over ``graph`` (or over a copy of it), or None.

    Each such pass is stamped on all the nodes of ``graph``, so a node that still holds one
    holds the last. A pass over a bigger graph may have stamped them all since: an order
    keeps its own last pass for that case (a list made by hand cannot).
    """
    checked = set()
    for node in graph:
        made_by = node.backward_pass
        if made_by is not None and made_by not in checked:
            if made_by.is_over(graph):
                return made_by
            checked.add(made_by)
    return graph.backward_by if isinstance(graph, Order) else None


def _names(nodes, most=4) -> str:
    """E.g. "the gradients of Parameter('w'), Parameter('b')": the first ``most`` nodes."""
    listed = ", ".join(map(repr, nodes[:most]))
    more = f" and {len(nodes) - most} more" if len(nodes) > most else ""
    return f"the gradient{'s' if len(nodes) > 1 else ''} of {listed}{more}"


def _made_by(made_by, graph) -> str:
    """Where a gradient came from, for an error: which loss, and over which graph."""
    if made_by is None:
        return "did not come from a backward pass (set by hand?)"
    where = "this graph" if made_by.is_over(graph) else "another graph"
    return f"came from backward toward {made_by.loss!r}, over {where}"


def check_number(owner: str, what: str, value, low=0.0, high=math.inf, above_low=False):
    """Refuse anything but a finite real number in [low, high), or (low, high) if
    ``above_low``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: the {what} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if not (math.isfinite(value) and low <= value < high) or (above_low and value == low):
        bound = "finite" if high == math.inf else f"< {high:g}"
        raise ValueError(f"{owner}: the {what} must be a number {'>' if above_low else '≥'} "
                         f"{low:g} and {bound}, got {value!r}")
    return value


class Setting:
    """A number that an optimizer checks whenever it is set, when the optimizer is made and
    after: ``Adam(epsilon=0)`` and ``adam.epsilon = 0`` are both refused, before a zero
    gradient divides 0 by 0. Kept in ``_<name>``, which ``update`` reads directly (a step
    reads each setting per parameter, and this descriptor's getter is a Python call)."""

    def __init__(self, low=0.0, high=math.inf, above_low=False):
        self.low, self.high, self.above_low = low, high, above_low

    def __set_name__(self, owner, name):
        self.name, self.slot = name, f"_{name}"

    def __get__(self, optimizer, owner=None):
        return self if optimizer is None else getattr(optimizer, self.slot)

    def __set__(self, optimizer, value):
        setattr(optimizer, self.slot, check_number(
            type(optimizer).__name__, self.name, value, self.low, self.high, self.above_low))


def _all_finite(values: list[np.ndarray]) -> bool:
    """A NaN or an inf in an array makes the sum of its squares NaN or inf: one BLAS dot per
    array finds it. (So can an overflow of finite squares: the caller then looks element by
    element.) ``ndarray.dot`` of the flat arrays skips the Python layer of ``np.vdot``."""
    for value in values:
        flat = value.ravel()
        if not math.isfinite(flat.dot(flat)):
            return False
    return True


def _write_all_or_nothing(owner: str, nodes: list, values: list, too_large="a learning rate"):
    """Give each node its new value, only if every value is finite. ``too_large`` says which
    setting may have made a finite gradient overflow, for the error."""
    if not _all_finite(values):
        for node, value in zip(nodes, values, strict=True):
            if not np.isfinite(value).all():
                grad = node.gradients[node]
                cause = (f"its gradient holds {count_non_finite(grad)}"
                         if not np.isfinite(grad).all()
                         else f"the step overflowed ({too_large} too large?)")
                raise FloatingPointError(
                    f"{owner}: the step would write {count_non_finite(value)} into {node!r}: "
                    f"{cause}. No parameter was changed."
                )
    for node, value in zip(nodes, values, strict=True):
        node.value = value


def optimize(graph: list[Node], learning_rate: float = 1e-2, loss: Node | None = None):
    """Plain stochastic gradient descent: θ ← θ - η ∂L/∂θ for every trainable θ.

    L is the loss of the last backward pass over ``graph``; pass ``loss`` to say which one you
    mean, and the step is refused if the gradients are of another.
    """
    _gradient_descent(graph, check_number("optimize", "learning rate", learning_rate),
                      "optimize", loss)


def _gradient_descent(graph, learning_rate, owner, loss=None, weight_decay=0.0):
    """θ ← θ - η (g + λθ) for every trainable θ, all or nothing; without decay (λ = 0) the
    same arithmetic as before it existed, θ - η g."""
    nodes = _trainables(graph)
    steps = zip(nodes, _gradients(owner, graph, nodes, loss), strict=True)
    if not weight_decay:
        _write_all_or_nothing(owner, nodes, [node.value - learning_rate * grad
                                             for node, grad in steps])
        return
    values = [node.value - learning_rate * (grad + weight_decay * node.value)
              for node, grad in steps]
    _write_all_or_nothing(owner, nodes, values, _TOO_LARGE_WITH_DECAY)


_TOO_LARGE_WITH_DECAY = "a learning rate or a weight decay"


class Optimizer:
    """What every optimizer shares: a learning rate that is a finite number ≥ 0, a weight
    decay λ (a finite number ≥ 0, 0 by default), state kept per parameter (``reset`` forgets
    it), and a step that is all or nothing.

    A subclass writes ``update(value, grad, state)``, returning the new value and the new
    state; ``state`` is ``None`` the first time a parameter is seen. With weight decay, the
    ``grad`` it is given is already g + λθ (PyTorch's ``weight_decay``), so every subclass
    decays the same way without a line of its own.
    """

    weight_decay = Setting()
    _weight_decay = 0.0  # for a subclass whose __init__ sets its learning rate by itself

    def __init__(self, learning_rate, weight_decay=0.0):
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
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

    def step(self, graph: list[Node], loss: Node | None = None):
        """Update every trainable node of ``graph`` from its gradient, all or nothing.

        The gradients must all come from the last backward pass over ``graph``, whose loss is
        the one descended; ``loss`` says which loss that must be (after ``backward(graph,
        loss=a)`` then ``backward(graph, loss=b)``, ``step(graph, loss=a)`` is refused).
        """
        owner = type(self).__name__
        decay = self._weight_decay  # read once: the descriptor's getter is a Python call
        nodes, values, states = _trainables(graph), [], []
        for node, grad in zip(nodes, _gradients(owner, graph, nodes, loss), strict=True):
            state = self.state.get(node)
            if state is not None:
                self._check_state(node, state)
            if decay:  # a new array: the gradient itself stays ∂L/∂θ
                grad = grad + decay * node.value
            value, state = self.update(node.value, grad, state)
            values.append(value)
            states.append(state)
        # The states are kept only once every value is written: a refused step changes none.
        _write_all_or_nothing(owner, nodes, values,
                              _TOO_LARGE_WITH_DECAY if decay else "a learning rate")
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
    """θ ← θ - η g, the same rule as ``optimize``, as an object like the others.

    With weight decay λ, θ ← θ - η (g + λθ) = (1 - ηλ) θ - η g: each step also shrinks every
    parameter by the factor 1 - ηλ, hence the name (PyTorch's ``SGD(weight_decay=λ)``).
    """

    def __init__(self, learning_rate=1e-2, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)

    def step(self, graph, loss=None):
        """As ``Optimizer.step``, with no state to keep (the learning rate and the weight decay
        were checked when they were set)."""
        _gradient_descent(graph, self._learning_rate, "SGD", loss, self._weight_decay)


class Momentum(Optimizer):
    """v ← β v + g;  θ ← θ - η v.  The velocity v smooths the steps across batches.

    β is in [0, 1): at 1 the velocity would never forget a gradient. With weight decay λ,
    g = ∂L/∂θ + λθ (PyTorch's ``SGD(momentum=β, weight_decay=λ)``; its first velocity is g,
    as here).
    """

    beta = Setting(high=1.0)

    def __init__(self, learning_rate=1e-2, beta=0.9, weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.beta = beta

    def update(self, value, grad, state):
        # A copy to start from: the gradient itself may be zeroed in place after the step.
        v = grad.copy() if state is None else self._beta * state[0] + grad
        return value - self._learning_rate * v, (v,)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with bias-corrected first and second moments:

    m ← β₁ m + (1 - β₁) g,   s ← β₂ s + (1 - β₂) g²,
    θ ← θ - η m̂ / (√ŝ + ε),  with m̂ = m / (1 - β₁ᵗ) and ŝ = s / (1 - β₂ᵗ).

    The step count t is kept per parameter, as PyTorch does: a parameter that starts training
    later gets the bias correction of its own first steps. β₁ and β₂ are in [0, 1) (at 1 the
    bias correction divides by zero), and ε > 0: a gradient of zero gives m̂ = ŝ = 0, and
    without ε the step would be 0/0.

    With weight decay λ, g = ∂L/∂θ + λθ goes into both moments: PyTorch's
    ``Adam(weight_decay=λ)``, an L2 penalty, not AdamW's decay θ ← θ - ηλθ kept apart from them.
    """

    beta1 = Setting(high=1.0)
    beta2 = Setting(high=1.0)
    epsilon = Setting(above_low=True)

    def __init__(self, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 weight_decay=0.0):
        super().__init__(learning_rate, weight_decay)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def update(self, value, grad, state):
        beta1, beta2 = self._beta1, self._beta2
        m, s, t = (0.0, 0.0, 0) if state is None else state
        t += 1
        m = beta1 * m + (1 - beta1) * grad
        s = beta2 * s + (1 - beta2) * grad * grad
        m_hat = m / (1 - beta1**t)
        s_hat = s / (1 - beta2**t)
        return value - self._learning_rate * m_hat / (np.sqrt(s_hat) + self._epsilon), (m, s, t)
