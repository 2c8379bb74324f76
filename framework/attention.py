"""Causal self-attention with several heads, as ``torch.nn.MultiheadAttention`` computes it
(batch_first=True, query = key = value = x, and a causal mask).

For x (B, T, E), with E = H·d split into H heads of d features:

    Q = x W_qᵀ + b_q,   K = x W_kᵀ + b_k,   V = x W_vᵀ + b_v,

where W_q, W_k, W_v are the three blocks of E rows of "in_proj_weight" (3E, E), in that order,
and b_q, b_k, b_v those of "in_proj_bias" (3E,). Head h takes the features h·d to (h+1)·d of
each: Q_h, K_h, V_h (B, T, d). Then, for every head,

    S = Q_h K_hᵀ / √d              the scores (T, T): how well position t's query matches
                                   position s's key; √d keeps their size independent of d,
    S[t, s] = -∞  for s > t        the causal mask: no position looks at a later one,
    A = softmax(S) along s         each row sums to 1; a masked score gets weight exactly 0,
    Y_h = A V_h                    position t's output: a weighted mean of the values at s ≤ t,

and the heads' outputs, side by side again (B, T, E), go through "out_proj" (weight (E, E),
bias (E,)): y = Y W_oᵀ + b_o.

The layer builds this from the framework's nodes, one per line: one matrix product for Q, K
and V together (``Affine``), ``Heads`` to take each one's block and split it into heads (a
reshape and a transpose), ``@`` and ``*`` for the scores, ``CausalMask``, ``fw.softmax``, ``@``
for the weighted values, ``MergeHeads`` to put the heads side by side again, and
``Projection`` for out_proj. Nothing in the graph fixes T: the mask is made in the forward
pass from the T of the data fed, so one graph serves sequences of any length.
"""

from __future__ import annotations

import math

import numpy as np

from .affine import Affine
from .dropout import check_generator
from .layers import Layer, _ChecksInput, _parameter, _whole, _wrong_shape
from .node import Node
from .shapes import transpose
from .softmax import softmax


class Heads(Node):
    """One of Q, K, V split into heads: the block ``part`` (0, 1 or 2) of E features of the last
    axis of qkv (B, T, 3E), as (B, H, T, d). A reshape and a transpose: the gradient goes back
    the same way, into its block of qkv's gradient (``Affine.gather``)."""

    def __init__(self, qkv, part: int, heads: int, name=None):
        super().__init__([qkv], name=name)
        self.part, self.heads = part, heads

    def forward(self):
        qkv = self.inputs[0].value
        batch, steps, width = np.shape(qkv)
        embed = width // 3
        self.block = (Ellipsis, slice(self.part * embed, (self.part + 1) * embed))
        per_head = embed // self.heads
        split = qkv[self.block].reshape(batch, steps, self.heads, per_head)  # a view
        self.value = split.transpose(0, 2, 1, 3)

    def backward(self):
        qkv = self.inputs[0]
        if qkv.needs_gradient:
            grad = self.upstream_gradient()  # (B, H, T, d)
            batch, heads, steps, per_head = np.shape(grad)
            block = grad.transpose(0, 2, 1, 3).reshape(batch, steps, heads * per_head)
            qkv.gather(self, self.block, block)


class MergeHeads(Node):
    """The heads' outputs (B, H, T, d) side by side again: (B, T, H·d). The gradient is split
    back into heads."""

    def __init__(self, x, name=None):
        super().__init__([x], name=name)

    def forward(self):
        batch, heads, steps, per_head = np.shape(self.inputs[0].value)
        self.value = self.inputs[0].value.transpose(0, 2, 1, 3).reshape(
            batch, steps, heads * per_head)

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            batch, heads, steps, per_head = np.shape(x.value)
            grad = self.upstream_gradient().reshape(batch, steps, heads, per_head)
            self.send_gradient(x, grad.transpose(0, 2, 1, 3))


class CausalMask(Node):
    """Scores (..., T, T) with -∞ where s > t (row t, column s): no position looks ahead.

    The masked entries do not depend on the scores, so their gradient is 0; the others pass
    theirs through. The mask is made from the T fed, once for each new T.
    """

    def __init__(self, scores, name=None):
        super().__init__([scores], name=name)
        self.future = np.zeros((0, 0), dtype=bool)

    def forward(self):
        scores = self.inputs[0]
        shape = np.shape(scores.value)
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(f"{self!r}: scores {scores.name} have shape {shape}; expected "
                             "(..., T, T), a query position by a key position")
        if len(self.future) != shape[-1]:
            self.future = np.triu(np.ones((shape[-1], shape[-1]), dtype=bool), k=1)
        self.value = np.where(self.future, -np.inf, scores.value)

    def backward(self):
        scores = self.inputs[0]
        if scores.needs_gradient:
            self.send_gradient(scores, np.where(self.future, 0.0, self.upstream_gradient()))


class Projection(Layer):
    """``y = x Wᵀ + b`` over the last axis of x (..., in_features): a linear layer in PyTorch's
    layout, "weight" (out_features, in_features) and "bias" (out_features,), both drawn from
    U(-1/√in_features, 1/√in_features) as ``torch.nn.Linear``'s, with ``rng``. (``L.Linear``
    keeps the course's layout, (in, out), and takes (batch, in) only.) The attention's
    out_proj."""

    def __init__(self, in_features: int, out_features: int, rng=None):
        super().__init__()
        owner = type(self).__name__
        self.in_features = _whole(owner, "in_features", in_features)
        self.out_features = _whole(owner, "out_features", out_features)
        rng = check_generator(rng, owner)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = _parameter(rng.uniform(-bound, bound, (self.out_features, self.in_features)))
        self.bias = _parameter(rng.uniform(-bound, bound, self.out_features))

    def forward(self, x):
        return Affine(x, self.weight, self.bias, name=self.node_name())

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class _AttentionInput(_ChecksInput, Affine):
    """Q, K and V in one product, x in_proj_weightᵀ + in_proj_bias, once x is checked."""


_AttentionInput.__name__ = _AttentionInput.__qualname__ = "Affine"


class CausalSelfAttention(Layer):
    """``L.CausalSelfAttention(embed_dim, num_heads, rng=None)``: ``y = attn(x)`` for x
    (batch, T, embed_dim), any T, equal to ``torch.nn.MultiheadAttention(embed_dim,
    num_heads, batch_first=True)(x, x, x, attn_mask=<causal mask>)[0]``: position t attends to
    the positions s ≤ t only. The maths is in the module's docstring.

    Parameters, named and laid out as PyTorch's: "in_proj_weight" (3E, E) and "in_proj_bias"
    (3E,), the blocks of Q, K and V in that order, and the sub-layer "out_proj"
    (``Projection``: "out_proj.weight" (E, E), "out_proj.bias" (E,)). Initialized as PyTorch
    does, from ``rng``: in_proj_weight from Xavier's U(-√(6 / 4E), √(6 / 4E)),
    out_proj.weight from U(-1/√E, 1/√E), both biases zeros.
    """

    def __init__(self, embed_dim: int, num_heads: int, rng=None):
        super().__init__()
        owner = type(self).__name__
        self.embed_dim = _whole(owner, "embed_dim", embed_dim)
        self.num_heads = _whole(owner, "num_heads", num_heads)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"{self.describe()}: embed_dim must be divisible by num_heads, so that each "
                f"head gets the same number of features; {self.embed_dim} = "
                f"{self.num_heads} × {self.embed_dim // self.num_heads} + "
                f"{self.embed_dim % self.num_heads}"
            )
        rng = check_generator(rng, owner)
        embed = self.embed_dim
        bound = math.sqrt(6.0 / (embed + 3 * embed))  # Xavier: fan in E, fan out 3E
        self.in_proj_weight = _parameter(rng.uniform(-bound, bound, (3 * embed, embed)))
        self.in_proj_bias = _parameter(np.zeros(3 * embed))
        self.out_proj = Projection(embed, embed, rng=rng)
        self.out_proj.bias.value = np.zeros(embed)  # as MultiheadAttention resets it

    def forward(self, x):
        base = self.node_name() or type(self).__name__
        qkv = _AttentionInput(x, self.in_proj_weight, self.in_proj_bias, name=f"{base}.qkv")
        qkv.layer = self
        q, k, v = (Heads(qkv, part, self.num_heads, name=f"{base}.{letter}")
                   for part, letter in enumerate("qkv"))
        per_head = self.embed_dim // self.num_heads
        scores = (q @ transpose(k, (0, 1, 3, 2))) * (1.0 / math.sqrt(per_head))
        weights = softmax(CausalMask(scores, name=f"{base}.mask"), axis=-1)
        return self.out_proj(MergeHeads(weights @ v, name=f"{base}.heads"))

    def check_input(self, x: Node):
        shape = np.shape(x.value)
        if len(shape) != 3 or shape[2] != self.embed_dim or shape[1] == 0:
            raise _wrong_shape(self, x, f"(batch, T, {self.embed_dim}): T ≥ 1 positions of "
                                        f"{self.embed_dim} features")

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
