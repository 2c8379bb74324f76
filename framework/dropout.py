"""Dropout: while training, zero each entry at random and scale the others up to match.

In training, each forward pass draws a new mask M, the same shape as x, of independent entries

    M = 1 / (1 - p)  with probability 1 - p,     M = 0  with probability p,

and computes y = M ⊙ x. Since E[M] = 1, E[y] = x: a layer after dropout sees inputs of the same
size on average in training and in evaluation, where dropout is the identity, y = x. (This is
"inverted" dropout, as PyTorch's: the scaling happens while training, so that evaluation
changes nothing.)

y is linear in x for a fixed mask, so ∂y/∂x = M: backward multiplies the upstream gradient
by the mask of the forward pass that computed the loss, the one it keeps in ``self.mask``.
In evaluation both passes are the identity.
"""

from __future__ import annotations

import numbers

import numpy as np

from .arguments import refuse
from .node import Node


def check_probability(p, owner: str) -> float:
    """``p`` as a float if it is a real number in [0, 1); otherwise an error naming ``owner``."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{owner}: p, the probability of zeroing an entry, must be a number in "
                        f"[0, 1), got {p!r} ({type(p).__name__})")
    if not 0.0 <= p < 1.0:  # also refuses NaN
        raise ValueError(
            f"{owner}: p, the probability of zeroing an entry, must be in [0, 1), got {p!r}"
            + ("; p = 1 would zero every entry, and scale the kept ones by 1 / (1 - p) = 1 / 0"
               if p == 1 else "")
        )
    return float(p)


def check_generator(rng, owner: str) -> np.random.Generator:
    """``rng`` if it is a NumPy Generator, a new unseeded one for None; anything else refused
    (an int seed in particular: every layer given the seed 0 would draw the same numbers)."""
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{owner}: rng must be a NumPy random generator, such as "
                        f"np.random.default_rng(0), or None; got {rng!r} ({type(rng).__name__})")
    return rng


class Dropout(Node):
    """y = M ⊙ x in training (M: a new random mask of 0 and 1 / (1 - p) each pass), y = x in
    evaluation. See the module's docstring for the maths.

    Standing alone, the node keeps its own settings: ``p``, ``rng`` (a ``np.random.Generator``)
    and ``training`` (True at first; set ``node.training = False`` to evaluate). Built by a
    layer (``layers.Dropout``), it reads them from that layer on every forward pass instead,
    so ``layer.eval()`` switches every graph built from the layer at once, with no new sort.
    ``self.mask`` holds the last training pass's mask (None after a pass that kept every
    entry).
    """

    def __init__(self, x, p=0.5, rng=None, name=None, layer=None):
        super().__init__([x], name=name)
        self.layer = layer
        self.mask = None
        if layer is None:
            try:
                self.p = check_probability(p, repr(self))
                self.rng = check_generator(rng, repr(self))
            except (TypeError, ValueError) as error:
                refuse(self, str(error), type(error))
            self.training = True

    def forward(self):
        settings = self if self.layer is None else self.layer
        x = self.inputs[0].value
        p = settings.p
        if settings.training and p != 0:
            if not 0 < p < 1:  # changed since it was checked
                check_probability(p, self._owner())
            keep = settings.rng.random(np.shape(x)) >= p  # True with probability 1 - p
            self.mask = keep * (1.0 / (1.0 - p))
            self.value = x * self.mask
        else:
            self.mask = None
            self.value = x

    def backward(self):
        x = self.inputs[0]
        if x.needs_gradient:
            grad = self.upstream_gradient()
            self.send_gradient(x, grad if self.mask is None else grad * self.mask)

    def _owner(self) -> str:
        return repr(self) if self.layer is None else self.layer.describe()
