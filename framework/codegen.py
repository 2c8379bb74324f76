"""How each op of the package is compiled: the lines of code it puts into a compiled step.

``compiler.py`` walks a sorted graph once and writes one Python function that runs the forward
pass, the backward pass and the optimizer's update (see its docstring). What it writes for each
op comes from a template here: ``TEMPLATES[Linear]`` says that a Linear node computes
``np.matmul(x, W, out=linear1); linear1 += b`` and sends ``np.matmul(d_linear1, W.T, ...)``
back to x. Every template does the arithmetic of its op's own ``forward`` and ``backward``,
operation for operation in the same order, so a compiled step gives the same numbers; it only
writes into arrays made once per batch shape (``out=``) instead of making new ones every step.

A template has four parts:

- ``value``: what the node's variable is. "buffer": an array of the node's shape that the
  compiler makes once per batch shape, and ``forward`` writes into (``out=linear1``); "plan":
  an array ``plan`` makes (a view of another array, say); "expr": ``forward`` binds the name
  itself each step (a view, a number, or a new array as the op's own forward makes).
- ``plan(p)``: the arrays and numbers that depend on the shapes (scratch arrays, views, axes),
  made once per batch shape; ``p`` tells the shapes of the node's inputs and its own.
- ``forward(c)``: the lines that compute the node's value from its inputs' variables.
- ``backward(c)``: for each input that needs a gradient, what the node sends it: ``View(expr)``
  (a view of something computed already, such as the gradient itself, reshaped) or
  ``Into(write)``, where ``write(out)`` gives the lines that write it into the array ``out``
  (``IntoSlice``, for readers that each read a slice of their input, writes only its slice).
  The compiler decides where ``out`` is: the input's own gradient, a slice of the flat array
  of all the parameters' gradients, or a scratch array when the input has several outputs
  whose gradients are added.

The names: ``c.x[i]`` is the variable of input i, ``c.out`` the node's, ``c.G`` the gradient
that flows into the node (``1.0`` for a loss), ``c.own("e")`` a name of the node's plan
(``sigmoid1_e``), ``c.ref`` the node itself (``sigmoid1_node``), for its settings and errors.

The functions below the templates (``dropout_mask``, ``batchnorm_forward``...) are called by
the compiled code for the ops whose arithmetic is longer than a few lines.
"""

from __future__ import annotations

import math

import numpy as np

from .activations import ReLU, Sigmoid, Tanh
from .affine import Affine
from .arithmetic import Add, Divide, MatMul, Multiply, Negate, Power, Subtract, sum_to_shape
from .attention import CausalMask, Heads, MergeHeads
from .convolution import Conv2d, flat_filters, windows
from .dropout import Dropout, check_probability
from .embedding import Lookup
from .exponentials import Exp, Log
from .indexing import Index
from .joining import Concatenate, Stack
from .layer_norm import LayerNormalization
from .linear import Linear
from .losses import MSE, SoftmaxCrossEntropy
from .node import as_float_array
from .normalization import BatchNorm
from .pooling import MaxPool2d
from .recurrent import LSTMStep, RNNStep, SequenceInput, StatePart, _blocks
from .reductions import Mean, Sum
from .shapes import Flatten, Reshape, Transpose
from .softmax import LogSoftmax, Softmax


class View:
    """A gradient sent as an expression that computes nothing much (a view, a reshape);
    ``lines`` run first."""

    def __init__(self, expr: str, lines=()):
        self.expr, self.lines = expr, list(lines)


class Into:
    """A gradient written by ``write(out)``, the lines that put it into the array ``out``."""

    def __init__(self, write):
        self.write = write


class IntoSlice(Into):
    """A gradient toward one slice of an input whose readers each read a slice of their own
    (the steps of a recurrent layer, reading their input term): the compiler gives them all
    the input's gradient itself, zeros where no reader writes, as ``Affine.gather`` does, and
    adds nothing; ``write(out)`` fills the reader's slice of ``out`` (or nothing, if the
    template's plan made its scratch array that slice, so the backward writes it in place)."""


class Op:
    """A template: how one op compiles. See the module's docstring."""

    value = "buffer"
    scalar = False  # the value is a single number (a loss): its gradient is 1.0
    sends_to = None  # the input slots that can receive a gradient (None: all of them)
    gathers = None  # the slot whose input it sends an IntoSlice (see IntoSlice)
    made_in_code = ()  # names of c.own that the code binds (not made by plan)

    def receivers(self, node):
        """The input slots of ``node`` that can receive a gradient (None: all of them)."""
        return self.sends_to

    def plan(self, p) -> dict:
        return {}

    def forward(self, c) -> list[str]:
        raise NotImplementedError

    def backward(self, c) -> tuple[list[str], dict]:
        """(lines that every gradient needs, {slot: View or Into}) for the slots in c.needs."""
        raise NotImplementedError

    def infer(self, node, values, sandbox):
        """The shape of the node's value for inputs of these values (zeros of the right
        shapes): by default the node's own forward, run in a sandbox, so that a shape that does
        not fit raises the node's own error."""
        return sandbox(node, values)


# Element-wise ops with broadcasting. The gradient toward an input that was broadcast is summed
# over the axes it was stretched along (sum_to_shape); the plan finds those axes for the batch
# shape. ``{out}_t{i}`` is where the gradient of full shape is computed: the target itself when
# no axis is summed, else a scratch array, summed into ``{out}_kept{i}``, the target reshaped.


def reduced_axes(in_shape: tuple, out_shape: tuple) -> tuple:
    """The axes that ``sum_to_shape`` sums a gradient of ``out_shape`` over, for ``in_shape``."""
    if in_shape == out_shape:
        return ()
    extra = len(out_shape) - len(in_shape)
    stretched = tuple(i + extra for i, n in enumerate(in_shape)
                      if n == 1 and out_shape[i + extra] != 1)
    return tuple(range(extra)) + stretched


def _broadcast_plan(p, slots) -> dict:
    plan = {}
    for i in slots:
        shape = p.shapes[i]
        axes = reduced_axes(shape, p.out_shape)
        target = p.target(i)
        plan[f"axes{i}"] = axes
        plan[f"kept{i}"] = target.reshape((1,) * (len(p.out_shape) - len(shape)) + shape)
        plan[f"t{i}"] = np.empty(p.out_shape) if axes else target
    return plan


def _summed(c, i, lines):
    """``lines`` compute the full-shape gradient into ``{out}_t{i}``; then sum it down."""
    t, axes, kept = c.own(f"t{i}"), c.own(f"axes{i}"), c.own(f"kept{i}")
    return Into(lambda out: [*lines(t),
                             f"if {axes}: {t}.sum(axis={axes}, keepdims=True, out={kept})"])


class _Elementwise(Op):
    ufunc = ""

    def plan(self, p):
        return _broadcast_plan(p, p.needs)

    def forward(self, c):
        a, b = c.x
        return [f"np.{self.ufunc}({a}, {b}, out={c.out})"]


class AddOp(_Elementwise):
    ufunc = "add"

    def backward(self, c):
        # ∂/∂a = ∂/∂b = 1: the gradient, summed down to each input's shape
        sends = {}
        for i in c.needs:
            axes, kept = c.own(f"axes{i}"), c.own(f"kept{i}")
            sends[i] = Into(lambda out, axes=axes, kept=kept:
                            [f"{c.G}.sum(axis={axes}, keepdims=True, out={kept})"])
        return [], sends


class SubtractOp(_Elementwise):
    ufunc = "subtract"

    def backward(self, c):
        sends = {}
        if 0 in c.needs:
            axes, kept = c.own("axes0"), c.own("kept0")
            sends[0] = Into(lambda out: [f"{c.G}.sum(axis={axes}, keepdims=True, out={kept})"])
        if 1 in c.needs:  # ∂/∂b = -1
            sends[1] = _summed(c, 1, lambda t: [f"np.negative({c.G}, out={t})"])
        return [], sends


class MultiplyOp(_Elementwise):
    ufunc = "multiply"

    def backward(self, c):
        a, b = c.x
        sends = {}
        if 0 in c.needs:  # ∂/∂a = b
            sends[0] = _summed(c, 0, lambda t: [f"np.multiply({c.G}, {b}, out={t})"])
        if 1 in c.needs:  # ∂/∂b = a
            sends[1] = _summed(c, 1, lambda t: [f"np.multiply({c.G}, {a}, out={t})"])
        return [], sends


class DivideOp(_Elementwise):
    ufunc = "divide"

    def backward(self, c):
        a, b = c.x
        sends = {}
        if 0 in c.needs:  # ∂/∂a = 1 / b
            sends[0] = _summed(c, 0, lambda t: [f"np.divide({c.G}, {b}, out={t})"])
        if 1 in c.needs:  # ∂/∂b = -(a / b) / b
            sends[1] = _summed(c, 1, lambda t: [f"np.negative({c.G}, out={t})",
                                                 f"{t} *= {c.out}", f"{t} /= {b}"])
        return [], sends


class PowerOp(Op):
    value = "expr"

    def forward(self, c):
        return [f"{c.out} = {c.x[0]} ** {c.constant(c.node.exponent)}"]

    def backward(self, c):
        a, p = c.x[0], c.node.exponent
        if p != 0:  # ∂/∂a = p a^(p-1)
            local = f"{c.constant(p)} * {a} ** {c.constant(p - 1)}"
        else:
            local = f"np.zeros_like({a})"
        return [], {0: Into(lambda out: [f"np.multiply({c.G}, {local}, out={out})"])}


class MatMulOp(Op):
    """NumPy's matmul; the backward's matrix rule is written out for two matrices, and the
    general rule (vectors, stacks of matrices) is the op's own, in ``matmul_gradient``."""

    def plan(self, p):
        return {"2d": len(p.shapes[0]) == 2 and len(p.shapes[1]) == 2}

    def forward(self, c):
        a, b = c.x
        return [f"np.matmul({a}, {b}, out={c.out})"]

    def backward(self, c):
        a, b = c.x
        flag = c.own("2d")
        sends = {}
        if 0 in c.needs:  # ∂/∂A = G Bᵀ
            sends[0] = Into(lambda out: [
                f"if {flag}: np.matmul({c.G}, {b}.T, out={out})",
                f"else: np.copyto({out}, matmul_gradient({a}, {b}, {c.G}, 0))"])
        if 1 in c.needs:  # ∂/∂B = Aᵀ G
            sends[1] = Into(lambda out: [
                f"if {flag}: np.matmul({a}.T, {c.G}, out={out})",
                f"else: np.copyto({out}, matmul_gradient({a}, {b}, {c.G}, 1))"])
        return [], sends


def matmul_gradient(a, b, upstream, slot):
    """MatMul.backward's rule for any shapes (vectors as a row or a column, stacks of
    matrices broadcast): the gradient toward input ``slot``."""
    A = a[np.newaxis, :] if a.ndim == 1 else a
    B = b[:, np.newaxis] if b.ndim == 1 else b
    stacks = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    G = np.reshape(upstream, stacks + (A.shape[-2], B.shape[-1]))
    if slot == 0:
        return sum_to_shape(G @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape)
    return sum_to_shape(np.swapaxes(A, -1, -2) @ G, B.shape).reshape(b.shape)


class NegateOp(Op):
    def forward(self, c):
        return [f"np.negative({c.x[0]}, out={c.out})"]

    def backward(self, c):
        return [], {0: Into(lambda out: [f"np.negative({c.G}, out={out})"])}


class LinearOp(Op):
    def forward(self, c):
        x, w, b = c.x
        return [f"np.matmul({x}, {w}, out={c.out}); {c.out} += {b}"]

    def backward(self, c):
        x, w, b = c.x
        sends = {}
        if 0 in c.needs:  # ∂/∂x = G Wᵀ
            sends[0] = Into(lambda out: [f"np.matmul({c.G}, {w}.T, out={out})"])
        if 1 in c.needs:  # ∂/∂W = xᵀ G
            sends[1] = Into(lambda out: [f"np.matmul({x}.T, {c.G}, out={out})"])
        if 2 in c.needs:  # ∂/∂b = Σ_rows G
            sends[2] = Into(lambda out: [f"{c.G}.sum(axis=0, out={out})"])
        return [], sends


# Activations, the exponential and the logarithm: element-wise, no broadcasting.


class ReLUOp(Op):
    def forward(self, c):
        return [f"np.maximum({c.x[0]}, 0.0, out={c.out})"]

    def backward(self, c):  # relu'(x) = 1 where x > 0, else 0
        x = c.x[0]
        return [], {0: Into(lambda out: [f"np.greater({x}, 0, out={c.own('positive')})",
                                         f"np.multiply({c.G}, {c.own('positive')}, out={out})"])}

    def plan(self, p):
        return {"positive": np.empty(p.out_shape, dtype=bool)}


class SigmoidOp(Op):
    """e = e^{-|x|}; σ = 1 / (1 + e) for x ≥ 0 and e / (1 + e) below, the numerator picked as
    max(e, [x ≥ 0]) (e ≤ 1 always); σ' = e / (1 + e)²."""

    def plan(self, p):
        shape = p.out_shape
        return {"e": np.empty(shape), "1pe": np.empty(shape), "positive": np.empty(shape, bool)}

    def forward(self, c):
        x, e, one_plus_e, positive = c.x[0], c.own("e"), c.own("1pe"), c.own("positive")
        return [f"np.abs({x}, out={e}); np.negative({e}, out={e})",
                f"np.exp({e}, out={e})",
                f"np.add(1.0, {e}, out={one_plus_e})",
                f"np.greater_equal({x}, 0, out={positive})",
                f"np.maximum({e}, {positive}, out={c.out}); {c.out} /= {one_plus_e}"]

    def backward(self, c):
        e, one_plus_e = c.own("e"), c.own("1pe")
        return [], {0: Into(lambda out: [
            f"np.multiply({one_plus_e}, {one_plus_e}, out={out}); np.divide({e}, {out}, out={out})",
            f"np.multiply({out}, {c.G}, out={out})"])}


class TanhOp(Op):
    def forward(self, c):
        return [f"np.tanh({c.x[0]}, out={c.out})"]

    def backward(self, c):  # tanh' = 1 - tanh²
        return [], {0: Into(lambda out: [
            f"np.multiply({c.out}, {c.out}, out={out}); np.subtract(1.0, {out}, out={out})",
            f"np.multiply({c.G}, {out}, out={out})"])}


class ExpOp(Op):
    def forward(self, c):
        return [f"np.exp({c.x[0]}, out={c.out})"]

    def backward(self, c):  # ∂/∂x = eˣ, the value
        return [], {0: Into(lambda out: [f"np.multiply({c.G}, {c.out}, out={out})"])}


class LogOp(Op):
    def forward(self, c):
        return [f"np.log({c.x[0]}, out={c.out})"]

    def backward(self, c):  # ∂/∂x = 1 / x
        return [], {0: Into(lambda out: [f"np.divide({c.G}, {c.x[0]}, out={out})"])}


# Losses.


class MSEOp(Op):
    value = "expr"
    scalar = True

    def plan(self, p):
        return {"diff": np.empty(p.shapes[0]), "squared": np.empty(p.shapes[0])}

    def forward(self, c):
        prediction, target = c.x
        diff, squared = c.own("diff"), c.own("squared")
        reshaped = (f"np.reshape({target}, np.shape({prediction}))" if c.literal[1]
                    else f"{target}.reshape({prediction}.shape)")
        return [f"np.subtract({prediction}, {reshaped}, out={diff})",
                f"np.multiply({diff}, {diff}, out={squared})",
                f"{c.out} = {squared}.sum() / {squared}.size"]

    def backward(self, c):  # ∂L/∂ŷ = 2 (ŷ - y) / n
        diff = c.own("diff")
        scale = f"2.0 / {diff}.size" if c.G == "1.0" else f"{c.G} * (2.0 / {diff}.size)"
        sends = {}
        if 0 in c.needs:
            sends[0] = Into(lambda out: [f"np.multiply({diff}, {scale}, out={out})"])
        if 1 in c.needs:  # ∂L/∂y = -2 (ŷ - y) / n
            sends[1] = Into(lambda out: [
                f"np.negative(np.multiply({diff}, {scale}).reshape({out}.shape), out={out})"])
        return [], sends


class SoftmaxCrossEntropyOp(Op):
    """L = mean over rows of log Σ e^{z - max z} - (z - max z)[label]; the labels are checked
    to be class ids every step (``class_ids``)."""

    value = "expr"
    scalar = True
    sends_to = (0,)  # labels get no gradient
    made_in_code = ("classes",)

    def plan(self, p):
        batch, classes = p.shapes[0]
        total = np.empty((batch, 1))
        return {"max": np.empty((batch, 1)), "shifted": np.empty((batch, classes)),
                "exp": np.empty((batch, classes)), "total": total, "total0": total[:, 0],
                "log": np.empty(batch), "rows": np.arange(batch)}

    def forward(self, c):
        z, labels = c.x
        n = c.own
        return [f"{n('classes')} = class_ids({c.ref}, {labels}, {z}.shape[1])",
                f"{z}.max(axis=1, keepdims=True, out={n('max')})",
                f"np.subtract({z}, {n('max')}, out={n('shifted')})",
                f"np.exp({n('shifted')}, out={n('exp')})",
                f"{n('exp')}.sum(axis=1, keepdims=True, out={n('total')})",
                f"np.log({n('total0')}, out={n('log')})",
                f"{n('log')} -= {n('shifted')}[{n('rows')}, {n('classes')}]",
                f"{c.out} = {n('log')}.sum() / len({z})"]

    def backward(self, c):  # ∂L/∂z = (softmax(z) - onehot(labels)) / batch
        n = c.own
        return [], {0: Into(lambda out: [
            f"np.divide({n('exp')}, {n('total')}, out={out})",
            f"{out}[{n('rows')}, {n('classes')}] -= 1.0",
            f"np.multiply({out}, {c.G} / len({n('classes')}), out={out})"])}



# Reductions and shapes.


def class_ids(node, labels, classes):
    """The labels as class ids, checked as SoftmaxCrossEntropy checks them. Integer labels
    (fed as they are when only a cross-entropy reads them: see ``as_labels``) need only a check
    of their range; any other labels, and integers out of range, go through the node's own
    ``_class_ids``, as floats, which names the bad ones as the interpreted pass would."""
    if labels.size and labels.dtype.kind in "iu":
        # One reduction checks both ends: a negative int read as unsigned is larger than any
        # class id.
        unsigned = labels.view(f"u{labels.itemsize}") if labels.dtype.kind == "i" else labels
        if unsigned.max() < classes:
            return labels
    return node._class_ids(labels.astype(np.float64, copy=False), classes)


def as_labels(value, node):
    """A batch of labels as fed: an array of integers as it is (their class ids are the same
    numbers as the floats the node would see), anything else made float64 as every fed value."""
    if type(value) is np.ndarray and value.dtype.kind in "iu":
        return value
    return as_float_array(value, node)


class _ReductionOp(Op):
    value = "expr"
    function = ""

    def plan(self, p):
        node, shape = p.node, p.shapes[0]
        axes = node._axes(shape)
        return {"axes": axes, "kept": tuple(1 if i in axes else n for i, n in enumerate(shape)),
                "count": math.prod(shape[i] for i in axes)}

    def forward(self, c):
        return [f"{c.out} = np.{self.function}({c.x[0]}, axis={c.own('axes')}, "
                f"keepdims={c.node.keepdims})"]


class SumOp(_ReductionOp):
    function = "sum"

    def backward(self, c):  # every element summed gets the gradient
        return [], {0: Into(lambda out: [
            f"np.copyto({out}, np.reshape({c.G}, {c.own('kept')}))"])}


class MeanOp(_ReductionOp):
    function = "mean"

    def backward(self, c):  # ... divided by the count
        return [], {0: Into(lambda out: [
            f"np.copyto({out}, np.reshape({c.G} / {c.own('count')}, {c.own('kept')}))"])}


class ReshapeOp(Op):
    value = "expr"

    def forward(self, c):
        return [f"{c.out} = np.reshape({c.x[0]}, {c.node.shape})"]

    def backward(self, c):
        return [], {0: View(f"np.reshape({c.G}, np.shape({c.x[0]}))")}


class FlattenOp(Op):
    value = "expr"

    def plan(self, p):
        shape = p.shapes[0]
        return {"shape": (shape[0], math.prod(shape[1:]))}

    def forward(self, c):
        return [f"{c.out} = np.reshape({c.x[0]}, {c.own('shape')})"]

    def backward(self, c):
        return [], {0: View(f"np.reshape({c.G}, np.shape({c.x[0]}))")}


class TransposeOp(Op):
    value = "expr"

    def plan(self, p):
        ndim = len(p.shapes[0])
        axes = p.node.axes
        permutation = (tuple(reversed(range(ndim))) if axes is None
                       else tuple(a % ndim if -ndim <= a < ndim else a for a in axes))
        return {"axes": permutation, "inverse": np.argsort(permutation)}

    def forward(self, c):
        return [f"{c.out} = np.transpose({c.x[0]}, {c.own('axes')})"]

    def backward(self, c):
        return [], {0: View(f"np.transpose({c.G}, {c.own('inverse')})")}


class IndexOp(Op):
    value = "expr"

    def forward(self, c):
        return [f"{c.out} = {c.x[0]}[{c.ref}.index]"]

    def backward(self, c):  # read elements get their gradient; np.add.at adds repeated ones
        return [], {0: Into(lambda out: [f"{out}.fill(0.0)",
                                         f"np.add.at({out}, {c.ref}.index, {c.G})"])}


# Convolution and pooling: im2col with the windows of a padded copy of the input, laid out
# once per batch shape as a view, so each step copies them with one call.


class Conv2dOp(Op):
    value = "plan"

    def plan(self, p):
        node, (n, channels, height, width), w_shape = p.node, p.shapes[0], p.shapes[1]
        filters, _, kh, kw = w_shape
        pad, stride = node.padding, node.stride
        padded = np.zeros((n, channels, height + 2 * pad, width + 2 * pad))
        out_h, out_w = (height + 2 * pad - kh) // stride + 1, (width + 2 * pad - kw) // stride + 1
        pixels, window = n * out_h * out_w, channels * kh * kw
        cols = np.empty((pixels, window))
        out = np.empty((pixels, filters))
        plan = {
            "padded": padded, "inside": padded[:, :, pad:pad + height, pad:pad + width],
            "windows": windows(padded, kh, kw, stride).transpose(0, 2, 3, 1, 4, 5),
            "cols": cols, "cols6": cols.reshape(n, out_h, out_w, channels, kh, kw),
            "out": out, "value": out.reshape(n, out_h, out_w, filters).transpose(0, 3, 1, 2),
        }
        weight = p.inputs[1]
        if weight is not None:
            plan["flat_w"] = flat_filters(weight)
        if p.needs:
            grad = np.empty((pixels, filters))
            plan["grad"], plan["grad4"] = grad, grad.reshape(n, out_h, out_w, filters)
        if 1 in p.needs:
            plan["grad_w"] = p.target(1).reshape(filters, window)
        if 0 in p.needs:
            dcols = np.empty((pixels, window))
            scatter = np.zeros((n, height + 2 * pad, width + 2 * pad, channels))
            dcols6 = dcols.reshape(n, out_h, out_w, channels, kh, kw)
            plan["dcols"], plan["scatter"] = dcols, scatter
            plan["col2im"] = [
                (scatter[:, di:di + stride * (out_h - 1) + 1:stride,
                         dj:dj + stride * (out_w - 1) + 1:stride, :], dcols6[..., di, dj])
                for di in range(kh) for dj in range(kw)]
            plan["grad_x"] = scatter.transpose(0, 3, 1, 2)[:, :, pad:pad + height,
                                                           pad:pad + width]
        return plan

    def _flat_w(self, c):
        return c.own("flat_w") if c.stable[1] else f"flat_filters({c.x[1]})"

    def forward(self, c):
        n = c.own
        lines = [f"np.copyto({n('inside')}, {c.x[0]}); np.copyto({n('cols6')}, {n('windows')})",
                 f"np.matmul({n('cols')}, {self._flat_w(c)}.T, out={n('out')})"]
        if len(c.x) == 3:
            lines[-1] += f"; {n('out')} += {c.x[2]}"
        return lines

    def backward(self, c):
        n = c.own
        prelude = [f"np.copyto({n('grad4')}, np.transpose({c.G}, (0, 2, 3, 1)))"]
        sends = {}
        if 1 in c.needs:  # ∂/∂W = Gᵀ cols
            sends[1] = Into(lambda out: [f"np.matmul({n('grad')}.T, {n('cols')}, "
                                         f"out={n('grad_w')})"])
        if 2 in c.needs:  # ∂/∂b = Σ_pixels G
            sends[2] = Into(lambda out: [f"{n('grad')}.sum(axis=0, out={out})"])
        if 0 in c.needs:  # ∂/∂cols = G W, added back onto the pixels each window read
            sends[0] = View(n("grad_x"), lines=[
                f"np.matmul({n('grad')}, {self._flat_w(c)}, out={n('dcols')})",
                f"{n('scatter')}.fill(0.0)",
                f"for pixels, window in {n('col2im')}: pixels += window"])
        return prelude, sends


class MaxPool2dOp(Op):
    made_in_code = ("di", "dj", "pixel", "sums")
    def plan(self, p):
        node, (n, channels, height, width) = p.node, p.shapes[0]
        k, s = node.kernel_size, node.stride
        out_h, out_w = (height - k) // s + 1, (width - k) // s + 1
        flat6 = np.empty((n, channels, out_h, out_w, k, k))
        count = n * channels * out_h * out_w
        plan = {"flat6": flat6, "flat": flat6.reshape(n, channels, out_h, out_w, k * k),
                "all": flat6.reshape(-1), "argmax": np.empty((n, channels, out_h, out_w), np.intp),
                "at": np.empty((n, channels, out_h, out_w), np.intp),
                "starts": (np.arange(count) * (k * k)).reshape(n, channels, out_h, out_w)}
        if p.inputs[0] is not None:
            plan["windows"] = windows(p.inputs[0], k, k, s)
        if p.needs:
            plan["image_rows"] = np.arange(n * channels).reshape(n, channels, 1, 1) * height
            plan["rows"] = np.arange(out_h)[:, np.newaxis] * s
            plan["columns"] = np.arange(out_w) * s
            plan["size"] = n * channels * height * width
            plan["width"], plan["shape"] = width, p.shapes[0]
        return plan

    def forward(self, c):
        n, node = c.own, c.node
        source = (n("windows") if c.stable[0]
                  else f"windows({c.x[0]}, {node.kernel_size}, {node.kernel_size}, {node.stride})")
        # the first largest entry of each window: its index, then the entry itself
        return [f"np.copyto({n('flat6')}, {source})",
                f"np.argmax({n('flat')}, axis=-1, out={n('argmax')})",
                f"np.add({n('starts')}, {n('argmax')}, out={n('at')})",
                f"np.take({n('all')}, {n('at')}, out={c.out})"]

    def backward(self, c):  # each window's gradient to its largest entry; bincount adds
        n, k = c.own, c.node.kernel_size
        return [], {0: View(f"{n('sums')}.reshape({n('shape')})", lines=[
            f"{n('di')}, {n('dj')} = np.divmod({n('argmax')}, {k})  # where in its window",
            f"{n('pixel')} = ({n('image_rows')} + {n('rows')} + {n('di')}) * {n('width')} "
            f"+ {n('columns')} + {n('dj')}",
            f"{n('sums')} = np.bincount({n('pixel')}.ravel(), weights=np.ravel({c.G}), "
            f"minlength={n('size')})"])}


# Dropout and batch normalization read their settings (training, p, the running statistics)
# from the node or its layer on every step, as their own forward does.


class DropoutOp(Op):
    value = "expr"
    made_in_code = ("mask",)

    def plan(self, p):
        return {"buffer": np.empty(p.out_shape)}

    def forward(self, c):
        mask, x = c.own("mask"), c.x[0]
        return [f"{mask} = dropout_mask({c.ref}, np.shape({x}))  # None: evaluating, or p = 0",
                f"{c.out} = {x} if {mask} is None else np.multiply({x}, {mask}, "
                f"out={c.own('buffer')})"]

    def backward(self, c):
        mask = c.own("mask")
        return [], {0: Into(lambda out: [f"if {mask} is None: np.copyto({out}, {c.G})",
                                         f"else: np.multiply({c.G}, {mask}, out={out})"])}

    def infer(self, node, values, sandbox):
        return np.shape(values[0])  # no draw from the generator: the step draws the masks



def dropout_mask(node, shape):
    """The mask of Dropout.forward, drawn from the same generator in the same way; None when
    the node passes its input through."""
    settings = node if node.layer is None else node.layer
    p = settings.p
    if not (settings.training and p != 0):
        return None
    if not 0 < p < 1:
        check_probability(p, node._owner())
    keep = settings.rng.random(shape) >= p
    return keep * (1.0 / (1.0 - p))


class BatchNormOp(Op):
    value = "expr"
    made_in_code = ("saved", "grads")

    def forward(self, c):
        x, gamma, beta = c.x
        return [f"{c.out}, {c.own('saved')} = batchnorm_forward({c.ref}, {x}, {gamma}, {beta})"]

    def backward(self, c):
        x, gamma, beta = c.x
        grads = c.own("grads")
        needs = tuple(i in c.needs for i in range(3))
        prelude = [f"{grads} = batchnorm_backward({c.own('saved')}, {c.G}, {gamma}, {needs})"]
        return prelude, {i: View(f"{grads}[{i}]") for i in c.needs}

    def infer(self, node, values, sandbox):
        settings = node if node.layer is None else node.layer
        kept = settings.running_mean, settings.running_var
        try:
            return sandbox(node, values)
        finally:  # the sandboxed forward updated them
            settings.running_mean, settings.running_var = kept



def batchnorm_forward(node, x, gamma, beta):
    """BatchNorm.forward's arithmetic, step for step; returns the value and what backward
    needs. Its checks of shapes ran when the batch shape was planned."""
    settings = node if node.layer is None else node.layer
    shape = x.shape
    channels = shape[1]
    axes = (0, *range(2, len(shape)))
    per_channel = (1, channels) + (1,) * (len(shape) - 2)
    m = x.size // channels if channels else 0
    eps = settings.eps
    batch_statistics = bool(settings.training)
    if batch_statistics:
        if m < 2:  # the node's own error (nothing changed yet)
            raise_as_interpreted(node, x, gamma, beta)
        mean = x.mean(axis=axes)
        centred = x - mean.reshape(per_channel)
        variance = (centred * centred).mean(axis=axes)
        node._update_running(settings, mean, variance * (m / (m - 1)), channels)
    else:
        mean, variance = node._running(settings, channels)
        centred = x - mean.reshape(per_channel)
    inv_std = 1.0 / np.sqrt(variance + eps)
    x_hat = centred * inv_std.reshape(per_channel)
    value = gamma.reshape(per_channel) * x_hat + beta.reshape(per_channel)
    return value, (x_hat, inv_std, batch_statistics, axes, per_channel, m)


def batchnorm_backward(saved, grad, gamma, needs):
    """BatchNorm.backward's arithmetic: the gradients toward x, γ and β (None if not needed)."""
    x_hat, inv_std, batch_statistics, axes, per_channel, m = saved
    grad_sum = grad.sum(axis=axes)
    grad_x_hat_sum = (grad * x_hat).sum(axis=axes)
    grad_x = None
    if needs[0]:
        scale = (gamma * inv_std).reshape(per_channel)
        if batch_statistics:
            grad_x = (scale / m) * (m * grad - grad_sum.reshape(per_channel)
                                    - x_hat * grad_x_hat_sum.reshape(per_channel))
        else:
            grad_x = scale * grad
    return grad_x, grad_x_hat_sum, grad_sum


def raise_as_interpreted(node, *values):
    """Raise the error the node's own forward raises for inputs of these values (the inputs'
    values are set first, as the forward pass would have them)."""
    for source, value in zip(node.inputs, values, strict=True):
        source.value = value
    node.forward()
    raise AssertionError(f"{node!r}: expected its forward to refuse these inputs")


# Softmax and log-softmax along one axis, computed from z - max z (see softmax.py).


class _AlongAxisOp(Op):
    def plan(self, p):
        shape, axis = p.out_shape, p.node.axis
        kept = tuple(1 if i == axis % len(shape) else n for i, n in enumerate(shape))
        plan = {"max": np.empty(kept), "exp": np.empty(shape), "total": np.empty(kept)}
        if p.needs:
            plan["sum"] = np.empty(kept)
            plan["scratch"] = np.empty(shape)
        return plan

    def _shifted(self, c, shifted):
        """z - max z into ``shifted``, its exponential and their sum along the axis."""
        z, axis, n = c.x[0], c.node.axis, c.own
        return [f"{z}.max(axis={axis}, keepdims=True, out={n('max')})",
                f"np.subtract({z}, {n('max')}, out={shifted})",
                f"np.exp({shifted}, out={n('exp')})",
                f"{n('exp')}.sum(axis={axis}, keepdims=True, out={n('total')})"]


class SoftmaxOp(_AlongAxisOp):
    def forward(self, c):
        n = c.own
        return [*self._shifted(c, n("exp")), f"np.divide({n('exp')}, {n('total')}, out={c.out})"]

    def backward(self, c):  # ∂L/∂z = s ⊙ (G - Σ G s)
        n, axis = c.own, c.node.axis
        return [], {0: Into(lambda out: [
            f"np.multiply({c.G}, {c.out}, out={n('scratch')})",
            f"{n('scratch')}.sum(axis={axis}, keepdims=True, out={n('sum')})",
            f"np.subtract({c.G}, {n('sum')}, out={out}); np.multiply({c.out}, {out}, out={out})"])}


class LogSoftmaxOp(_AlongAxisOp):
    def plan(self, p):
        return {**super().plan(p), "shifted": np.empty(p.out_shape)}

    def forward(self, c):
        n = c.own
        return [*self._shifted(c, n("shifted")),
                f"np.log({n('total')}, out={n('max')})  # (max is free again)",
                f"np.subtract({n('shifted')}, {n('max')}, out={c.out})"]

    def backward(self, c):  # ∂L/∂z = G - softmax(z) Σ G
        n, axis = c.own, c.node.axis
        return [], {0: Into(lambda out: [
            f"np.divide({n('exp')}, {n('total')}, out={n('scratch')})",
            f"{c.G}.sum(axis={axis}, keepdims=True, out={n('sum')})",
            f"np.multiply({n('scratch')}, {n('sum')}, out={out}); "
            f"np.subtract({c.G}, {out}, out={out})"])}


# Attention: the causal mask, and the heads split from and merged into the features.


class CausalMaskOp(Op):
    def plan(self, p):
        steps = p.out_shape[-1]
        return {"future": np.triu(np.ones((steps, steps), dtype=bool), k=1)}

    def forward(self, c):
        return [f"np.copyto({c.out}, {c.x[0]}); "
                f"np.copyto({c.out}, -np.inf, where={c.own('future')})"]

    def backward(self, c):  # the masked scores get 0, the others their gradient
        return [], {0: Into(lambda out: [
            f"np.copyto({out}, {c.G}); np.copyto({out}, 0.0, where={c.own('future')})"])}


def _view_of(array, shape=None, slices=None):
    """A view of ``array`` (its slice, reshaped): refused at plan time if it would be a copy,
    which writes would not reach."""
    view = array if slices is None else array[slices]
    if shape is not None:
        view = view.reshape(shape)
    if view.size and not np.shares_memory(view, array):
        raise AssertionError("expected a view")
    return view


class HeadsOp(Op):
    value = "expr"

    def plan(self, p):
        batch, steps, width = p.shapes[0]
        embed, heads = width // 3, p.node.heads
        block = (Ellipsis, slice(p.node.part * embed, (p.node.part + 1) * embed))
        split = (batch, steps, heads, embed // heads)
        plan = {"block": block, "split": split}
        if 0 in p.needs:  # this head's block of qkv's gradient, laid out as the value
            plan["grad"] = _view_of(p.target(0), split, block).transpose(0, 2, 1, 3)
        return plan

    def forward(self, c):
        n = c.own
        return [f"{c.out} = {c.x[0]}[{n('block')}].reshape({n('split')}).transpose(0, 2, 1, 3)"]

    def backward(self, c):  # its block of qkv's gradient; zero elsewhere
        return [], {0: Into(lambda out: [
            f"{out}.fill(0.0); np.copyto({c.own('grad')}, {c.G})"])}


class MergeHeadsOp(Op):
    value = "expr"

    def plan(self, p):
        batch, heads, steps, per_head = p.shapes[0]
        return {"merged": (batch, steps, heads * per_head),
                "split": (batch, steps, heads, per_head)}

    def forward(self, c):
        return [f"{c.out} = {c.x[0]}.transpose(0, 2, 1, 3).reshape({c.own('merged')})"]

    def backward(self, c):
        return [], {0: View(f"{c.G}.reshape({c.own('split')}).transpose(0, 2, 1, 3)")}


class AffineOp(Op):
    """y = x Wᵀ + b₁ + ... on the rows of x (every leading axis flattened)."""

    value = "plan"

    def plan(self, p):
        x_shape, (out, n_in) = p.shapes[0], p.shapes[1]
        rows = np.empty((math.prod(x_shape[:-1]), out))
        plan = {"value": rows.reshape(p.out_shape), "rows": rows,
                "x_rows": (-1, n_in), "g_rows": (-1, out)}
        if 0 in p.needs:
            plan["dx_rows"] = _view_of(p.target(0), (-1, n_in))
        return plan

    def forward(self, c):
        x, w, *biases = c.x
        rows = c.own("rows")
        return [f"np.matmul({x}.reshape({c.own('x_rows')}), {w}.T, out={rows})",
                *[f"{rows} += {b}" for b in biases]]

    def backward(self, c):
        x, w = c.x[:2]
        g = c.own("grows")
        prelude = [f"{g} = {c.G}.reshape({c.own('g_rows')})"]
        sends = {}
        if 0 in c.needs:  # ∂/∂X = G W
            sends[0] = Into(lambda out: [f"np.matmul({g}, {w}, out={c.own('dx_rows')})"])
        if 1 in c.needs:  # ∂/∂W = Gᵀ X
            sends[1] = Into(lambda out: [
                f"np.matmul({g}.T, {x}.reshape({c.own('x_rows')}), out={out})"])
        for slot in c.needs:  # ∂/∂b = Σ_rows G, for every bias
            if slot >= 2:
                sends[slot] = Into(lambda out: [f"{g}.sum(axis=0, out={out})"])
        return prelude, sends

    made_in_code = ("grows",)


class LayerNormalizationOp(Op):
    """LayerNormalization's arithmetic over the last axis, step for step."""

    def plan(self, p):
        shape = p.out_shape
        kept = shape[:-1] + (1,)
        plan = {"mean": np.empty(kept), "centred": np.empty(shape), "square": np.empty(shape),
                "var": np.empty(kept), "inv_std": np.empty(kept), "x_hat": np.empty(shape),
                "features": shape[-1], "rows": (-1, shape[-1])}
        if p.needs:
            plan.update({"scaled": np.empty(shape), "mean1": np.empty(kept),
                         "mean2": np.empty(kept)})
        if 1 in p.needs:
            plan["x_hat_rows"] = _view_of(plan["x_hat"], (-1, shape[-1]))
            plan["square_rows"] = _view_of(plan["square"], (-1, shape[-1]))
        return plan

    def forward(self, c):
        x, w, b = c.x
        n = c.own
        d = n("features")
        return [f"{x}.sum(axis=-1, keepdims=True, out={n('mean')}); {n('mean')} /= {d}",
                f"np.subtract({x}, {n('mean')}, out={n('centred')})",
                f"np.multiply({n('centred')}, {n('centred')}, out={n('square')})",
                f"{n('square')}.sum(axis=-1, keepdims=True, out={n('var')}); {n('var')} /= {d}",
                f"{n('var')} += {c.ref}.eps; np.sqrt({n('var')}, out={n('var')})",
                f"np.divide(1.0, {n('var')}, out={n('inv_std')})",
                f"np.multiply({n('centred')}, {n('inv_std')}, out={n('x_hat')})",
                f"np.multiply({n('x_hat')}, {w}, out={c.out}); {c.out} += {b}"]

    def backward(self, c):
        x, w, b = c.x
        n = c.own
        d, sq = n("features"), n("square")
        sends = {}
        if 2 in c.needs:  # ∂/∂β = Σ_rows G
            sends[2] = Into(lambda out: [f"np.reshape({c.G}, {n('rows')}).sum(axis=0, out={out})"])
        if 1 in c.needs:  # ∂/∂γ = Σ_rows G ⊙ x̂
            sends[1] = Into(lambda out: [
                f"np.multiply(np.reshape({c.G}, {n('rows')}), {n('x_hat_rows')}, "
                f"out={n('square_rows')})",
                f"{n('square_rows')}.sum(axis=0, out={out})"])
        if 0 in c.needs:  # (1/√(σ² + ε)) (Gγ - mean(Gγ) - x̂ mean(Gγ ⊙ x̂))
            sc, m1, m2 = n("scaled"), n("mean1"), n("mean2")
            sends[0] = Into(lambda out: [
                f"np.multiply({c.G}, {w}, out={sc})",
                f"{sc}.sum(axis=-1, keepdims=True, out={m1}); {m1} /= {d}",
                f"np.multiply({sc}, {n('x_hat')}, out={sq})",
                f"{sq}.sum(axis=-1, keepdims=True, out={m2}); {m2} /= {d}",
                f"np.subtract({sc}, {m1}, out={out})",
                f"np.multiply({n('x_hat')}, {m2}, out={sq}); np.subtract({out}, {sq}, out={out})",
                f"np.multiply({n('inv_std')}, {out}, out={out})"])
        return [], sends


class LookupOp(Op):
    """y = weight[ids]; the ids checked every step (``lookup_rows``)."""

    sends_to = (1,)  # the ids get no gradient
    made_in_code = ("rows", "entries")

    def plan(self, p):
        count, dim = p.shapes[1]
        plan = {"count": count, "columns": np.arange(dim), "dim": dim}
        if 1 in p.needs:
            plan["flat"] = _view_of(p.target(1), (-1,))
        return plan

    def forward(self, c):
        ids, w = c.x
        n = c.own
        return [f"{n('rows')} = lookup_rows({c.ref}, {ids}, {n('count')})",
                f"np.take({w}, {n('rows')}, axis=0, out={c.out})"]

    def backward(self, c):  # each row gets the gradients of every position that picked it
        n = c.own
        return [], {1: Into(lambda out: [
            f"{n('entries')} = ({n('rows')}.reshape(-1, 1) * {n('dim')} + {n('columns')}).ravel()",
            f"{out}.fill(0.0); np.add.at({n('flat')}, {n('entries')}, np.ravel({c.G}))"])}


def lookup_rows(node, ids, count):
    """Lookup._row_ids for the ids ``ids``: the rows, or the node's own error."""
    rows = np.fmin(np.fmax(ids, -0.5), count - 0.5).astype(np.intp)
    if not (rows == ids).all():
        node.inputs[0].value = ids
        node._row_ids(node.inputs[0], count)  # raises, naming the bad ids
    return rows


# Joining: each input's gradient is its own piece of the upstream gradient, a view.


class StackOp(Op):
    def forward(self, c):
        return [f"np.stack([{', '.join(c.x)}], axis={c.node.axis}, out={c.out})"]

    def backward(self, c):  # the slice k along the new axis
        return [], {k: View(f"np.moveaxis({c.G}, {c.node.axis}, 0)[{k}]") for k in c.needs}


class ConcatenateOp(Op):
    def plan(self, p):
        axis = p.node.axis % len(p.out_shape)
        ends = np.cumsum([shape[axis] for shape in p.shapes])
        starts = [0, *ends[:-1]]
        return {"axis": axis, **{f"piece{k}": (slice(None),) * axis
                                 + (slice(int(a), int(b)),)
                                 for k, (a, b) in enumerate(zip(starts, ends, strict=True))}}

    def forward(self, c):
        return [f"np.concatenate([{', '.join(c.x)}], axis={c.own('axis')}, out={c.out})"]

    def backward(self, c):  # the block along the axis where input k lies
        return [], {k: View(f"{c.G}[{c.own(f'piece{k}')}]") for k in c.needs}


# Recurrent layers: the input term of every step at once (SequenceInput, an Affine whose
# forward checks the shape of x first, which the plan does once per batch shape), one node per
# step, and the halves h and c of LSTM states.


def _columns(part: slice) -> str:
    """A slice of the last axis as code: ``:5``, ``5:``, ``5:10``."""
    start = "" if not part.start else part.start
    stop = "" if part.stop is None else part.stop
    return f"{start}:{stop}"


class _StepOp(Op):
    """What RNNStep and LSTMStep share: A_t = P[:, t] + h_{t-1} W_hhᵀ, from the input term P
    (slot 0), W_hh (slot 1) and the state before (slot 2, or 2 and 3 for an LSTM's initial
    (h, c)); ∂L/∂A_t is computed into the array ``a``, which is the step's slice of P's
    gradient (see IntoSlice) when P needs one."""

    gathers = 0

    def receivers(self, node):  # W_hh, only from a step with a state before it
        return (0, 1, 2, 3) if len(node.inputs) > 2 else (0,)

    def plan(self, p):
        batch, _, width = p.shapes[0]
        if 0 in p.needs:
            return {"a": _view_of(p.target(0), slices=(slice(None), p.node.t))}
        return {"a": np.empty((batch, width))} if p.needs else {}

    def _own_term(self, c) -> str:
        return f"{c.x[0]}[:, {c.node.t}]"

    def _pre_activation(self, c, h, into) -> list[str]:
        """A_t into the array ``into`` (P[:, t] + h W_hhᵀ, added in the op's order)."""
        return [f"np.matmul({h}, {c.x[1]}.T, out={into}); {into} += {self._own_term(c)}"]

    def _sends(self, c, h, to_state) -> dict:
        """∂L/∂A_t (already in ``a``) to P, ∂L/∂W_hh = ∂L/∂A_tᵀ h_{t-1}, and ``to_state``:
        {slot: lines(out)} toward the state before."""
        a, sends = c.own("a"), {}
        if 0 in c.needs:  # in place: a is the step's slice of P's gradient
            sends[0] = IntoSlice(lambda out: [])
        if 1 in c.needs:
            sends[1] = Into(lambda out: [f"np.matmul({a}.T, {h}, out={out})"])
        for slot, lines in to_state.items():
            if slot in c.needs:
                sends[slot] = Into(lines)
        return sends


class RNNStepOp(_StepOp):
    def forward(self, c):
        if len(c.x) == 2:  # the first step, from h_0 = 0
            return [f"np.tanh({self._own_term(c)}, out={c.out})"]
        return [*self._pre_activation(c, c.x[2], c.out), f"np.tanh({c.out}, out={c.out})"]

    def backward(self, c):  # ∂L/∂A_t = G ⊙ (1 - h_t²); ∂L/∂h_{t-1} = ∂L/∂A_t W_hh
        a, w = c.own("a"), c.x[1]
        prelude = [f"np.multiply({c.out}, {c.out}, out={a}); np.subtract(1.0, {a}, out={a})",
                   f"np.multiply({c.G}, {a}, out={a})"]
        h = c.x[2] if len(c.x) > 2 else None
        return prelude, self._sends(c, h, {2: lambda out: [f"np.matmul({a}, {w}, out={out})"]})


class LSTMStepOp(_StepOp):
    """The LSTM cell of recurrent.py, operation for operation: the gates as k ⊙ tanh(k ⊙ A) + b
    (σ for i, f, o; tanh for g), c_t = i ⊙ g + f ⊙ c_{t-1}, h_t = o ⊙ tanh(c_t); the value is
    (h_t | c_t), and ``gi``, ``gf``... are views of the gates' blocks."""

    value = "plan"

    def plan(self, p):
        plan = super().plan(p)
        node = p.node
        batch, hidden = p.shapes[0][0], node.layer.hidden_size
        value, gates = np.empty((batch, 2 * hidden)), np.empty((batch, 4 * hidden))
        plan.update({"value": value, "h": value[:, :hidden], "c": value[:, hidden:],
                     "tanh_a": np.empty((batch, 4 * hidden)), "gates": gates,
                     "tanh_c": np.empty((batch, hidden)), "fc": np.empty((batch, hidden)),
                     "k": node.k, "b": node.b})
        plan.update(zip(("gi", "gf", "gg", "go"), _blocks(gates, hidden), strict=True))
        if p.needs:
            # The forget gate's block stays 0 at a first step (no c_{t-1}): made zeros here.
            grad_gates = np.zeros((batch, 4 * hidden))
            plan.update({"dc": np.empty((batch, hidden)), "s": np.empty((batch, hidden)),
                         "s4": np.empty((batch, 4 * hidden)), "grad_gates": grad_gates,
                         "k2": node.k_squared})
            plan.update(zip(("dgi", "dgf", "dgg", "dgo"), _blocks(grad_gates, hidden), strict=True))
        return plan

    def _state(self, c) -> tuple[str | None, str | None]:
        """The code of h_{t-1} and c_{t-1}: the initial state's nodes, halves of the step
        before, or None at a first step without a state."""
        if len(c.x) == 2:
            return None, None
        if len(c.x) == 4:
            return c.x[2], c.x[3]
        hidden = c.node.layer.hidden_size
        return f"{c.x[2]}[:, :{hidden}]", f"{c.x[2]}[:, {hidden}:]"

    def forward(self, c):
        n = c.own
        h, c_before = self._state(c)
        ta = n("tanh_a")
        if h is None:
            lines = [f"np.multiply({self._own_term(c)}, {n('k')}, out={ta})"]
        else:
            lines = [*self._pre_activation(c, h, ta), f"np.multiply({ta}, {n('k')}, out={ta})"]
        lines += [f"np.tanh({ta}, out={ta})",
                  f"np.multiply({ta}, {n('k')}, out={n('gates')}); {n('gates')} += {n('b')}",
                  f"np.multiply({n('gi')}, {n('gg')}, out={n('c')})  # c_t = i g + f c_{{t-1}}"]
        if c_before is not None:
            lines.append(f"np.multiply({n('gf')}, {c_before}, out={n('fc')}); "
                         f"{n('c')} += {n('fc')}")
        return [*lines, f"np.tanh({n('c')}, out={n('tanh_c')})",
                f"np.multiply({n('go')}, {n('tanh_c')}, out={n('h')})  # h_t = o tanh(c_t)"]

    def backward(self, c):
        n = c.own
        hidden = c.node.layer.hidden_size
        h, c_before = self._state(c)
        grad_h, grad_c = f"{c.G}[:, :{hidden}]", f"{c.G}[:, {hidden}:]"
        dc, s, s4, a, w = n("dc"), n("s"), n("s4"), n("a"), c.x[1]
        prelude = [  # ∂L/∂c_t, all of it: G_c + G_h ⊙ o ⊙ (1 - tanh² c_t)
            f"np.multiply({n('tanh_c')}, {n('tanh_c')}, out={s}); np.subtract(1.0, {s}, out={s})",
            f"np.multiply({grad_h}, {n('go')}, out={dc}); np.multiply({dc}, {s}, out={dc})",
            f"np.add({grad_c}, {dc}, out={dc})",
            # ∂L/∂(i, f, g, o) = (∂L/∂c_t g, ∂L/∂c_t c_{t-1}, ∂L/∂c_t i, G_h tanh c_t)
            f"np.multiply({dc}, {n('gg')}, out={n('dgi')})"]
        if c_before is not None:
            prelude.append(f"np.multiply({dc}, {c_before}, out={n('dgf')})")
        prelude += [f"np.multiply({dc}, {n('gi')}, out={n('dgg')})",
                    f"np.multiply({grad_h}, {n('tanh_c')}, out={n('dgo')})",
                    # ∂L/∂A_t = ∂L/∂gates ⊙ k² ⊙ (1 - tanh²(k ⊙ A))
                    f"np.multiply({n('tanh_a')}, {n('tanh_a')}, out={s4}); "
                    f"np.subtract(1.0, {s4}, out={s4})",
                    f"np.multiply({n('grad_gates')}, {n('k2')}, out={a}); "
                    f"np.multiply({a}, {s4}, out={a})"]
        if len(c.x) == 4:  # ∂L/∂h_0 = ∂L/∂A W_hh and ∂L/∂c_0 = ∂L/∂c_t ⊙ f, to their nodes
            to_state = {2: lambda out: [f"np.matmul({a}, {w}, out={out})"],
                        3: lambda out: [f"np.multiply({dc}, {n('gf')}, out={out})"]}
        else:  # ... side by side, to the step before
            to_state = {2: lambda out: [
                f"np.matmul({a}, {w}, out={out}[:, :{hidden}])",
                f"np.multiply({dc}, {n('gf')}, out={out}[:, {hidden}:])"]}
        return prelude, self._sends(c, h, to_state)


class StatePartOp(Op):
    value = "expr"

    def plan(self, p):
        part, width = p.node.part[1], p.shapes[0][-1]
        other = slice(part.stop, width) if not part.start else slice(0, part.start)
        return {"other": other}

    def forward(self, c):
        return [f"{c.out} = {c.x[0]}[..., {_columns(c.node.part[1])}]"]

    def backward(self, c):  # G on its half of the states, 0 on the other
        other = c.own("other")
        return [], {0: Into(lambda out: [
            f"{out}[..., {other}] = 0.0; {out}[..., {_columns(c.node.part[1])}] = {c.G}"])}


TEMPLATES = {
    Add: AddOp(), Subtract: SubtractOp(), Multiply: MultiplyOp(), Divide: DivideOp(),
    Power: PowerOp(), MatMul: MatMulOp(), Negate: NegateOp(), Linear: LinearOp(),
    ReLU: ReLUOp(), Sigmoid: SigmoidOp(), Tanh: TanhOp(), Exp: ExpOp(), Log: LogOp(),
    MSE: MSEOp(), SoftmaxCrossEntropy: SoftmaxCrossEntropyOp(),
    Sum: SumOp(), Mean: MeanOp(), Reshape: ReshapeOp(), Flatten: FlattenOp(),
    Transpose: TransposeOp(), Index: IndexOp(), Conv2d: Conv2dOp(), MaxPool2d: MaxPool2dOp(),
    Dropout: DropoutOp(), BatchNorm: BatchNormOp(),
    Softmax: SoftmaxOp(), LogSoftmax: LogSoftmaxOp(), CausalMask: CausalMaskOp(),
    Heads: HeadsOp(), MergeHeads: MergeHeadsOp(), Affine: AffineOp(),
    LayerNormalization: LayerNormalizationOp(), Lookup: LookupOp(),
    Stack: StackOp(), Concatenate: ConcatenateOp(),
    SequenceInput: AffineOp(), RNNStep: RNNStepOp(), LSTMStep: LSTMStepOp(),
    StatePart: StatePartOp(),
}

# What the compiled code calls, besides NumPy: the names it may use.
RUNTIME = {"np": np, "matmul_gradient": matmul_gradient, "flat_filters": flat_filters,
           "class_ids": class_ids, "as_labels": as_labels,
           "windows": windows, "dropout_mask": dropout_mask,
           "batchnorm_forward": batchnorm_forward, "batchnorm_backward": batchnorm_backward,
           "lookup_rows": lookup_rows}


def template_for(node):
    """The template that compiles ``node``, or None: a class the compiler does not know, or a
    subclass of a known op with a forward or backward of its own (its arithmetic may differ,
    so it runs its own methods)."""
    from .layers import _ChecksInput  # the layers' check of the input shape, then the op's

    node_type = type(node)
    for op in node_type.__mro__:
        template = TEMPLATES.get(op)
        if template is not None:
            own_forward = node_type.forward in (op.forward, _ChecksInput.forward)
            return template if own_forward and node_type.backward is op.backward else None
    return None
