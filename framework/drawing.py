"""Drawing the graph with networkx and matplotlib, in one look for the whole course.

Layers by topological generation (inputs on the left, the loss on the right), one colour per
kind of node, and labels with the node's name and, once values exist, its shape.
"""

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from .node import Node

COLOURS = {
    "data": "#9ecae1",
    "parameter": "#fdae6b",
    "constant": "#d9d9d9",
    "operation": "#a1d99b",
    "loss": "#fb6a4a",
}


def to_networkx(graph: list[Node]) -> nx.DiGraph:
    """A ``networkx.DiGraph`` with an edge from every input to the node that uses it.

    Nodes are the ``Node`` objects themselves, with attributes ``name``, ``kind``, ``shape``
    (``None`` before a forward pass) and ``order`` (the position in ``graph``). Any object with
    ``name``, ``inputs`` and ``value`` will do, so the notebooks can draw their teaching nodes;
    one without a ``kind``, or with one not in ``COLOURS``, is drawn as an operation.
    """
    digraph = nx.DiGraph()
    for order, node in enumerate(graph):
        shape = None if node.value is None else np.shape(node.value)
        kind = getattr(node, "kind", "operation")
        digraph.add_node(node, name=node.name, kind=kind, shape=shape, order=order)
    members = set(graph)
    for node in graph:
        digraph.add_edges_from((i, node) for i in node.inputs if i in members)
    return digraph


def _label(node, data, show_shapes, numbers):
    label = data["name"]
    if show_shapes and data["shape"] is not None:
        label += f"\n{data['shape']}"
    if numbers is not None:
        label = f"{numbers[node]}. {label}"
    return label


def draw_graph(graph: list[Node], ax=None, show_shapes=True, show_order=False, backward=False,
               title=None):
    """Draw ``graph`` left to right in layers; return the matplotlib axes.

    ``show_order`` numbers the nodes in the order the forward pass runs them. ``backward``
    draws the backward pass instead: arrows point from each node to its inputs, the way the
    gradients flow, and the numbers (if shown) count in reverse order.
    """
    if not graph:
        raise ValueError("draw_graph got an empty graph; sort one with topological_sort first")
    digraph = to_networkx(graph)
    # Within a layer, keep the graph's order from top to bottom: networkx would group the
    # nodes in a set, whose order changes from run to run.
    layers = {
        layer: sorted(nodes, key=lambda n: -digraph.nodes[n]["order"])
        for layer, nodes in enumerate(nx.topological_generations(digraph))
    }
    positions = nx.multipartite_layout(digraph, subset_key=layers)
    numbers = None
    if show_order:
        count = len(graph)
        numbers = {n: (count - d["order"] if backward else d["order"] + 1)
                   for n, d in digraph.nodes(data=True)}
    if ax is None:
        tallest = max((len(nodes) for nodes in layers.values()), default=1)
        # Tall enough that the nodes of the fullest layer do not overlap.
        _, ax = plt.subplots(figsize=(max(4.0, 1.9 * len(layers)), max(3.5, 0.8 * tallest + 1)))
    drawn = digraph.reverse() if backward else digraph
    nx.draw_networkx(
        drawn,
        pos=positions,
        ax=ax,
        labels={n: _label(n, d, show_shapes, numbers) for n, d in digraph.nodes(data=True)},
        node_color=[COLOURS.get(d["kind"], COLOURS["operation"])
                    for _, d in drawn.nodes(data=True)],
        node_size=2200,
        node_shape="o",
        font_size=8,
        edge_color="#c0392b" if backward else "#555555",
        arrowsize=14,
    )
    handles = [plt.Line2D([], [], marker="o", linestyle="", markersize=9, color=colour,
                          label=kind) for kind, colour in COLOURS.items()
               if any(d["kind"] == kind for _, d in digraph.nodes(data=True))]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02),
              ncol=len(handles), frameon=False, fontsize=8)
    ax.set_title(title or ("backward pass: gradients flow right to left" if backward else ""))
    ax.axis("off")
    ax.margins(0.12)
    return ax
