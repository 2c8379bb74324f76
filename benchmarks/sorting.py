"""Topological sort scaling: how long ``topological_sort`` takes on big graphs.

Two shapes of graph: a chain (each node the input of the next, as deep as a graph gets; a
recursive sort would overflow the stack) and a wide DAG (ten layers, each node adding two
nodes of the layer before). Only the sort is timed, never the building.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass

import numpy as np

import framework as fw

LAYERS = 10


def chain(n_nodes: int) -> fw.Node:
    """x → -x → --x → … with ``n_nodes`` nodes in all; returns the fed input x."""
    x = fw.Input("x")
    node = x
    for _ in range(n_nodes - 1):
        node = fw.Negate(node)
    return x


def wide(n_nodes: int) -> fw.Node:
    """x feeds the first of ten layers; in the others node i is the sum of nodes i and i+1
    (cyclically) of the layer before. About ``n_nodes`` nodes, two edges each."""
    x = fw.Input("x")
    width = max(2, (n_nodes - 1) // LAYERS)
    layer = [fw.Negate(x) for _ in range(width)]
    for _ in range(LAYERS - 1):
        layer = [fw.Add(layer[i], layer[(i + 1) % width]) for i in range(width)]
    return x


@dataclass
class SortTiming:
    shape: str
    nodes: int
    edges: int
    seconds: float  # median over the repeats

    @property
    def microseconds_per_node(self) -> float:
        return 1e6 * self.seconds / self.nodes


def time_sort(shape: str, build, n_nodes: int, repeats: int) -> SortTiming:
    # Building a million nodes is slow with the garbage collector scanning them again and
    # again; it is not what we measure. The sort itself runs with the collector on, as usual.
    gc.disable()
    try:
        x = build(n_nodes)
    finally:
        gc.enable()
    gc.collect()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        order = fw.topological_sort({x: np.zeros(1)})
        seconds.append(time.perf_counter() - start)
    edges = sum(len(set(node.inputs)) for node in order)
    timing = SortTiming(shape, len(order), edges, statistics.median(seconds))
    del x, order
    gc.collect()
    return timing


def benchmark(sizes, repeats: int) -> list[SortTiming]:
    return [
        time_sort(name, build, n, repeats)
        for n in sizes
        for name, build in (("chain", chain), ("wide DAG", wide))
    ]
