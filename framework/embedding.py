"""Embeddings: a table of learned vectors, one row per id (a character, a word, a position).

With the table E (num_embeddings, embedding_dim) and integer ids of any shape,

    y[p] = E[ids[p]]   for every position p,      so y has shape ids.shape + (embedding_dim,).

Picking a row is multiplying a one-hot vector by E, without building the one-hot vector. Each
y[p] is a copy of one row, so row k's gradient is the sum of ∂L/∂y[p] over every position p
where ids[p] = k: an id used twice collects both gradients (``np.add.at``, which adds at
repeated indices where ``grad[ids] += G`` would keep only one of them), and a row no id
picked gets zero. The ids are labels, not quantities: they get no gradient.
"""

import numpy as np

from .dropout import check_generator
from .layers import Layer, _parameter, _whole
from .node import Node


class Lookup(Node):
    """y = weight[ids]: the rows of ``weight`` (num, dim) picked by ``ids`` (whole numbers from
    0 to num - 1, of any shape). Built by ``Embedding``, whose errors name the layer."""

    def __init__(self, ids, weight, layer, name=None):
        super().__init__([ids, weight], name=name)
        self.layer = layer

    def forward(self):
        ids, weight = self.inputs
        self.rows = self._row_ids(ids, np.shape(weight.value)[0])
        self.value = np.take(weight.value, self.rows, axis=0)

    def _row_ids(self, ids: Node, count: int) -> np.ndarray:
        """The fed ids (float64, as every fed value) as numbers of rows of the ``count`` rows,
        or an error that says which ones are not whole numbers and which are out of range."""
        raw = ids.value
        # Clamped into [-0.5, count - 0.5] first (fmax and fmin also turn NaN into a bound),
        # the ids cast without a warning; an id is valid exactly when it equals its row.
        rows = np.fmin(np.fmax(raw, -0.5), count - 0.5).astype(np.intp)
        valid = rows == raw
        if not valid.all():
            bad = raw[~valid]
            whole = np.isfinite(bad) & (np.floor(bad) == bad)
            found = [f"{what} {values[:5].tolist()}" for what, values in
                     (("out of range:", bad[whole]), ("not whole numbers:", bad[~whole]))
                     if values.size]
            raise ValueError(
                f"{self.layer.describe()}: its ids {ids.name} (shape {np.shape(raw)}) must be "
                f"whole numbers from 0 to {count - 1}, one per row of the weight; got "
                + " and ".join(found)
            )
        return rows

    def backward(self):
        weight = self.inputs[1]
        if weight.needs_gradient:
            count, dim = np.shape(weight.value)
            # On the flat table, entry (row, j) at row·dim + j: np.add.at is about four times
            # faster along one axis than picking whole rows of a 2-D table, with the same sums.
            entries = (self.rows.reshape(-1, 1) * dim + np.arange(dim)).ravel()
            grad = np.zeros(count * dim)
            np.add.at(grad, entries, self.upstream_gradient().ravel())
            self.send_gradient(weight, grad.reshape(count, dim))


class Embedding(Layer):
    """``L.Embedding(num_embeddings, embedding_dim, rng=None)``: ``layer(ids)`` returns a node
    of shape ids.shape + (embedding_dim,), the rows of "weight" (num_embeddings,
    embedding_dim) that the ids pick (see the module's docstring).

    The weight starts as in PyTorch's ``nn.Embedding``: every entry drawn from N(0, 1), with
    ``rng`` (a ``np.random.Generator``; a new unseeded one if None).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng=None):
        super().__init__()
        owner = type(self).__name__
        self.num_embeddings = _whole(owner, "num_embeddings", num_embeddings)
        self.embedding_dim = _whole(owner, "embedding_dim", embedding_dim)
        rng = check_generator(rng, owner)
        self.weight = _parameter(rng.standard_normal((self.num_embeddings, self.embedding_dim)))

    def forward(self, ids):
        return Lookup(ids, self.weight, self, name=self.node_name())

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
