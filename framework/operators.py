"""Every operator and method that builds a node, in one table.

``a / 2`` calls ``Node.__truediv__``, which builds ``Divide(a, Constant(2))``: writing an
expression builds its graph. The ops live in their own modules, which import ``node.py``;
so ``node.py`` cannot import them, and this module, imported by the package, attaches the
methods to ``Node`` instead. A plain number or array on either side becomes a Constant
(``as_node``); a reflected method (``__radd__``...) runs for ``2 + a`` and for
``np.ones(3) + a`` (``Node.__array_ufunc__ = None`` stops NumPy from looping over the node).
"""

from .arithmetic import Add, Divide, MatMul, Multiply, Negate, Power, Subtract
from .indexing import Index
from .node import Node, as_node
from .reductions import Mean, Sum
from .shapes import Reshape, Transpose


def _power(a, exponent, modulo=None):
    if modulo is not None:
        raise TypeError(f"pow({a!r}, {exponent!r}, {modulo!r}): nodes have no modular power")
    return Power(a, exponent)


def _power_of_a_number(a, base):
    raise TypeError(
        f"{base!r} ** {a!r}: a node as the exponent is not supported; "
        f"write fw.exp({a.name} * np.log({base!r})) instead"
    )


def _reshape(a, *shape):
    return Reshape(a, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)


def _transpose(a, *axes):
    """As NumPy takes them: none, one tuple (or None), or the axes one by one."""
    if len(axes) == 1 and not isinstance(axes[0], int):
        return Transpose(a, axes[0])
    return Transpose(a, axes or None)


OPERATORS = [
    # Node method      written as                        builds
    ("__add__",       "a + b",                          lambda a, b: Add(a, as_node(b))),
    ("__radd__",      "2 + a",                          lambda a, b: Add(as_node(b), a)),
    ("__sub__",       "a - b",                          lambda a, b: Subtract(a, as_node(b))),
    ("__rsub__",      "2 - a",                          lambda a, b: Subtract(as_node(b), a)),
    ("__mul__",       "a * b",                          lambda a, b: Multiply(a, as_node(b))),
    ("__rmul__",      "2 * a",                          lambda a, b: Multiply(as_node(b), a)),
    ("__truediv__",   "a / b",                          lambda a, b: Divide(a, as_node(b))),
    ("__rtruediv__",  "2 / a",                          lambda a, b: Divide(as_node(b), a)),
    ("__matmul__",    "a @ b",                          lambda a, b: MatMul(a, as_node(b))),
    ("__rmatmul__",   "M @ a",                          lambda a, b: MatMul(as_node(b), a)),
    ("__pow__",       "a ** 2 (a number exponent)",     _power),
    ("__rpow__",      "2 ** a (refused)",               _power_of_a_number),
    ("__neg__",       "-a",                             lambda a: Negate(a)),
    ("__getitem__",   "a[index]",                       lambda a, index: Index(a, index)),
    ("sum",           "a.sum(axis=None, keepdims=False)",
     lambda a, axis=None, keepdims=False: Sum(a, axis, keepdims)),
    ("mean",          "a.mean(axis=None, keepdims=False)",
     lambda a, axis=None, keepdims=False: Mean(a, axis, keepdims)),
    ("reshape",       "a.reshape(2, -1) or a.reshape((2, -1))", _reshape),
    ("transpose",     "a.transpose(1, 0) or a.transpose((1, 0))", _transpose),
    ("T",             "a.T (all axes reversed)",        property(lambda a: Transpose(a))),
]


def _attach():
    for name, written_as, build in OPERATORS:
        if isinstance(build, property):
            build = property(build.fget, doc=f"``{written_as}``")
        else:
            build.__name__, build.__qualname__ = name, f"Node.{name}"
            build.__doc__ = f"``{written_as}``: builds a node."
        setattr(Node, name, build)
    # A node has __getitem__ but is not a sequence: without this, list(a) or `x in a` would
    # call a[0], a[1], ... and build nodes forever. Now they raise TypeError at once.
    Node.__iter__ = None
    Node.__contains__ = None


_attach()
