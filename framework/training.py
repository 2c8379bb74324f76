"""The training loop: epochs of shuffled mini-batches, each fed, run forward and backward, and
stepped by an optimizer."""

from __future__ import annotations

import numpy as np

from .batching import minibatches
from .node import Node, Placeholder
from .passes import run_steps


def train(graph, data: dict, step, epochs: int, batch_size: int,
          rng: np.random.Generator | None = None, after_epoch=None,
          loss: Node | None = None) -> list[float]:
    """Train ``graph`` for ``epochs`` passes over ``data``, one mini-batch a step.

    ``data`` maps each fed placeholder to its array, one row per example (every array the same
    length). Each step feeds the rows of one batch of ``fw.minibatches(n, batch_size, rng)`` to
    every placeholder, runs forward and backward (from ``loss``, as ``backward`` takes it), and
    calls ``step(graph)``: ``fw.SGD(0.1).step``, say. ``after_epoch()``, if given, is called
    after each epoch. Returns the loss of every step, as floats, in order.
    """
    lengths = _lengths(data)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a whole number of at least 0, got {epochs!r}")
    if not callable(step):
        raise TypeError(f"step must be called with the graph after each backward pass, such as "
                        f"fw.SGD(0.1).step; got {step!r}")
    losses = []
    for _ in range(int(epochs)):
        for rows in minibatches(lengths, batch_size, rng):
            for node, values in data.items():
                node.value = values[rows]
            run_steps(graph, loss=loss)
            step(graph)
            losses.append(float((loss if loss is not None else graph[-1]).value))
        if after_epoch is not None:
            after_epoch()
    return losses


def _lengths(data: dict) -> int:
    """The number of examples that every array of ``data`` holds, refusing anything else."""
    if not isinstance(data, dict) or not data:
        raise TypeError("data must be a dict {placeholder: array with one row per example}, "
                        f"got {data!r}")
    lengths = {}
    for node, values in data.items():
        if not isinstance(node, Placeholder):
            raise TypeError(f"data's keys must be the placeholders to feed, got {node!r}")
        if np.ndim(values) == 0:
            raise ValueError(f"{node!r} is fed a single value; give an array with one row per "
                             "example")
        lengths[node] = len(values)
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{node!r}: {n}" for node, n in lengths.items())
        raise ValueError(f"every array of data needs one row per example, but they have "
                         f"different lengths ({described})")
    return next(iter(lengths.values()))
