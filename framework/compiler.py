"""Compiling a static graph: one generated Python function per graph, for a whole training step.

``step = fw.compile(graph, optimizer=fw.SGD(0.1))`` walks the sorted graph once and writes the
source of one function, ``step.source``, that runs the forward pass, the backward pass and the
optimizer's update, then compiles it. ``loss = step({x: X_batch, y: y_batch})`` trains on one
batch and returns the loss as a float. What the interpreted loop pays for and the compiled step
does not:

- per-node dispatch: ``forward(graph)`` calls ``node.forward()`` for every node, and each op
  looks up its inputs and checks what it was given; the step is straight-line code, one or a
  few NumPy calls per op (codegen.py holds each op's template);
- fresh arrays: every value, every gradient, every scratch array is made once per batch shape
  (a "plan") and written in place with ``out=`` afterwards; the last, shorter batch of an epoch
  gets a plan of its own, kept for the next epoch;
- the update one parameter at a time: the trainable parameters live in one flat array,
  ``step.theta`` (each node's ``.value`` is a view of its slice, so predictions, drawings and
  ``save_model`` see the new values), their gradients in ``step.grads``, and the optimizer's
  state in arrays like them: the update and its check are a handful of NumPy calls in all.

It computes what the interpreted loop computes (``forward``, ``backward``, ``optimizer.step``),
operation for operation, and keeps the same guarantees, with the same words:

- a loss that is NaN or infinite refuses the step, naming the first node that holds a NaN or an
  inf (looked for only then); new parameters that would hold one refuse it too, naming the
  parameter; either way no parameter and no optimizer state changes;
- the ops' own checks run: labels that are not class ids, targets of the wrong shape, and any
  shape that does not fit, named by the node's own error (shapes are checked once per batch
  shape, by the node's own forward on arrays of zeros, in a sandbox);
- a graph changed since it was compiled (a parameter frozen or unfrozen, the order edited) is
  refused, saying to compile again. A parameter given a new value by hand (``load_model``, say)
  is taken in before the step, as the interpreted loop would use it.

An op it does not know (your own ``Node`` subclass, or a subclass of an op with its own forward
or backward) runs its own ``forward()`` and ``backward()`` from inside the step, with its
inputs' values and its outputs' gradients set as the passes would set them; the arrays after it
are planned when its value's shape is known. So compiling never changes what a graph computes.

The optimizer's settings (learning rate, betas, weight decay) are read at every step, so a
schedule that changes them works; its state (Momentum's velocity, Adam's moments and step count)
lives in flat arrays, and ``optimizer.state`` holds views of them, so the interpreted
``optimizer.step`` and a new compile carry on from where the compiled steps left off.
"""

from __future__ import annotations

import builtins
import itertools
import keyword
import linecache
import math
import re

import numpy as np

from . import clipping, passes
from .codegen import RUNTIME, Into, IntoSlice, View, template_for
from .node import Constant, Node, Parameter, Placeholder, as_float_array, require_nodes
from .optimizers import _TOO_LARGE_WITH_DECAY, SGD, Adam, Momentum, _trainables
from .passes import (
    BackwardPass,
    choose_loss,
    count_non_finite,
    describe_non_finite,
    is_as_sorted,
    require_inputs_first,
)
from .sort import end_nodes

# Put where a placeholder keeps the value its last forward (or backward) pass used, once the
# compiled step has changed its value in place: the passes compare values by identity, and
# would not otherwise see that the value changed (see _Runtime.check_graph).
CHANGED_IN_PLACE = np.zeros(0)

_KINDS = {"SoftmaxCrossEntropy": "cross_entropy", "MaxPool2d": "pool", "Conv2d": "conv",
          "BatchNorm": "batchnorm"}
_RESERVED = set(RUNTIME) | set(dir(builtins)) | set(keyword.kwlist) | {
    "feed", "key", "plans", "make_plan", "graph", "nodes", "optimizer", "theta", "grads",
    "new_theta", "decayed", "scratch", "velocity", "new_velocity", "moment1", "moment2",
    "new_moment1", "new_moment2", "steps", "t", "lr", "decay", "beta", "beta1", "beta2",
    "eps", "g", "isfinite", "Node", "passes", "as_float_array", "held", "sent", "new_pass",
    "this_pass", "check_graph", "check_feed", "check_update", "refuse_loss", "keep_adam_state",
    "changes", "forward_seen", "state_seen", "first_node", "step", "max_norm", "norm",
    "factor", "sqrt", "clip_norm"}
_CACHED_PLANS = 32  # batch shapes kept per compiled step (every plan is forgotten past that)


def compile(graph: list[Node], optimizer=None, loss: Node | None = None,
            clip_grad_norm: float | None = None):
    """Compile a training step of ``graph`` (an order from ``topological_sort``): one function
    that runs forward, backward and the optimizer's update on a batch, as ``forward(graph)``,
    ``backward(graph, loss)`` and ``optimizer.step(graph)`` would, with no per-node dispatch.

    ``optimizer``: an ``fw.SGD``, ``fw.Momentum`` or ``fw.Adam`` (default ``fw.SGD(0.1)``);
    ``loss``: as in ``backward`` (default: the graph's loss); ``clip_grad_norm``: None (no
    clipping) or a number > 0, the ``max_norm`` of ``fw.clip_grad_norm``, which the step then
    does between backward and the update, as the interpreted loop ``forward``, ``backward``,
    ``clip_grad_norm(graph, max_norm)``, ``optimizer.step`` would (before weight decay is
    added, and refusing a gradient that holds a NaN or an inf, with nothing changed).
    Returns ``step``:

    - ``step({x: X_batch, y: y_batch})`` trains on one batch and returns the loss, a float.
      Feed every data placeholder the loss depends on; batch sizes may change between calls;
    - ``step.source`` is the code it runs, ``step.theta`` and ``step.grads`` the flat arrays of
      the trainable parameters and of their gradients (each parameter's ``.value`` is a view
      of ``theta``), ``step.parameters`` the trainable nodes in the order ``theta`` holds them.

    See the module's docstring for what it keeps of the interpreted passes' guarantees.
    """
    max_norm = None if clip_grad_norm is None else _checked_clip(clip_grad_norm)
    return _Compiler(graph, SGD(0.1) if optimizer is None else optimizer, loss,
                     max_norm).build()


def _checked_clip(max_norm) -> float:
    """``clip_grad_norm=`` as a float, checked as ``fw.clip_grad_norm`` checks its
    ``max_norm``, in the same words."""
    not_to_clip = " (or None, not to clip)"
    return clipping._checked_max_norm(max_norm, "compile: clip_grad_norm", not_to_clip,
                                      not_to_clip)


class _Info:
    """What the compiler knows of one node."""

    def __init__(self, node: Node, kind: str, template=None):
        self.node, self.kind, self.template = node, kind, template
        self.var = self.ref = self.grad = None  # its value's, its node's and its gradient's names
        # "flat" (a parameter: a view of the flat gradient array), "buffer" (its own array),
        # "alias" (bound to what its one output sends), "one" or "ones" (the loss)
        self.grad_mode = None
        self.segment = 0
        self.gathered = False  # its readers each write their slice of its gradient (IntoSlice)
        self.sends = {}  # slot → View or Into (compiled ops in the backward pass)
        self.prelude = []
        self.needs = []  # the input slots it sends a gradient to
        self.own = {}  # suffix → plan name, in order (codegen's c.own)


class _Context:
    """What a template sees at codegen (``c``): names. See codegen.py."""

    def __init__(self, compiler, info: _Info):
        node = info.node
        self.node, self.out, self.ref, self.info = node, info.var, info.ref, info
        self.compiler = compiler
        self.x = [compiler.info[i].var for i in node.inputs]
        self.literal = [compiler.info[i].kind == "literal" for i in node.inputs]
        self.stable = [compiler.is_stable(i) for i in node.inputs]
        self.needs = info.needs
        self.G = None

    def own(self, suffix: str) -> str:
        names = self.info.own
        if suffix not in names:
            names[suffix] = self.compiler.unique(f"{self.out}_{suffix}")
        return names[suffix]

    def constant(self, value) -> str:
        """A number as it is written in the code: a literal, or a name for NaN and inf."""
        if isinstance(value, int | float) and math.isfinite(value):
            return repr(value)
        return self.compiler.bind(value, "number")


class _Compiler:
    def __init__(self, graph, optimizer, loss, max_norm=None):
        if type(optimizer) not in (SGD, Momentum, Adam):
            raise TypeError(f"compile: optimizer must be an fw.SGD, fw.Momentum or fw.Adam, got "
                            f"{optimizer!r} ({type(optimizer).__name__}); another optimizer "
                            "trains with the interpreted loop (forward, backward, step)")
        self.as_sorted = is_as_sorted(graph)
        if not self.as_sorted:
            require_inputs_first(graph)  # also refuses anything but a list of nodes
        require_nodes(graph)
        if not graph:
            raise ValueError("compile got an empty graph; sort one with topological_sort first")
        if len(set(graph)) != len(graph):
            twice = next(node for i, node in enumerate(graph) if node in graph[:i])
            raise ValueError(f"{twice!r} is in the graph twice; compile an order in which each "
                             "node comes once, as topological_sort makes it")
        self.graph, self.nodes, self.optimizer = graph, list(graph), optimizer
        self.max_norm = max_norm
        self.loss = choose_loss(graph, loss)
        self.loss_given = loss is not None
        self.params = list(_trainables(graph))
        self.names, self.globals = set(), {}
        self.analyse()
        self.name_everything()

    # Analysis: which nodes need a gradient, which send one to which, and how each compiles.

    def analyse(self):
        nodes, loss = self.nodes, self.loss
        needs = {}
        for node in nodes:  # as mark_needs_gradient, afresh (a node frozen since has old marks)
            needs[node] = node._is_trainable or any(needs.get(i, False) for i in node.inputs)
        self.info = {}
        for node in nodes:
            if isinstance(node, Placeholder):
                if node.is_trainable:
                    kind = "param"
                elif isinstance(node, Constant):
                    kind = "literal" if np.ndim(node.value) == 0 else "constant"
                elif isinstance(node, Parameter):
                    kind = "held"  # frozen: its value, unless fed
                else:
                    kind = "fed"  # data: fed, or its value as it is
                self.info[node] = _Info(node, kind)
            else:
                template = template_for(node)
                self.info[node] = _Info(node, "op" if template else "fallback", template)
        self.require_gathering_readers()
        # Labels read by cross-entropies only are fed as they are (see codegen.as_labels).
        for node in nodes:
            info = self.info[node]
            readers = [o for o in node.outputs if o in self.info]
            info.labels = info.kind == "fed" and bool(readers) and all(
                type(self.info[o].template).__name__ == "SoftmaxCrossEntropyOp"
                and o.inputs[0] is not node for o in readers)
        # The backward pass: from the loss, to every input that needs a gradient.
        reached = {loss} if needs[loss] else set()
        self.arrivals = {}  # receiver → [(sender, slot)] in the order the backward code runs
        for node in reversed(nodes):
            info = self.info[node]
            if node not in reached or info.kind in ("param", "fed", "held", "constant",
                                                    "literal"):
                continue
            if info.kind == "fallback":  # it sends what it sends; one gradient per input
                for i in dict.fromkeys(node.inputs):
                    if needs[i]:
                        reached.add(i)
                        self.arrivals.setdefault(i, []).append((node, None))
                continue
            sends_to = info.template.receivers(node)
            for slot, i in enumerate(node.inputs):
                if needs[i] and (sends_to is None or slot in sends_to):
                    info.needs.append(slot)
                    reached.add(i)
                    self.arrivals.setdefault(i, []).append((node, slot))
        self.reached = reached
        self.fallbacks = [n for n in nodes if self.info[n].kind == "fallback"]
        segment = 0
        for node in nodes:
            self.info[node].segment = segment
            if self.info[node].kind == "fallback":
                segment += 1  # what comes after is planned once its value's shape is known
        self.segments = segment + 1

    def require_gathering_readers(self):
        """A reader that sends an IntoSlice (a recurrent step) writes only its slice of its
        input's gradient, so every reader of that input must: if another op reads it too (a
        graph that reads a recurrent layer's input term), those readers run their own methods
        instead, which add the gradients up as the interpreted pass does."""
        sources = dict.fromkeys(node.inputs[slot] for node in self.nodes
                                if (slot := self.gathers(node)) is not None)
        for source in sources:
            readers = [o for o in source.outputs if o in self.info]
            if not all(self.reads_a_slice(r, source) for r in readers):
                for reader in readers:
                    if self.gathers(reader) is not None:
                        self.info[reader] = _Info(reader, "fallback")

    def gathers(self, node) -> int | None:
        """The input slot that ``node`` sends an IntoSlice, if it does."""
        return getattr(self.info[node].template, "gathers", None)

    def reads_a_slice(self, reader, source) -> bool:
        slot = self.gathers(reader)
        return slot is not None and reader.inputs[slot] is source and \
            sum(i is source for i in reader.inputs) == 1

    def is_stable(self, node) -> bool:
        """Is the node's variable the same array at every step of one plan?"""
        info = self.info[node]
        return info.kind in ("param", "constant") or (
            info.kind == "op" and info.template.value in ("buffer", "plan"))

    # Names.

    def unique(self, name: str) -> str:
        base, n = name, 1
        while name in self.names or name in _RESERVED:
            n += 1
            name = f"{base}_{n}"
        self.names.add(name)
        return name

    def bind(self, value, name: str) -> str:
        """A global of the compiled code holding ``value``."""
        name = self.unique(name)
        self.globals[name] = value
        return name

    def name_everything(self):
        counters = {}
        for node in self.nodes:
            info = self.info[node]
            kind = _KINDS.get(type(node).__name__, type(node).__name__.lower())
            name = node.name if isinstance(node.name, str) else ""
            if not isinstance(node, Placeholder) and re.fullmatch(
                    rf"{re.escape(type(node).__name__)}_\d+", name):
                name = ""  # the default name: called by its kind instead
            name = re.sub(r"\W", "_", name)
            if name and name[0].isdigit():
                name = ("p" if info.kind == "param" else kind[0]) + name
            if not name.isidentifier() or info.kind in ("constant", "literal"):
                name = ""
            if not name:
                counters[kind] = counters.get(kind, 0) + 1
                name = f"{'c' if info.kind in ('constant', 'literal') else kind}{counters[kind]}"
            if info.kind == "literal":
                value = float(node.value)
                info.var = repr(value) if math.isfinite(value) else self.bind(node.value, name)
            else:
                info.var = self.unique(name)
            info.ref = self.unique(f"{name}_node")
            self.globals[info.ref] = node
        for node in self.nodes:
            info = self.info[node]
            if node in self.reached and info.kind != "fallback":
                info.grad = self.unique(f"d_{info.var}") if info.kind != "literal" else None

    # The code.

    def build(self):
        runtime = _Runtime(self)
        source = self.source(runtime)
        namespace = {**RUNTIME, **self.globals, **runtime.namespace()}
        filename = f"<compiled step {next(_step_numbers)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(builtins.compile(source, filename, "exec"), namespace)
        step = namespace["step"]
        runtime.ns = namespace
        step.source = source
        step.graph, step.loss, step.optimizer = self.graph, self.loss, self.optimizer
        step.theta, step.grads, step.parameters = runtime.theta, runtime.grads, list(self.params)
        return step

    def source(self, runtime) -> str:
        for node in self.nodes:  # the templates name what they use, forward and backward
            info = self.info[node]
            if info.kind == "op":
                c = _Context(self, info)
                info.forward = info.template.forward(c)
                if info.needs:
                    c.G = self.upstream(info)
                    info.prelude, info.sends = info.template.backward(c)
                    for send in info.sends.values():  # so that every name it uses is known
                        if isinstance(send, Into):
                            send.write("out")
        self.plan_targets()
        body = [*self.guard(runtime), *self.feed(runtime), "# forward"]
        self.values_set = set()
        for node in self.nodes:
            body += self.forward(node)
        loss = self.info[self.loss].var
        body.append(f"if not isfinite({loss}): refuse_loss(locals())  # names the first NaN or inf")
        backward = self.backward()
        if backward:
            body += ["# backward", *backward]
        body += runtime.clip_code()
        body += runtime.update_code()
        body.append(f"return float({loss})")
        head = ["def step(feed):",
                f'    """One training step of {self.loss!r} on a batch: forward, backward, '
                f'{type(self.optimizer).__name__}."""']
        return "\n".join(head + ["    " + line for line in body]) + "\n"

    def upstream(self, info: _Info) -> str:
        """The name (or literal) of the gradient that flows into a compiled op."""
        if info.node is self.loss:
            if info.template.scalar:
                info.grad_mode = "one"
                return "1.0"
            info.grad_mode = "ones"
        return info.grad

    # Where each gradient goes. A receiver with one sender takes it as it is (a view) or has it
    # written into its own gradient array; with two, the second is added to the first; with
    # more, each is kept apart and they are added in the order of the receiver's outputs, as
    # Node.upstream_gradient adds them (floating-point addition is not associative).

    def plan_targets(self):
        self.targets = {}  # (sender, slot) → the array name an Into writes to
        self.temps = {}  # scratch gradient → (the node whose plan makes it, whose shape it has)
        for receiver, arrivals in self.arrivals.items():
            info = self.info[receiver]
            if info.kind == "fallback":  # each compiled sender hands over its own gradient
                for sender, slot in arrivals:
                    if slot is not None and isinstance(self.info[sender].sends[slot], Into):
                        name = self.unique(f"d_{info.var}_from_{self.info[sender].var}")
                        self.targets[(sender, slot)] = name
                        self.temps[name] = (sender, receiver)
                continue
            if all(slot is not None and isinstance(self.info[s].sends[slot], IntoSlice)
                   for s, slot in arrivals):  # each writes its slice: one array, nothing added
                info.gathered = True
                info.grad_mode = "flat" if info.kind == "param" else "buffer"
                self.targets.update((arrival, info.grad) for arrival in arrivals)
                continue
            kinds = [self.kind_of(s, slot) for s, slot in arrivals]
            n = len(arrivals)
            if info.kind == "param":
                info.grad_mode = "flat"
            elif n == 1 and kinds[0] == "view":
                info.grad_mode = "alias"
            else:
                info.grad_mode = "buffer"
            for k, ((sender, slot), kind) in enumerate(zip(arrivals, kinds, strict=True)):
                if kind != "into":
                    continue
                if n == 1 or (n == 2 and k == 0):
                    self.targets[(sender, slot)] = info.grad
                else:
                    name = self.unique(f"{info.grad}_{k + 1}")
                    self.targets[(sender, slot)] = name
                    self.temps[name] = (sender, receiver)
            info.group_temps = {}
            if n > 2:  # what one sender sent twice (a * a) is added first, apart
                last_sender = arrivals[-1][0]
                for group in self.groups(receiver)[1:]:
                    if len(group) > 1:
                        name = self.unique(f"{info.grad}_{self.info[group[0][0]].var}")
                        info.group_temps[group[0][0]] = name
                        self.temps[name] = (last_sender, receiver)

    def kind_of(self, sender, slot) -> str:
        if slot is None:  # a fallback sends what its backward put in its gradients
            return "view"
        return "view" if isinstance(self.info[sender].sends[slot], View) else "into"

    def groups(self, receiver):
        """The arrivals at ``receiver`` grouped by sender, in the order of its outputs."""
        arrivals = self.arrivals[receiver]
        return [[a for a in arrivals if a[0] is output]
                for output in dict.fromkeys(receiver.outputs)
                if any(a[0] is output for a in arrivals)]

    # Sections of the code.

    def guard(self, runtime) -> list[str]:
        checks = ["Node.trainability_changes != changes",
                  "not graph.as_sorted" if self.as_sorted else "graph != nodes",
                  "passes._latest_forward_pass != forward_seen"]
        checks += [f"{self.info[p].ref}.value is not {self.info[p].var}" for p in self.params]
        if runtime.state_kind and self.params:
            checks.append("optimizer.state.get(first_node) is not state_seen")
        return ["# changed since compiled? (a node frozen, the order edited, a value set by hand)",
                *_wrap("if (", checks, " or ", "):"), "    check_graph()"]

    def feed(self, runtime) -> list[str]:
        fed = [n for n in self.nodes if self.info[n].kind == "fed"]
        held = [n for n in self.nodes if self.info[n].kind == "held"]
        runtime.fed, runtime.held = fed, held
        lines = []
        if fed:
            present = [f"{self.info[n].ref} not in feed" for n in fed]
            lines += [*_wrap("if (", ["type(feed) is not dict", f"len(feed) != {len(fed)}",
                                      *present], " or ", "):"),
                      "    feed = check_feed(feed)  # refuses a stranger; one not fed: its value"]
        else:
            lines += ["if feed: check_feed(feed)"]
        for node in fed:
            info = self.info[node]
            convert = "as_labels" if info.labels else "as_float_array"
            lines.append(f"{info.var} = {convert}(feed[{info.ref}], {info.ref})")
        for node in held:
            info = self.info[node]
            lines.append(f"{info.var} = held(feed, {info.ref})  # not fed: its value")
        sources = [f"{self.info[n].var}.shape" for n in fed + held]
        self.plan_names = self.collect_plan_names()
        if any(self.plan_names) or self.fallbacks:
            lines.append(f"key = ({', '.join(sources)}{',' if len(sources) == 1 else ''})")
            lines += self.unpack(0)
        return lines

    def unpack(self, segment: int) -> list[str]:
        names = self.plan_names[segment]
        if not names:
            return []
        get = f" = plans{segment}.get(key) or make_plan({segment}, key)"
        if len(names) == 1:
            return [f"{names[0]}, = {get[3:]}"]
        return _wrap("(", names, ", ", ")" + get)

    def collect_plan_names(self) -> list[list[str]]:
        """The names each plan unpacks, per segment, in the order the planner makes them; and
        ``plan_entries[node]``: (what, name) of what the node's plan makes."""
        segments = [[] for _ in range(self.segments)]
        self.plan_entries = {}
        for node in self.nodes:
            info = self.info[node]
            if info.kind != "op":
                continue
            entries = []
            if info.template.value in ("buffer", "plan"):
                entries.append(("value", info.var))
            if info.grad_mode in ("buffer", "ones"):
                entries.append(("grad", info.grad))
            entries += [("temp", name) for name, (owner, _) in self.temps.items()
                        if owner is node]
            entries += [(suffix, name) for suffix, name in info.own.items()
                        if suffix not in info.template.made_in_code]
            self.plan_entries[node] = entries
            segments[info.segment] += [name for _, name in entries]
        return segments

    def forward(self, node) -> list[str]:
        info = self.info[node]
        if info.kind == "op":
            return info.forward
        if info.kind != "fallback":
            return []
        lines = []
        for i in dict.fromkeys(node.inputs):  # what its forward reads, set once a step
            source = self.info[i]
            if source.kind in ("fed", "held", "op") and i not in self.values_set:
                self.values_set.add(i)
                lines.append(f"{source.ref}.value = {source.var}")
        lines += [f"{info.ref}.forward()  # {type(node).__name__}: not compiled, its own forward",
                  f"{info.var} = np.asarray({info.ref}.value)"]
        if info.segment + 1 < self.segments and (any(self.plan_names[info.segment + 1:])):
            lines.append(f"key = key + ({info.var}.shape,)")
            lines += self.unpack(info.segment + 1)
        return lines

    def backward(self) -> list[str]:
        lines = []
        fallback_receivers = {r for r in self.arrivals if self.info[r].kind == "fallback"}
        if any(n in self.reached for n in self.fallbacks):
            lines.append("this_pass = new_pass()  # what the nodes that are not compiled read")
        self.arrived = {r: [] for r in self.arrivals}
        for node in reversed(self.nodes):
            info = self.info[node]
            if node not in self.reached:
                continue
            if info.kind == "fallback":
                lines += [f"{info.ref}.gradients = {{}}; {info.ref}.backward_pass = this_pass",
                          f"{info.ref}.backward()  # {type(node).__name__}: not compiled, its "
                          "own backward"]
                for i in dict.fromkeys(node.inputs):  # (another such node reads it itself)
                    if (node, None) in self.arrivals.get(i, []) and \
                            self.info[i].kind != "fallback":
                        view = View(f"sent({info.ref}, {self.info[i].ref}, {self.info[i].var})")
                        lines += self.deliver(node, None, i, view)
                continue
            if info.kind != "op" or not info.needs:
                continue
            if any(node.inputs[s] in fallback_receivers for s in info.needs):
                lines.append(f"{info.ref}.gradients = {{}}; {info.ref}.backward_pass = this_pass")
            lines += info.prelude
            for slot in info.needs:
                lines += self.deliver(node, slot, node.inputs[slot], info.sends[slot])
        return lines

    def deliver(self, sender, slot, receiver, send) -> list[str]:
        """The lines that put what ``sender`` sends from ``slot`` into ``receiver``'s gradient."""
        info, lines = self.info[receiver], []
        target = self.targets.get((sender, slot))
        if isinstance(send, View):
            lines += send.lines
            value = send.expr
        else:
            lines += send.write(target)
            value = target
        if info.gathered:
            return lines
        if info.kind == "fallback":
            ref, mine = self.info[sender].ref, info.ref
            first = next(s for s, _ in enumerate(sender.inputs) if sender.inputs[s] is receiver)
            if slot == first:
                lines.append(f"{ref}.gradients[{mine}] = {value}")
            else:
                lines.append(f"{ref}.gradients[{mine}] = {ref}.gradients[{mine}] + {value}")
            return lines
        arrivals, arrived = self.arrivals[receiver], self.arrived[receiver]
        arrived.append((sender, slot))
        k, n, grad = len(arrived) - 1, len(arrivals), info.grad
        if n == 1:
            if isinstance(send, View):
                lines.append(f"np.copyto({grad}, {value})" if info.grad_mode == "flat"
                             else f"{grad} = {value}")
        elif n == 2:
            if isinstance(send, View):
                lines.append(f"np.copyto({grad}, {value})" if k == 0
                             else f"np.add({grad}, {value}, out={grad})")
            elif k == 1:
                lines.append(f"np.add({grad}, {value}, out={grad})")
        else:
            if isinstance(send, View):
                name = self.unique(f"{grad}_{k + 1}")
                lines.append(f"{name} = {value}")
                self.targets[(sender, slot)] = name
            if k == n - 1:
                lines += self.add_in_order(receiver)
        return lines

    def add_in_order(self, receiver) -> list[str]:
        info = self.info[receiver]
        grad, lines = info.grad, []
        for k, group in enumerate(self.groups(receiver)):
            parts = [self.targets[a] for a in group]
            if k == 0:
                if len(parts) == 1:
                    lines.append(f"np.copyto({grad}, {parts[0]})")
                else:
                    lines.append(f"np.add({parts[0]}, {parts[1]}, out={grad})")
                    lines += [f"np.add({grad}, {p}, out={grad})" for p in parts[2:]]
            elif len(parts) == 1:
                lines.append(f"np.add({grad}, {parts[0]}, out={grad})")
            else:
                temp = info.group_temps[group[0][0]]
                lines.append(f"np.add({parts[0]}, {parts[1]}, out={temp})")
                lines += [f"{temp} += {p}" for p in parts[2:]]
                lines.append(f"np.add({grad}, {temp}, out={grad})")
        return lines


_step_numbers = itertools.count(1)


def _wrap(head: str, items: list[str], joiner: str, tail: str) -> list[str]:
    """``head + joiner.join(items) + tail`` as lines of at most about 96 characters (the
    items broken after a joiner, so ``head`` must open a parenthesis if there are several)."""
    text = head + joiner.join(items) + tail
    if len(text) <= 96:
        return [text]
    lines, line = [], head
    for i, item in enumerate(items):
        piece = item + (joiner.rstrip() if i < len(items) - 1 else tail)
        if len(line) + len(piece) > 96 and line != head:
            lines.append(line.rstrip())
            line = "        "
        line += piece + " "
    lines.append(line.rstrip())
    return lines


class _Plan:
    """What a template's ``plan`` sees (``p``): the shapes, and the arrays made so far."""

    def __init__(self, node, shapes, out_shape, inputs, needs, arrays, targets):
        self.node, self.shapes, self.out_shape = node, shapes, out_shape
        self.inputs, self.needs = inputs, needs
        self._arrays, self._targets = arrays, targets

    def target(self, slot):
        return self._arrays[self._targets[(self.node, slot)]]


class _Record:
    def __init__(self, shapes, arrays):
        self.shapes, self.arrays = shapes, arrays


def sandboxed_forward(node, values):
    """The shape of ``node.forward()``'s value for inputs holding ``values``; the node and its
    inputs are left as they were. A shape that does not fit raises the node's own error."""
    saved = [(i, i.value) for i in node.inputs]
    value, attributes = node.value, dict(node.__dict__)
    try:
        for i, v in zip(node.inputs, values, strict=True):
            i.value = v
        with np.errstate(all="ignore"):
            node.forward()
        return np.shape(node.value)
    finally:
        for i, v in reversed(saved):
            i.value = v
        node.value = value
        node.__dict__.clear()
        node.__dict__.update(attributes)


class _Runtime:
    """The state the compiled code works on, and what it calls when something is amiss."""

    def __init__(self, compiler: _Compiler):
        self.c = compiler
        self.graph, self.nodes, self.loss = compiler.graph, compiler.nodes, compiler.loss
        self.optimizer, self.params = compiler.optimizer, compiler.params
        self.owner = type(self.optimizer).__name__
        self.state_kind = {Momentum: "momentum", Adam: "adam"}.get(type(self.optimizer))
        # One flat array of every trainable value; each node's value becomes a view of it.
        sizes, values = [], []
        for node in self.params:
            value = node.value
            if value is None:
                raise ValueError(f"{node!r} has no value: give it one before compiling, e.g. "
                                 f"topological_sort({{{node.name}: array}})")
            value = as_float_array(value, node)
            values.append(value)
            sizes.append(value.size)
        self.slices = list(itertools.pairwise([0, *itertools.accumulate(sizes)]))
        total = self.slices[-1][1] if self.slices else 0
        self.theta, self.grads = np.zeros(total), np.zeros(total)
        self.views = self.flat_views(self.theta, values)
        self.grad_views = self.flat_views(self.grads, values)
        for view, value in zip(self.views, values, strict=True):
            view[...] = value
        if self.state_kind == "momentum":
            self.velocity = np.zeros(total)
            self.state_views = [self.flat_views(self.velocity, values)]
        elif self.state_kind == "adam":
            self.moments = np.zeros(total), np.zeros(total)
            self.state_views = [self.flat_views(m, values) for m in self.moments]
        if self.loss in compiler.info and compiler.info[self.loss].kind == "param":
            self.grad_views[self.params.index(self.loss)][...] = 1.0  # ∂loss/∂loss
        self.plans = [{} for _ in range(compiler.segments)]
        self.records = [{} for _ in range(compiler.segments)]
        self.ns = None

    def flat_views(self, flat, like):
        return [flat[a:b].reshape(np.shape(v)) for (a, b), v in zip(self.slices, like,
                                                                     strict=True)]

    def namespace(self) -> dict:
        c = self.c
        ns = {"np": np, "isfinite": math.isfinite, "Node": Node, "passes": passes,
              "as_float_array": as_float_array, "graph": self.graph, "nodes": self.nodes,
              "optimizer": self.optimizer, "theta": self.theta, "grads": self.grads,
              "new_theta": np.zeros_like(self.theta), "scratch": np.zeros_like(self.theta),
              "decayed": np.zeros_like(self.theta),
              "changes": Node.trainability_changes, "forward_seen": passes._latest_forward_pass,
              "check_graph": self.check_graph, "check_feed": self.check_feed,
              "check_update": self.check_update, "refuse_loss": self.refuse_loss,
              "held": _held, "sent": _sent, "new_pass": self.new_pass, "make_plan": self.plan,
              "first_node": self.params[0] if self.params else None, "state_seen": None}
        if c.max_norm is not None:
            ns.update(max_norm=c.max_norm, sqrt=math.sqrt, clip_norm=self.clip_norm)
        for j, plans in enumerate(self.plans):
            ns[f"plans{j}"] = plans
        for node, view, grad in zip(self.params, self.views, self.grad_views, strict=True):
            ns[c.info[node].var] = view
            ns[c.info[node].grad] = grad
            node.value = view
        for node in self.nodes:
            if c.info[node].kind == "constant":
                ns[c.info[node].var] = node.value
        if self.state_kind == "momentum":
            ns["velocity"], ns["new_velocity"] = self.velocity, np.zeros_like(self.velocity)
        elif self.state_kind == "adam":
            ns["moment1"], ns["moment2"] = self.moments
            ns["new_moment1"], ns["new_moment2"] = (np.zeros_like(m) for m in self.moments)
            ns["keep_adam_state"] = self.keep_adam_state
        self.ns = ns
        self.import_state()
        return ns

    # Clipping, and the update.

    def clip_code(self) -> list[str]:
        """``clip_grad_norm(graph, max_norm)`` on the flat gradient array, if asked: one dot
        product for the norm; the slow path (a NaN or inf, or squares that overflow) is
        ``clipping.global_norm`` itself, which refuses as the interpreted call does."""
        max_norm = self.c.max_norm
        if max_norm is None or not self.params:
            return []
        lines = ["# clip: g ← g · max_norm / (‖g‖ + 1e-6) if that is below 1 (clip_grad_norm)"]
        if any(p is self.loss for p in self.params):  # ∂loss/∂loss: the last step scaled it
            lines.append(f"{self.c.info[self.loss].grad}[...] = 1.0")
        return [*lines,
                "norm = grads.dot(grads)",
                "norm = sqrt(norm) if isfinite(norm) else clip_norm()  # a NaN or inf?",
                f"factor = max_norm / (norm + {clipping.EPSILON!r})",
                "if factor < 1.0:",
                "    np.multiply(grads, factor, out=grads)"]

    def clip_norm(self) -> float:
        """The slow path of the norm: refuse a NaN or an inf as ``clip_grad_norm`` does, naming
        the gradient (nothing was changed yet); or the norm of finite gradients whose squares
        overflowed."""
        return clipping.global_norm(self.params, self.grad_views)

    def update_code(self) -> list[str]:
        """The optimizer's update of every parameter at once, on the flat arrays: the same
        arithmetic as its ``update``, all or nothing. (The flat arrays are globals of the
        compiled code, so it writes into them with ``out=``, never ``+=``.)"""
        if not self.params:
            return []
        kind = self.state_kind
        decayed = ["g = grads",
                   "if decay:  # weight decay: g + λθ",
                   "    g = np.add(grads, np.multiply(theta, decay, out=decayed), out=decayed)"]
        if kind is None:
            lines = ["# update: SGD, θ ← θ - η (g + λθ), every parameter at once",
                     "lr, decay = optimizer._learning_rate, optimizer._weight_decay", *decayed,
                     "np.multiply(g, lr, out=new_theta); np.subtract(theta, new_theta, "
                     "out=new_theta)"]
            keep = []
        elif kind == "momentum":
            lines = ["# update: Momentum, v ← β v + g;  θ ← θ - η v, every parameter at once",
                     "lr, beta = optimizer._learning_rate, optimizer._beta",
                     "decay = optimizer._weight_decay", *decayed,
                     "np.multiply(velocity, beta, out=new_velocity); "
                     "np.add(new_velocity, g, out=new_velocity)",
                     "np.multiply(new_velocity, lr, out=new_theta); "
                     "np.subtract(theta, new_theta, out=new_theta)"]
            keep = ["np.copyto(velocity, new_velocity)"]
        else:
            lines = ["# update: Adam, m ← β₁ m + (1 - β₁) g;  s ← β₂ s + (1 - β₂) g²;",
                     "#   θ ← θ - η m̂ / (√ŝ + ε), m̂ = m / (1 - β₁ᵗ), ŝ = s / (1 - β₂ᵗ)",
                     "lr, beta1, beta2 = optimizer._learning_rate, optimizer._beta1, "
                     "optimizer._beta2",
                     "eps, decay = optimizer._epsilon, optimizer._weight_decay", *decayed,
                     "t = steps + 1",
                     "np.multiply(moment1, beta1, out=new_moment1); "
                     "np.multiply(g, 1 - beta1, out=scratch)",
                     "np.add(new_moment1, scratch, out=new_moment1)",
                     "np.multiply(g, 1 - beta2, out=scratch); np.multiply(scratch, g, out=scratch)",
                     "np.multiply(moment2, beta2, out=new_moment2); "
                     "np.add(new_moment2, scratch, out=new_moment2)",
                     "np.divide(new_moment1, 1 - beta1**t, out=new_theta); "
                     "np.multiply(new_theta, lr, out=new_theta)",
                     "np.divide(new_moment2, 1 - beta2**t, out=scratch); "
                     "np.sqrt(scratch, out=scratch); np.add(scratch, eps, out=scratch)",
                     "np.divide(new_theta, scratch, out=new_theta); "
                     "np.subtract(theta, new_theta, out=new_theta)"]
            keep = ["np.copyto(moment1, new_moment1); np.copyto(moment2, new_moment2)",
                    "keep_adam_state(t)"]
        return [*lines,
                "if not isfinite(new_theta.dot(new_theta)): check_update(new_theta)  "
                "# a NaN or inf?",
                "np.copyto(theta, new_theta)  # all or nothing: only now is anything changed",
                *keep]

    def import_state(self):
        """Take the optimizer's state for these parameters into the flat arrays (zeros where it
        has none), and make ``optimizer.state`` hold views of them."""
        if self.state_kind is None or not self.params:
            return
        state, owner = self.optimizer.state, self.owner
        found = {node: state.get(node) for node in self.params}
        for node, entry in found.items():
            if entry is not None:
                self.optimizer._check_state(node, entry)
        if self.state_kind == "adam":
            counts = {node: 0 if entry is None else entry[2] for node, entry in found.items()}
            if len(set(counts.values())) > 1:
                listed = ", ".join(f"{node!r}: {t}" for node, t in counts.items())
                raise ValueError(
                    f"{owner}: the parameters have taken different numbers of steps ({listed}); "
                    "a compiled step keeps one step count for all of them. Call reset() on the "
                    "optimizer to start them all afresh, or train with the interpreted loop"
                )
            self.ns["steps"] = next(iter(counts.values()))
        for i, views in enumerate(self.state_views):
            for node, view in zip(self.params, views, strict=True):
                entry = found[node]
                view[...] = 0.0 if entry is None else entry[i]
        self.keep_state()

    def keep_state(self):
        state = self.optimizer.state
        if self.state_kind == "momentum":
            for node, view in zip(self.params, self.state_views[0], strict=True):
                state[node] = (view,)
        else:
            t = self.ns["steps"]
            for node, m, s in zip(self.params, *self.state_views, strict=True):
                state[node] = (m, s, t)
        self.ns["state_seen"] = state[self.params[0]]

    def keep_adam_state(self, t):
        self.ns["steps"] = t
        self.keep_state()

    # Plans: the arrays of one batch shape.

    def plan(self, segment: int, key: tuple):
        """Make (and keep) the arrays of one batch shape: ``key`` holds the shapes of the fed
        placeholders, then of the values of the nodes not compiled, up to this segment."""
        c = self.c
        if segment == 0:
            if sum(map(len, self.plans)) >= _CACHED_PLANS:  # forget them all (a later
                for plans, records in zip(self.plans, self.records, strict=True):  # segment's
                    plans.clear()  # plan holds views of an earlier one's arrays)
                    records.clear()
            shapes, arrays = dict(zip(self.fed + self.held, key, strict=True)), dict(self.ns)
            for node in self.nodes:
                if c.info[node].kind in ("param", "constant", "literal"):
                    shapes[node] = np.shape(node.value)
        else:
            if key[:-1] not in self.records[segment - 1]:
                self.plan(segment - 1, key[:-1])
            before = self.records[segment - 1][key[:-1]]
            shapes, arrays = dict(before.shapes), dict(before.arrays)
            shapes[c.fallbacks[segment - 1]] = key[-1]
        zeros = {}

        def dummy(node):  # what a sandboxed forward reads: zeros, or a placeholder's value
            if c.info[node].kind in ("param", "constant", "literal"):
                return node.value
            if node not in zeros:
                zeros[node] = np.zeros(shapes[node])
            return zeros[node]

        for node in self.nodes:
            info = c.info[node]
            if info.segment != segment or info.kind != "op":
                continue
            shape = info.template.infer(node, [dummy(i) for i in node.inputs], sandboxed_forward)
            shapes[node] = shape
            for what, name in c.plan_entries[node]:
                if what == "value" and info.template.value == "buffer":
                    arrays[name] = np.empty(shape)
                elif what == "grad":
                    arrays[name] = (np.ones if info.grad_mode == "ones" else np.zeros)(shape)
                elif what == "temp":
                    arrays[name] = np.zeros(shapes[c.temps[name][1]])
            inputs = [arrays[c.info[i].var] if c.is_stable(i) else None for i in node.inputs]
            p = _Plan(node, [shapes[i] for i in node.inputs], shape, inputs, info.needs,
                      arrays, c.targets)
            made = info.template.plan(p)
            if info.template.value == "plan":
                arrays[info.var] = made["value"]
            for suffix, name in info.own.items():
                if suffix in made:
                    arrays[name] = made[suffix]
        self.require_scalar_loss(shapes)
        self.records[segment][key] = _Record(shapes, arrays)
        values = tuple(arrays[name] for name in c.plan_names[segment])
        self.plans[segment][key] = values
        return values

    def require_scalar_loss(self, shapes):
        """As backward refuses a loss that is not a single number, or a choice of losses."""
        shape = shapes.get(self.loss)
        if shape is not None and math.prod(shape) != 1:
            raise ValueError(
                f"the loss must be a single number (a scalar); {self.loss!r} has value shape "
                f"{shape}. Make sure the loss is the last node of the order (or pass loss=)."
            )
        if self.c.loss_given:
            return
        ends = self.graph.end_nodes if self.c.as_sorted else end_nodes(self.nodes)
        scalars = [n for n in ends if n in shapes and math.prod(shapes[n]) == 1]
        if len(scalars) > 1:
            raise ValueError(f"the graph has {len(scalars)} end nodes that could be the loss: "
                             + ", ".join(map(repr, scalars))
                             + "; say which one with loss=, e.g. fw.compile(graph, loss=...)")

    # When something is amiss.

    def check_feed(self, feed) -> dict:
        """The slow path of the feed: refuse what is not a data placeholder of the graph, and
        return the feed completed with the value of every placeholder not fed, as the
        interpreted loop would use it (one fed once and for all, say); refused if it has none,
        as Placeholder.forward refuses it."""
        if not isinstance(feed, dict):
            raise TypeError(f"a compiled step takes a dict {{placeholder: batch}}, e.g. "
                            f"step({{x: X_batch, y: y_batch}}); got a {type(feed).__name__}")
        for node in feed:
            if node in self.fed or node in self.held:
                continue
            info = self.c.info.get(node) if isinstance(node, Node) else None
            if info is not None and info.kind == "param":
                raise ValueError(f"{node!r} is trained by the step, which keeps its value; to "
                                 "set it, assign its .value between steps")
            where = ("is not in this graph" if info is None else "is a constant"
                     if isinstance(node, Constant) else "is computed from its inputs")
            raise ValueError(f"cannot feed {node!r}: it {where}; a step is fed the data "
                             f"placeholders of its graph ({', '.join(map(repr, self.fed))})")
        completed = dict(feed)
        for node in self.fed:
            if node not in feed:
                if node.value is None:
                    raise ValueError(f"{node!r} has no value: feed it, e.g. "
                                     f"step({{{node.name}: array}})")
                completed[node] = node.value
        return completed

    def refuse_loss(self, frame):
        """The loss is NaN or infinite: put the values the step computed where the interpreted
        forward pass leaves them, and refuse as backward does, naming the first culprit."""
        c = self.c
        for node in self.nodes:
            info = c.info[node]
            if info.kind in ("fed", "held", "op") and info.var in frame:
                value = frame[info.var]
                node.value = value if info.kind in ("fed", "held") else np.copy(value)
        raise FloatingPointError(describe_non_finite(self.graph, self.loss))

    def check_update(self, new_theta):
        """The sum of squares of the new values is not finite: look for the NaN or the inf, as
        the optimizers do. (Finite values so large that their squares overflow pass.)"""
        decay = self.optimizer._weight_decay
        for node, (a, b) in zip(self.params, self.slices, strict=True):
            value = new_theta[a:b]
            if not np.isfinite(value).all():
                grad = self.grads[a:b]
                cause = (f"its gradient holds {count_non_finite(grad)}"
                         if not np.isfinite(grad).all()
                         else "the step overflowed "
                              f"({_TOO_LARGE_WITH_DECAY if decay else 'a learning rate'} "
                              "too large?)")
                raise FloatingPointError(
                    f"{self.owner}: the step would write {count_non_finite(value)} into "
                    f"{node!r}: {cause}. No parameter was changed."
                )

    def new_pass(self):
        return BackwardPass(next(passes._pass_numbers), self.graph, self.loss)

    def check_graph(self):
        """The slow path of the step's first line: something may have changed since the last
        step. Refuse what changes the compiled code; take in what does not."""
        ns, graph = self.ns, self.graph
        if not (self.c.as_sorted and graph.as_sorted) and list(graph) != self.nodes:
            raise self.changed("the order was edited (nodes added, removed or moved)")
        if Node.trainability_changes != ns["changes"]:
            now = [n for n in self.nodes if isinstance(n, Placeholder) and n.is_trainable]
            if now != self.params:
                frozen = [n for n in self.params if n not in now]
                unfrozen = [n for n in now if n not in self.params]
                what = "; ".join(
                    [f"{n!r} was frozen (is_trainable = False)" for n in frozen]
                    + [f"{n!r} was unfrozen (is_trainable = True)" for n in unfrozen])
                raise self.changed(what)
            ns["changes"] = Node.trainability_changes
        set_by_hand = [(node, view, self.taken_in(node, view))
                       for node, view in zip(self.params, self.views, strict=True)
                       if node.value is not view]  # every one checked before any is copied
        for node, view, value in set_by_hand:
            view[...] = value
            node.value = view
        if passes._latest_forward_pass != ns["forward_seen"]:
            # An interpreted pass ran; its values do not see the in-place updates to come.
            for node in self.params:
                node.forward_value = node.backward_value = CHANGED_IN_PLACE
            ns["forward_seen"] = passes._latest_forward_pass
        if self.state_kind and self.params and \
                self.optimizer.state.get(self.params[0]) is not ns["state_seen"]:
            self.import_state()  # an interpreted step, or reset(), replaced it

    def taken_in(self, node, view):
        """A trainable value set by hand (or by load_model, or an interpreted step), checked;
        the caller copies it into the flat array and makes the node's value the view again."""
        value = node.value
        if value is None:
            raise self.changed(f"{node!r} has no value")
        value = as_float_array(value, node)
        if value.shape != view.shape:
            raise self.changed(f"{node!r} has a value of shape {value.shape}, compiled for "
                               f"{view.shape}")
        return value

    def changed(self, what) -> ValueError:
        return ValueError(f"the graph changed since it was compiled: {what}. Compile it again, "
                          "e.g. step = fw.compile(graph, optimizer); no parameter was changed")


def _held(feed, node):
    """A placeholder the step need not be fed (a frozen parameter, say): fed, or its value."""
    value = feed.get(node) if feed else None
    if value is None:
        value = node.value
        if value is None:
            raise ValueError(f"{node!r} has no value: feed it, e.g. step({{{node.name}: array}})")
    return as_float_array(value, node)


def _sent(sender, receiver, like):
    """What a node that is not compiled sent to ``receiver`` in its backward (zeros if none)."""
    grad = sender.gradients.get(receiver)
    return np.zeros(np.shape(like)) if grad is None else grad


__all__ = ["compile"]
