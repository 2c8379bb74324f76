"""What a model built from layers costs per training step: the digits MLP built with
``L.Sequential`` against the same model built from ops (``training.FrameworkMLP``).

Both start from the same weights, see the same mini-batches and take the same SGD steps, so
they end with the same parameters (checked). A layer builds its nodes once, when the graph is
built; per step it adds only the check of its input's shape that ``L.Linear``'s node makes
before ``fw.Linear``'s forward. The target: at most 1.05× the time of the ops.

Timing as in ``training.Comparison``: in each round each version trains one untimed epoch and
one timed epoch, the two versions taking turns (which goes first alternates from round to
round), wall-clock and CPU time. The two are so close that the ratio reported is the median
of the ratios of single rounds (each the two versions timed one right after the other), which
a neighbour's burst disturbs least; the medians and the best rounds of each are shown too.
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import dataclass

import numpy as np
import training

import framework as fw
from framework import layers as L

TARGET = 1.05


class LayersMLP(training.FrameworkMLP):
    """``training.FrameworkMLP``'s model and loop, the model built with ``L.Sequential`` of
    ``L.Linear`` and activation layers, its weights set to the problem's initial ones."""

    label = "layers"

    def __init__(self, problem: training.Problem):
        self.problem = problem
        sizes = (problem.features.shape[1], *problem.hidden, problem.outputs)
        activation = L.ReLU if problem.activation == "relu" else L.Sigmoid
        layers = []
        for i, (inputs, outputs) in enumerate(itertools.pairwise(sizes), start=1):
            linear = L.Linear(inputs, outputs, rng=np.random.default_rng(0))
            linear.weight.value = problem.initial[f"W{i}"]
            linear.bias.value = problem.initial[f"b{i}"]
            layers += [linear, activation()]
        self.model = L.Sequential(*layers[:-1])
        self.linears = [layer for layer in self.model if isinstance(layer, L.Linear)]
        self.x, self.y = fw.Input("x"), fw.Input("y")
        loss_class = fw.SoftmaxCrossEntropy if problem.task == "classification" else fw.MSE
        loss_class(self.model(self.x), self.y, name="loss")
        # The parameters hold their values already: only the data is fed.
        self.graph = fw.topological_sort({self.x: problem.features[:1],
                                          self.y: problem.targets[:1]})
        self.optimizer = fw.SGD(problem.learning_rate)

    def parameters(self) -> dict:
        values = {}
        for i, linear in enumerate(self.linears, start=1):
            values[f"W{i}"], values[f"b{i}"] = linear.weight.value, linear.bias.value
        return values


@dataclass
class LayersResult:
    problem: training.Problem
    steps_per_epoch: int
    epochs: int  # trained by each version, timed or not
    nodes: tuple  # (ops, layers): the number of nodes of each graph
    us_per_step: dict  # "wall" or "cpu" → {"ops": µs, "layers": µs}, medians
    best_us_per_step: dict  # the same, the fastest round of each
    round_ratios: dict  # "wall" or "cpu" → layers ÷ ops of each round, sorted
    largest_difference: float  # max |parameter| difference after the same epochs

    def ratio(self, clock: str) -> float:
        """The median of the single rounds' layers ÷ ops."""
        return statistics.median(self.round_ratios[clock])


def benchmark(problem: training.Problem, rounds: int) -> LayersResult:
    versions = [training.FrameworkMLP(problem), LayersMLP(problem)]
    labels = ["ops", "layers"]
    times = {clock: {label: [] for label in labels} for clock in ("wall", "cpu")}
    for number in range(rounds):
        warm_up = problem.epoch_batches(2 * number)
        timed = problem.epoch_batches(2 * number + 1)
        turn = list(zip(labels, versions, strict=True))
        for label, version in turn if number % 2 == 0 else reversed(turn):
            version.train_epoch(warm_up)
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            version.train_epoch(timed)
            times["cpu"][label].append(time.process_time() - start_cpu)
            times["wall"][label].append(time.perf_counter() - start_wall)
    steps = len(problem.epoch_batches(0))

    def per_step(clock, summary=statistics.median):
        return {label: 1e6 * summary(t) / steps for label, t in times[clock].items()}

    def ratios(clock):
        return sorted(b / a for a, b in zip(times[clock]["ops"], times[clock]["layers"],
                                            strict=True))

    ops, layers = (version.parameters() for version in versions)
    return LayersResult(
        problem=problem, steps_per_epoch=steps, epochs=2 * rounds,
        nodes=(len(versions[0].graph), len(versions[1].graph)),
        us_per_step={clock: per_step(clock) for clock in ("wall", "cpu")},
        best_us_per_step={clock: per_step(clock, min) for clock in ("wall", "cpu")},
        round_ratios={clock: ratios(clock) for clock in ("wall", "cpu")},
        largest_difference=training.largest_difference(ops, layers),
    )
