"""Drawing the graph with networkx and matplotlib, in one look for the whole course.

Layers by topological generation (inputs on the left, the loss on the right), one colour per
kind of node, and labels with the node's name and, once values exist, its shape. On request the
labels show each node's value, the gradient of the loss with respect to it, or both, and one
node can be highlighted, for pictures of the backward pass step by step.
"""

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from matplotlib.axes import Axes

from .node import Node, Placeholder, require_graph

COLOURS = {
    "data": "#9ecae1",
    "parameter": "#fdae6b",
    "constant": "#d9d9d9",
    "operation": "#a1d99b",
    "loss": "#fb6a4a",
}
SHOWABLE = ("value", "grad")
NO_NUMBER = "—"
HIGHLIGHT = "#222222"  # the outline of the highlighted node
STALE_NOTE = "grad (stale): computed from earlier values than those shown; run backward again"


def summarize(x) -> str:
    """A short text for a number or an array, at 3 significant digits.

    A single number (a NumPy scalar or any size-1 array) is printed as it is: ``0.731``. A larger
    array gives its shape, ``(64, 10)``, then on a second line its mean and its largest
    magnitude, ``mean 0.0123 |max| 1.3``. ``None`` (nothing computed yet) gives a dash.
    """
    if x is None:
        return NO_NUMBER
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":  # a teaching node may hold anything
        return str(x)[:20]
    if array.size == 1:
        return f"{array.item():.3g}"
    if array.size == 0:
        return f"{array.shape} empty"
    return f"{array.shape}\nmean {array.mean():.3g} |max| {np.abs(array).max():.3g}"


def gradient_of(node, members) -> np.ndarray | None:
    """∂loss/∂node as the backward pass stored it, or ``None`` if it stored none.

    A trainable placeholder keeps its own in ``node.gradients[node]``; any other node's is the
    sum of what its outputs among ``members`` (the graph's nodes) sent it. The loss has no
    output to send it anything, but once its own backward has run (its ``gradients`` are filled)
    its gradient is ∂loss/∂loss = 1. Works on teaching nodes without ``gradients``/``outputs``.
    """
    own = getattr(node, "gradients", None) or {}
    if node in own:
        return own[node]
    sent = [output.gradients[node] for output in getattr(node, "outputs", ())
            if output in members and node in (getattr(output, "gradients", None) or {})]
    if sent:
        total = sent[0]
        for grad in sent[1:]:
            total = total + grad
        return total
    if own:  # its backward ran, yet no output sent anything: it is the loss
        return np.ones_like(np.asarray(node.value, dtype=float))
    return None


def is_stale(node) -> bool:
    """Was the node's gradient computed from other values than the one it holds now?

    The backward pass that filled its gradients used the values of one forward pass
    (``BackwardPass.forward_pass``). Since then the node may have been computed again (a new
    forward pass: its ``forward_pass`` moved), been fed a new value (a placeholder whose
    value is no longer the one its forward pass checked), or been stepped by an optimizer
    (no longer the value backward computed its gradient at). The same test as the passes'
    own: ``backward`` refuses values of two forward passes, an optimizer a moved parameter.
    A teaching node, or gradients that no backward pass recorded, are taken as they are.
    """
    made_by = getattr(node, "backward_pass", None)
    if made_by is None or not hasattr(made_by, "forward_pass"):
        return False
    if node.forward_pass != made_by.forward_pass:
        return True
    if isinstance(node, Placeholder):
        fed_since = node.forward_value is not None and node.value is not node.forward_value
        stepped = node.backward_value is not None and node.value is not node.backward_value
        return fed_since or stepped
    return False


def to_networkx(graph: list[Node]) -> nx.DiGraph:
    """A ``networkx.DiGraph`` with an edge from every input to the node that uses it.

    Nodes are the ``Node`` objects themselves, with attributes ``name``, ``kind``, ``shape``
    (``None`` before a forward pass), ``order`` (the position in ``graph``), ``value`` (the
    node's value, ``None`` before a forward pass), ``grad`` (∂loss/∂node as the last backward
    pass stored it, see ``gradient_of``; ``None`` if it stored none) and ``grad_stale``
    (``True`` when that gradient was computed from other values than ``value``: a forward
    pass, a new feed or an optimizer step came since, see ``is_stale``; ``False`` without a
    gradient). Any object with ``name``, ``inputs`` and ``value`` will do, so the notebooks can
    draw their teaching nodes; one without a ``kind``, or with one not in ``COLOURS``, is drawn
    as an operation.
    """
    require_graph(graph)
    for node in graph:  # a Node, or a notebook's teaching node: anything with these three
        if not all(hasattr(node, attribute) for attribute in ("name", "inputs", "value")):
            raise TypeError(f"a graph to draw holds nodes (with a name, inputs and a value); "
                            f"got {node!r} ({type(node).__name__})")
    digraph = nx.DiGraph()
    members = set(graph)
    for order, node in enumerate(graph):
        shape = None if node.value is None else np.shape(node.value)
        kind = getattr(node, "kind", "operation")
        grad = gradient_of(node, members)
        digraph.add_node(node, name=node.name, kind=kind, shape=shape, order=order,
                         value=node.value, grad=grad,
                         grad_stale=grad is not None and is_stale(node))
    for node in graph:
        digraph.add_edges_from((i, node) for i in node.inputs if i in members)
    return digraph


def _parse_show(show) -> tuple[str, ...]:
    """``show`` as a tuple of "value"/"grad"; ``None`` gives ``()``. Refuse anything else."""
    if show is None:
        return ()
    items = (show,) if isinstance(show, str) else show
    try:
        items = tuple(dict.fromkeys(items))
    except TypeError:  # not iterable, or holds something unhashable
        items = ()
    if not items or any(item not in SHOWABLE for item in items):
        raise ValueError(
            f"show must be None, 'value', 'grad' or ('value', 'grad'); got {show!r}"
        )
    return items


def _label(node, data, show_shapes, numbers, show=()):
    """Name (numbered if ``numbers``), then its shape, or else one line per item of ``show``."""
    label = data["name"]
    if numbers is not None:
        label = f"{numbers[node]}. {label}"
    if show:  # each summary of an array starts with its shape already
        return "\n".join([label, *(f"{_heading(item, data)} {summarize(data[item])}"
                                   for item in show)])
    if show_shapes and data["shape"] is not None:
        label += f"\n{data['shape']}"
    return label


def _heading(item, data) -> str:
    """"value", "grad", or "grad (stale)" for a gradient computed from other values than the
    node holds now: never shown beside them as if it belonged to them."""
    return f"{item} (stale)" if item == "grad" and data["grad_stale"] else item


def _layers(digraph):
    """Topological generations, each kept in the graph's order from top to bottom (networkx
    groups a generation in a set, whose order changes from run to run)."""
    try:
        generations = list(nx.topological_generations(digraph))
    except nx.NetworkXUnfeasible:  # links made by hand: name the loop, as the sort does
        cycle = [source for source, _ in nx.find_cycle(digraph)]
        names = " -> ".join(digraph.nodes[n]["name"] for n in [*cycle, cycle[0]])
        raise ValueError(f"the graph has a cycle, so it cannot be drawn in layers: "
                         f"{names}") from None
    return {
        layer: sorted(nodes, key=lambda n: -digraph.nodes[n]["order"])
        for layer, nodes in enumerate(generations)
    }


def _new_axes(layers, lines):
    """Axes on a new figure, wide enough for every layer and tall enough that the labels (of
    ``lines`` lines each) in the fullest layer do not overlap."""
    tallest = max(len(nodes) for nodes in layers.values())
    width = (1.9 if lines <= 2 else 2.4) * len(layers)
    height = (0.8 if lines <= 2 else 0.2 * lines + 0.4) * tallest + 1
    _, ax = plt.subplots(figsize=(max(4.0, width), max(3.5, height)))
    return ax


def _sizes(ax, layers, labels):
    """Node size (area, in points²) and font size (points) that fit ``labels`` into ``ax``.

    The usual 2200 and 8 on a figure of its own; smaller in a small cell of a grid, so that
    circles and labels do not run into their neighbours (the font no smaller than 5).
    """
    box = ax.get_position()
    width, height = ax.figure.get_size_inches() * 72 * (box.width, box.height)
    column = width / len(layers)
    row = height / max(len(nodes) for nodes in layers.values())
    lines = [line for label in labels.values() for line in label.split("\n")]
    most_lines = max(label.count("\n") + 1 for label in labels.values())
    font = min(8.0, column / (0.6 * max(map(len, lines))), row / (1.3 * most_lines))
    diameter = min(47.0, 0.8 * column, 0.8 * row)
    return diameter**2, max(5.0, font)


def _fill(data) -> str:
    """The colour of a node's kind; an unknown kind is drawn as an operation."""
    return COLOURS.get(data["kind"], COLOURS["operation"])


def _outlines(drawn, highlight):
    """Outline colours and widths: a thick dark ring around ``highlight``, none elsewhere."""
    colours, widths = [], []
    for node, data in drawn.nodes(data=True):
        colours.append(HIGHLIGHT if node is highlight else _fill(data))
        widths.append(2.5 if node is highlight else 1.0)
    return colours, widths


def _spills(label, font_size, node_size):
    """Is ``label`` (roughly) much wider than its node's circle? A little overhang reads fine."""
    widest = max(len(line) for line in label.split("\n"))
    return 0.55 * font_size * widest > 1.3 * node_size**0.5


def _draw_labels(drawn, positions, ax, labels, font_size, node_size, highlight):
    """Draw the labels; one wider than its circle sits on a patch of the node's colour, so it
    stays readable over the edges (outlined like the circle for ``highlight``)."""
    for node, data in drawn.nodes(data=True):
        bbox = None
        if _spills(labels[node], font_size, node_size):
            bbox = {"boxstyle": "round,pad=0.15", "linewidth": 2,
                    "facecolor": _fill(data),
                    "edgecolor": HIGHLIGHT if node is highlight else "none"}
        nx.draw_networkx_labels(drawn, positions, ax=ax, labels={node: labels[node]},
                                font_size=font_size, bbox=bbox)


def draw_graph(graph: list[Node], ax=None, show_shapes=True, show_order=False, backward=False,
               title=None, show=None, highlight=None):
    """Draw ``graph`` left to right in layers; return the matplotlib axes.

    ``ax`` draws on axes you already have (one cell of a grid of subplots, say) instead of a
    new figure. ``show_order`` numbers the nodes in the order the forward pass runs them.
    ``backward`` draws the backward pass instead: arrows point from each node to its inputs,
    the way the gradients flow, and the numbers (if shown) count in reverse order.

    ``show`` picks what the labels say under each name: ``None`` (the default) its shape, if
    ``show_shapes`` and once it has a value; ``"value"`` its value; ``"grad"`` the gradient of
    the loss with respect to it, as the backward pass stored it (``gradient_of``); or
    ``("value", "grad")`` both. A number is printed to 3 significant digits, an array as its
    shape, mean and largest magnitude (see ``summarize``), and a missing one as "—". A
    gradient computed from other values than the ones the node holds now (a forward pass, a
    new feed or an optimizer step came after the backward pass) is labelled "grad (stale)",
    and the legend says what that means.

    ``highlight`` is one node of ``graph`` to draw with a thick dark outline: the node whose
    backward step a frame shows, say. To draw the backward pass frame by frame, set every
    node's ``gradients`` to ``{}``, then call ``node.backward()`` in reverse order on each node
    that leads to the loss and ``needs_gradient``, and after each call draw it with ``show="grad",
    highlight=node, ax=`` the next cell of a grid: the gradients known so far, "—" for the rest
    (after ``forward`` and ``backward`` over the values drawn: a gradient is marked stale by
    the backward pass it was last recorded with). Node and font sizes shrink to fit small
    axes; arrays need about 2 inches per layer.
    """
    require_graph(graph)
    if not graph:
        raise ValueError("draw_graph got an empty graph; sort one with topological_sort first")
    if ax is not None and not isinstance(ax, Axes):
        shape = f" of shape {ax.shape}" if isinstance(ax, np.ndarray) else ""
        raise TypeError(f"ax must be one matplotlib Axes, e.g. axes[0] of plt.subplots(1, 2); "
                        f"got {type(ax).__name__}{shape}")
    show = _parse_show(show)
    if highlight is not None and highlight not in graph:
        raise ValueError(f"highlight must be a node of the graph; got {highlight!r}")
    digraph = to_networkx(graph)
    layers = _layers(digraph)
    positions = nx.multipartite_layout(digraph, subset_key=layers)
    numbers = None
    if show_order:
        count = len(graph)
        numbers = {n: (count - d["order"] if backward else d["order"] + 1)
                   for n, d in digraph.nodes(data=True)}
    labels = {n: _label(n, d, show_shapes, numbers, show) for n, d in digraph.nodes(data=True)}
    if ax is None:
        ax = _new_axes(layers, lines=max(label.count("\n") + 1 for label in labels.values()))
    node_size, font_size = _sizes(ax, layers, labels)
    drawn = digraph.reverse() if backward else digraph
    outline_colours, outline_widths = _outlines(drawn, highlight)
    nx.draw_networkx(
        drawn,
        pos=positions,
        ax=ax,
        with_labels=False,
        node_color=[_fill(d) for _, d in drawn.nodes(data=True)],
        edgecolors=outline_colours,
        linewidths=outline_widths,
        node_size=node_size,
        node_shape="o",
        edge_color="#c0392b" if backward else "#555555",
        arrowsize=14,
    )
    _draw_labels(drawn, positions, ax, labels, font_size, node_size, highlight)
    handles = [plt.Line2D([], [], marker="o", linestyle="", markersize=9, color=colour,
                          label=kind) for kind, colour in COLOURS.items()
               if any(d["kind"] == kind for _, d in digraph.nodes(data=True))]
    stale = "grad" in show and any(d["grad_stale"] for _, d in digraph.nodes(data=True))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02),
              ncol=len(handles), frameon=False, fontsize=8,
              title=STALE_NOTE if stale else None, title_fontsize=8)
    ax.set_title(title or ("backward pass: gradients flow right to left" if backward else ""))
    ax.axis("off")
    ax.margins(0.12)
    return ax
