"""The node: one vertex of a static computational graph.

A node links itself to its inputs when it is built, so building an expression builds the graph.
After a forward pass ``node.value`` holds its output; after a backward pass
``node.gradients[x]`` holds ∂loss/∂x for each input ``x`` that needs a gradient.
"""

from __future__ import annotations

import itertools
import reprlib

import numpy as np

_ids = itertools.count()


def as_float_array(value, node: Node) -> np.ndarray:
    """Return ``value`` as a float64 ndarray, or raise an error that names ``node``.

    Every value in the framework is float64: data fed as float32 (or ints, or bools) is
    converted once, here, so values and gradients never mix precisions. And a plain ndarray:
    an ``np.matrix`` would turn ``*`` into a matrix product, so it becomes an ndarray, and a
    masked array is refused, since its mask would be dropped or would drop entries.
    """
    if type(value) is np.ndarray and value.dtype.type is np.float64:
        return value
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{node!r} was given a masked array; fill or drop the masked entries "
                        "first, e.g. np.ma.filled(values, 0.0) or values.compressed()")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{node!r} was given data that is not numeric: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{node!r} was given data of dtype {array.dtype} ({type(value).__name__}); "
            "expected numbers (ints or floats)"
        )
    return array.astype(np.float64)


class Node:
    """A vertex of the graph: it knows its inputs, its outputs, its value and its gradients.

    Subclasses implement ``forward`` (compute ``self.value`` from the inputs' values) and
    ``backward`` (fill ``self.gradients`` from the gradient that flows back from the outputs).
    """

    # The attributes every node has live in fixed slots rather than in a per-node dictionary:
    # a node takes less memory, and a graph of a million nodes sorts faster. (``__dict__``
    # stays, so each op can keep what its backward needs, such as ``self.diff``.)
    __slots__ = ("inputs", "outputs", "id", "name", "_is_trainable", "value", "gradients",
                 "forward_pass", "backward_pass", "needs_gradient", "_found_by", "_inputs_left",
                 "__dict__", "__weakref__")
    kind = "operation"  # used by drawings: data, parameter, constant, operation or loss
    trainability_changes = 0  # how often any node was frozen or unfrozen: see is_trainable
    __array_ufunc__ = None  # makes `array + node` call Node.__radd__ instead of NumPy looping

    def __init__(self, inputs=None, name=None, is_trainable=False):
        if isinstance(inputs, Node):
            raise TypeError(f"inputs must be a list of nodes, e.g. [{inputs.name}], not one node")
        self.inputs: list[Node] = list(inputs or [])
        self.outputs: list[Node] = []
        self.id = next(_ids)
        self.name = name if name is not None else f"{type(self).__name__}_{self.id}"
        self._is_trainable = is_trainable
        self.value: np.ndarray | None = None
        self.gradients: dict[Node, np.ndarray] = {}
        # The number of the forward pass that last computed ``value``: backward uses values of
        # one forward pass only, the one that computed the loss.
        self.forward_pass = None
        # The backward pass that last filled ``gradients`` (a ``passes.BackwardPass``: its
        # number, graph and loss): a node reads only what outputs of the same pass sent, never
        # what another graph left behind, and an optimizer steps a graph only with gradients of
        # that graph's own last pass.
        self.backward_pass = None
        # Does a trainable node lie upstream, so that backward must reach this node? Set here
        # from the inputs, for the nodes downstream when a node is made trainable, and redone
        # exactly by each topological_sort (a node frozen since keeps a mark that costs only
        # a gradient nobody uses).
        self.needs_gradient = is_trainable
        # Scratch space of topological_sort: which sort found this node last, and how many of
        # its inputs that sort has still to place.
        self._found_by = None
        self._inputs_left = 0
        for node in self.inputs:  # all checked before any link, so a refused node leaves no trace
            if not isinstance(node, Node):
                raise TypeError(f"{self!r}: every input must be a Node, got {type(node).__name__}")
            if node.needs_gradient:
                self.needs_gradient = True
        for i, node in enumerate(self.inputs):
            # `a * a` links once; the op sums both partials. (Looking among the inputs, not in
            # node.outputs, keeps building a node with a million outputs linear.)
            if node not in self.inputs[:i]:
                node.outputs.append(self)

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"

    @property
    def is_trainable(self) -> bool:
        """Whether optimizers update this node (a parameter) or leave it as it is."""
        return self._is_trainable

    @is_trainable.setter
    def is_trainable(self, trainable: bool):
        """Made trainable after a sort (unfrozen), a node and everything computed from it need
        a gradient from now on, as the next sort would mark them; without the marks, backward
        would give it a gradient of zero. Frozen, it keeps its marks until the next sort:
        backward then computes a gradient that optimizers leave unused. Either way, sorted
        orders look for their trainable nodes again (see ``optimizers.trainables``)."""
        self._is_trainable = trainable
        Node.trainability_changes += 1
        frontier = [self] if trainable else []
        while frontier:
            node = frontier.pop()
            if not node.needs_gradient:
                node.needs_gradient = True
                frontier.extend(node.outputs)

    def forward(self):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self):
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def upstream_gradient(self) -> np.ndarray:
        """∂loss/∂self: the sum of what every output sent back (a node used twice adds both).

        Only outputs visited by the same backward pass count: an output that belongs to
        another graph (a parameter shared by two graphs) still holds gradients of an older
        pass, toward another loss. The backward pass only calls this on nodes that lead to
        the loss; the one such node that no output sent anything to is the loss itself,
        whose gradient is ∂loss/∂loss = 1.
        """
        total, this_pass = None, self.backward_pass
        for output in self.outputs:
            if output.backward_pass is this_pass:
                grad = output.gradients.get(self)
                if grad is not None:
                    total = grad if total is None else total + grad
        if total is not None:
            return total
        # Shaped like the loss; a NumPy scalar when the loss is a number (a mean is one),
        # because later steps multiply a scalar faster than a 0-d array.
        return np.ones_like(self.value) if isinstance(self.value, np.ndarray) else np.float64(1.0)

    def send_gradient(self, node: Node, grad: np.ndarray):
        """Record ∂loss/∂node; a node that is several inputs of this one gets the sum."""
        gradients = self.gradients
        if node in gradients:
            grad = gradients[node] + grad
        gradients[node] = grad

    # The operators (a + b, a / 2, a[i], a.sum(), a.T...) are attached in operators.py.


class Placeholder(Node):
    """A node whose value is fed from outside: data (``is_trainable=False``) or a parameter."""

    # The value that forward last checked: a value fed after it was not used by the values
    # computed since, so backward refuses to mix the two. And the value that backward last
    # computed a gradient at: optimizers refuse to step from a gradient of another value.
    __slots__ = ("forward_value", "backward_value")

    def __init__(self, name=None, is_trainable=True):
        super().__init__(name=name, is_trainable=is_trainable)
        self.forward_value = self.backward_value = None

    @property
    def kind(self):
        return "parameter" if self.is_trainable else "data"

    def forward(self):
        """Check the fed value and make it float64; a float64 array passes straight through."""
        value = self.value
        if not (type(value) is np.ndarray and value.dtype.type is np.float64):
            if value is None:
                raise ValueError(
                    f"{self!r} has no value: feed it, e.g. topological_sort({{{self.name}: array}})"
                )
            self.value = value = as_float_array(value, self)
        self.forward_value = value

    def backward(self):
        self.gradients[self] = self.upstream_gradient()
        self.backward_value = self.value


class Input(Placeholder):
    """A data placeholder: fed every step, never trained."""

    def __init__(self, name=None):
        super().__init__(name=name, is_trainable=False)


class Parameter(Placeholder):
    """A trainable placeholder: a weight or a bias."""

    def __init__(self, name=None):
        super().__init__(name=name, is_trainable=True)


class Constant(Placeholder):
    """A fixed value, made when a plain number or array meets a node in an operator.

    Unnamed, it is called by its value (``2 * a`` draws a node "2") or by its shape.
    """

    kind = "constant"

    def __init__(self, value, name=None):
        super().__init__(name=name, is_trainable=False)
        array = as_float_array(value, self)  # checked once, here
        # A copy of the caller's own array: changed in place later, it would change the graph.
        self.value = self.forward_value = array.copy() if array is value else array
        if name is None:
            self.name = f"{self.value:g}" if self.value.ndim == 0 else f"constant{self.value.shape}"


_SHORT = reprlib.Repr()
_SHORT.maxother = 60


def stray_link(node: Node, links: str, item) -> TypeError:
    """The error for a non-node found in ``node.inputs`` or ``node.outputs`` (``links``): put
    there after the node was built, since building checks every input."""
    shown = _SHORT.repr(item)  # a large array is shown by its start
    return TypeError(
        f"{node!r}.{links} holds {shown} (of type {type(item).__name__}), which is not a Node: "
        f"{links} hold nodes only, linked when a node is built; build the node again rather "
        f"than editing its {links}"
    )


def require_links_are_nodes(nodes):
    """Raise ``stray_link`` for the first non-node among the inputs or outputs of ``nodes``
    (for an error's cause: the sort calls it once something failed)."""
    for node in nodes:
        if isinstance(node, Node):
            for links in ("inputs", "outputs"):
                for item in getattr(node, links):
                    if not isinstance(item, Node):
                        raise stray_link(node, links, item)


def require_graph(graph):
    """Refuse anything but a list or tuple as a graph: a node passed instead of its graph, or
    a generator, which one look through would use up (a forward pass would then compute
    nothing, and the loss would stay as it was)."""
    if isinstance(graph, (list, tuple)):
        return
    if hasattr(graph, "inputs"):
        raise TypeError(f"expected a graph, the list of nodes that topological_sort returns; "
                        f"got the node {graph!r} itself")
    got = "None" if graph is None else f"a {type(graph).__name__}"
    raise TypeError(f"a graph is a list of nodes, as topological_sort returns; got {got}")


def require_nodes(nodes):
    """Refuse a graph that is not a list of nodes, naming the first stranger."""
    require_graph(nodes)
    for node in nodes:
        if not isinstance(node, Node):
            raise TypeError(f"a graph holds nodes only; got {node!r} ({type(node).__name__})")


def as_node(value) -> Node:
    """Wrap a plain number or array in a Constant; leave nodes alone."""
    return value if isinstance(value, Node) else Constant(value)
