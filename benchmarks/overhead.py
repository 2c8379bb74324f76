"""Where one training step's time goes, phase by phase, and what the framework adds per node.

For each MLP the same batch is trained again and again, and each piece keeps the best of many
repeats, the pieces taking turns (hot caches, least disturbed by a neighbour): the framework's
forward pass, backward pass, its whole step (the optimizer's part is what the step adds to the
two passes: feeding the batch and the update), and the hand-written NumPy step.
The difference between the two steps, divided by the number of nodes in the graph, is what the
framework costs per node per step on top of the same NumPy work: calls, checks and bookkeeping.
"""

from __future__ import annotations

import math
import timeit
from dataclasses import dataclass

import numpy as np
import training

import framework as fw


@dataclass
class StepCost:
    name: str
    nodes: int
    # "forward", "backward", "optimizer", "framework step", "NumPy step", "compiled step"
    microseconds: dict

    @property
    def extra_per_node(self) -> float:
        step = self.microseconds
        return (step["framework step"] - step["NumPy step"]) / self.nodes


def measure(problem: training.Problem, number=200, rounds=15) -> StepCost:
    batch = [np.arange(problem.batch_size)]  # the same rows every step
    model, reference = training.FrameworkMLP(problem), training.NumpyMLP(problem)
    compiled = training.CompiledMLP(problem)
    compiled.optimizer.learning_rate = 0.0
    # A learning rate of 0 changes no parameter (the arithmetic is done all the same), so
    # every repeat does the same work.
    model.optimizer.learning_rate = problem.learning_rate = 0.0
    graph = model.graph
    model.train_epoch(batch)
    reference.train_epoch(batch)
    # In this order: backward uses the values forward left, as a step does. The optimizer is
    # not timed on its own: a step needs a gradient computed at the current values, so it
    # cannot be repeated without forward and backward; it is what the step adds to those two.
    pieces = {
        "forward": lambda: fw.forward(graph),
        "backward": lambda: fw.backward(graph),
        "framework step": lambda: model.train_epoch(batch),
        "NumPy step": lambda: reference.train_epoch(batch),
        "compiled step": lambda: compiled.train_epoch(batch),  # fw.compile's, the same work
    }
    # The pieces take turns, round after round, and each keeps its best round: a spell when
    # the whole machine runs slow then costs every piece a round or two, not one piece all.
    best = dict.fromkeys(pieces, math.inf)
    for _ in range(rounds):
        for name, work in pieces.items():
            best[name] = min(best[name], timeit.timeit(work, number=number))
    microseconds = {name: seconds / number * 1e6 for name, seconds in best.items()}
    microseconds["optimizer"] = (microseconds["framework step"] - microseconds["forward"]
                                 - microseconds["backward"])
    return StepCost(problem.name, len(graph), microseconds)


def benchmark(problems) -> list[StepCost]:
    return [measure(problem) for problem in problems]
