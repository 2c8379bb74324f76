"""Gradient clipping by the global norm, as ``torch.nn.utils.clip_grad_norm_``.

After a backward pass, the gradients g₁ ... g_k of a graph's trainable nodes are seen as one
long vector, of norm

    ‖g‖ = √(Σᵢ Σ_entries gᵢ²).

If that norm is above ``max_norm``, every gradient is multiplied by the same factor

    c = max_norm / (‖g‖ + 10⁻⁶),

so that the direction of the step is kept and its length is at most ``max_norm`` (just under
it: the 10⁻⁶, PyTorch's, keeps the division safe for a norm near 0). Otherwise nothing
changes. One bad batch then moves the parameters no further than ``max_norm`` times the
learning rate (for SGD), however large its gradient.

The gradients clipped are the ones an optimizer's step would use, checked the same way (see
``optimizers``): present, of their node's shape, computed at the node's current value, and
all from the last backward pass over this graph (toward ``loss``, if given). A gradient left
by another graph's or another loss's pass is refused, not clipped. So is a gradient holding
a NaN or an infinity: its norm means nothing, and scaling would spread it to every other
gradient. A refused call changes no gradient.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .node import Node
from .optimizers import _gradients, _trainables
from .passes import count_non_finite

# PyTorch's term in c = max_norm / (norm + 1e-6).
EPSILON = 1e-6
OWNER = "clip_grad_norm"


def clip_grad_norm(graph: list[Node], max_norm: float, loss: Node | None = None) -> float:
    """Scale the gradients of every trainable node of ``graph`` so that their global L2 norm
    is at most ``max_norm``; return the norm they had before (a float).

    Call it between ``backward(graph)`` and ``optimizer.step(graph)``. With ‖g‖ the norm of all
    the gradients together, each gradient g becomes c·g with c = max_norm / (‖g‖ + 10⁻⁶) when
    c < 1 (that is, ‖g‖ > max_norm - 10⁻⁶), as ``torch.nn.utils.clip_grad_norm_`` does, and is
    left as it is otherwise. ``max_norm`` is a number > 0; ``math.inf`` never clips and only
    measures the norm. The new gradients are new arrays: an array that backward shares
    between nodes is never changed in place. ``loss`` says which loss the gradients must be of,
    as in ``optimizer.step(graph, loss=...)``. A graph without trainable nodes has norm 0.
    """
    max_norm = _checked_max_norm(max_norm)
    nodes = _trainables(graph)
    _require_gradients(nodes)
    grads = _gradients(OWNER, graph, nodes, loss)
    norm = global_norm(nodes, grads)
    factor = max_norm / (norm + EPSILON)
    if factor < 1.0:
        scaled = [grad * factor for grad in grads]  # every one made before any is stored
        for node, grad in zip(nodes, scaled, strict=True):
            node.gradients[node] = grad
    return norm


def _checked_max_norm(max_norm, setting: str = f"{OWNER}: max_norm",
                      number_hint: str = "", value_hint: str = " (math.inf to measure the "
                      "norm without clipping)") -> float:
    """``max_norm`` as a float, if it is a number in (0, ∞]; ``setting`` names it in the
    errors ("compile: clip_grad_norm" for ``fw.compile``'s), the hints say what else it
    may be."""
    if isinstance(max_norm, bool) or not isinstance(max_norm, Real):
        raise TypeError(f"{setting} must be a number > 0{number_hint}, got {max_norm!r} "
                        f"({type(max_norm).__name__})")
    if not max_norm > 0:  # also refuses NaN
        raise ValueError(
            f"{setting} must be a number > 0{value_hint}, got {max_norm!r}"
            + ("; 0 would set every gradient to zero" if max_norm == 0 else "")
        )
    return float(max_norm)


def _require_gradients(nodes: list):
    """Before the optimizers' checks, whose message is about a step: no gradient yet means
    no backward pass has reached the node."""
    for node in nodes:
        if node.gradients.get(node) is None:
            raise ValueError(
                f"{OWNER}: {node!r} has no gradient yet; run backward(graph) before clipping "
                "(no gradient was changed)"
            )


def global_norm(nodes: list, grads: list[np.ndarray]) -> float:
    """√(Σ ‖gᵢ‖²) over all the gradients, refused if a gradient holds a NaN or an infinity.

    One dot product per gradient; if the sum is not finite, either a gradient is (named in
    the error) or the squares of finite entries overflowed, and the norm is taken again with
    every entry divided by the largest |entry| first: ‖g‖ = a · ‖g / a‖.
    """
    total = 0.0
    for grad in grads:
        flat = grad.ravel()
        total += float(flat.dot(flat))
    if math.isfinite(total):
        return math.sqrt(total)
    for node, grad in zip(nodes, grads, strict=True):
        if not np.isfinite(grad).all():
            raise FloatingPointError(
                f"{OWNER}: the gradient of {node!r} holds {count_non_finite(grad)}, so the "
                "gradients have no norm to clip to; no gradient was changed. (A loss that "
                "overflowed, or a learning rate too large on the steps before?)"
            )
    largest = max(float(np.abs(grad).max()) for grad in grads if grad.size)
    norm = largest * math.sqrt(sum(float(np.sum((grad / largest) ** 2)) for grad in grads))
    if not math.isfinite(norm):
        raise FloatingPointError(
            f"{OWNER}: the gradients are finite but their norm is larger than the largest "
            f"float ({largest:.3g} in one entry); no gradient was changed"
        )
    return norm
