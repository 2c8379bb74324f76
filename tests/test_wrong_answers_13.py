"""Notebook 13's exercise checks catch typical wrong answers, say where to look, and do not give
the answer away; every right answer passes (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "13_static_and_dynamic_graphs.ipynb"
NO_ARRAYS = ("[[", "array(")  # a check never prints the expected numbers

RECURSIVE = """
order, visited = [], set()

def visit(node):
    if node not in visited:
        visited.add(node)
        for i in node.inputs:
            visit(i)
        order.append(node)

visit(loss)
return order
"""


def chain_rule(seed="np.ones_like(loss.value)", walk="reversed(order)",
               accumulate="grads[i] + grad if i in grads else grad", refuse=True):
    check = ("if np.size(loss.value) != 1:\n"
             "    raise ValueError('backward starts from a single number')\n") if refuse else ""
    return (f"""
{check}grads = {{loss: {seed}}}
for node in {walk}:
    if node in grads:
        for i, grad in send_back(node, grads[node]).items():
            grads[i] = {accumulate}
return grads
""",)


def load_graph(inputs="[nodes[name] for name in entry['inputs']]", name="name=entry['name']",
               entries="description", refuse=True):
    check = ("    if not (isinstance(kind, type) and issubclass(kind, fw.Node)):\n"
             "        raise ValueError('not a node')\n") if refuse else ""
    return (f"""
nodes = {{}}
for entry in {entries}:
    kind = getattr(fw, entry['op'], None)
{check}    inputs = {inputs}
    nodes[entry['name']] = kind(*inputs, {name})
return nodes
""",)


def relu_backward(compare="np.greater", masked="x"):
    return (f'return [f"{compare}({{{masked}}}, 0, out={{positive}})",\n'
            f'        f"np.multiply({{d_out}}, {{positive}}, out={{d_x}})"]')


WRONG = [
    # 13.1 the order
    WrongAnswer("13.1", "a recursive sort", (RECURSIVE,), "raised RecursionError",
                must_not_say=NO_ARRAYS),
    WrongAnswer("13.1", "no set of the nodes met", ("""
order, stack = [], [(loss, False)]
while stack:
    node, inputs_placed = stack.pop()
    if inputs_placed:
        order.append(node)
    else:
        stack.append((node, True))
        stack.extend((i, False) for i in reversed(node.inputs))
return order
""",), "c is in the order more than once", must_not_say=NO_ARRAYS),
    WrongAnswer("13.1", "each node placed before its inputs", ("""
order, visited, stack = [], set(), [loss]
while stack:
    node = stack.pop()
    if node not in visited:
        visited.add(node)
        order.append(node)
        stack.extend(node.inputs)
return order
""",), "comes before its input", must_not_say=NO_ARRAYS),
    WrongAnswer("13.1", "outputs followed as well as inputs", ("""
order, visited, stack = [], set(), [(loss, False)]
while stack:
    node, inputs_placed = stack.pop()
    if inputs_placed:
        order.append(node)
    elif node not in visited:
        visited.add(node)
        stack.append((node, True))
        stack.extend((i, False) for i in node.inputs)
        stack.extend((o, False) for o in node.outputs)
return order
""",), "which the loss was not computed from", must_not_say=NO_ARRAYS),
    WrongAnswer("13.1", "the leaves left out", ("""
order, visited, stack = [], set(), [(loss, False)]
while stack:
    node, inputs_placed = stack.pop()
    if inputs_placed:
        if node.inputs:
            order.append(node)
    elif node not in visited:
        visited.add(node)
        stack.append((node, True))
        stack.extend((i, False) for i in reversed(node.inputs))
return order
""",), "the order misses", must_not_say=NO_ARRAYS),
    # 13.2 the chain rule
    WrongAnswer("13.2", "the order walked as recorded, not reversed", chain_rule(walk="order"),
                "does the walk go from the loss back to the leaves", must_not_say=NO_ARRAYS),
    WrongAnswer("13.2", "fan-out not summed", chain_rule(accumulate="grad"),
                "c and a are each used by two nodes", must_not_say=NO_ARRAYS),
    WrongAnswer("13.2", "no seed", ("""
grads = {}
for node in reversed(order):
    if node in grads:
        for i, grad in send_back(node, grads[node]).items():
            grads[i] = grads[i] + grad if i in grads else grad
return grads
""",), "the loss has no gradient in your dict", must_not_say=NO_ARRAYS),
    WrongAnswer("13.2", "seeded with the loss's value", chain_rule(seed="loss.value"),
                "how much does the loss change when the loss changes by 1",
                must_not_say=NO_ARRAYS),
    WrongAnswer("13.2", "seeded with 0", chain_rule(seed="np.zeros_like(loss.value)"),
                "how much does the loss change when the loss changes by 1",
                must_not_say=NO_ARRAYS),
    WrongAnswer("13.2", "every node read, reached or not", ("""
grads = {loss: np.ones_like(loss.value)}
for node in order:
    for i, grad in send_back(node, grads[node]).items():
        grads[i] = grads[i] + grad if i in grads else grad
return grads
""",), "raised KeyError", must_not_say=NO_ARRAYS),
    WrongAnswer("13.2", "the leaves skipped", ("""
grads = {loss: np.ones_like(loss.value)}
for node in reversed(order):
    if node in grads and node.inputs:
        for i, grad in send_back(node, grads[node]).items():
            grads[i] = grads[i] + grad if i in grads else grad
return grads
""",), "leaves included", must_not_say=NO_ARRAYS),
    WrongAnswer("13.2", "a vector loss not refused", chain_rule(refuse=False),
                "raise a ValueError", must_not_say=NO_ARRAYS),
    # 13.3 loading a saved graph
    WrongAnswer("13.3", "the entries in reverse", load_graph(entries="reversed(description)"),
                "build the entries in the order they were saved", must_not_say=NO_ARRAYS),
    WrongAnswer("13.3", "names not given", load_graph(name=""), "give each node its saved name",
                must_not_say=NO_ARRAYS),
    WrongAnswer("13.3", "new nodes made for the inputs",
                load_graph(inputs="[fw.Input(name) for name in entry['inputs']]"),
                "instead of making new ones", must_not_say=NO_ARRAYS),
    WrongAnswer("13.3", "any op taken from the file", load_graph(refuse=False),
                "refuse, with a ValueError", must_not_say=NO_ARRAYS),
    # 13.4 ReLU's forward, as lines of code
    WrongAnswer("13.4", "one string, not a list of lines",
                ('return f"np.maximum({x}, 0.0, out={out})"',), "return a list of lines",
                must_not_say=NO_ARRAYS),
    WrongAnswer("13.4", "the name bound to a new array",
                ('return [f"{out} = np.maximum({x}, 0.0)"]',), "bind relu to a new array",
                must_not_say=NO_ARRAYS),
    WrongAnswer("13.4", "no out=", ('return [f"np.maximum({x}, 0.0)"]',),
                "still holds whatever it held before", must_not_say=NO_ARRAYS),
    WrongAnswer("13.4", "np.maximum of the output, not the input",
                ('return [f"np.maximum({out}, 0.0, out={out})"]',),
                "compute every element from linear1 alone", must_not_say=NO_ARRAYS),
    WrongAnswer("13.4", "np.maximum of the input and itself",
                ('return [f"np.maximum({x}, {x}, out={out})"]',),
                "the negative numbers came through unchanged", must_not_say=NO_ARRAYS),
    WrongAnswer("13.4", "min for max", ('return [f"np.minimum({x}, 0.0, out={out})"]',),
                "that is min(x, 0)", must_not_say=NO_ARRAYS),
    WrongAnswer("13.4", "the digits network's names written in",
                ('return ["np.maximum(linear1, 0.0, out=relu)"]',),
                "raised NameError", must_not_say=NO_ARRAYS),
    WrongAnswer("13.4", "the input overwritten",
                ('return [f"np.maximum({x}, 0.0, out={x})", f"np.copyto({out}, {x})"]',),
                "changed linear1", must_not_say=NO_ARRAYS),
    # 13.5 ReLU's backward, as lines of code
    WrongAnswer("13.5", ">= for >", (relu_backward("np.greater_equal"),),
                "differs only where linear1 is exactly 0", must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "passed where x < 0", (relu_backward("np.less"),),
                "which side of 0", must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "no mask", ('return [f"np.copyto({d_x}, {d_out})"]',),
                "the gradient passed unchanged", must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "the mask taken from the gradient", (relu_backward(masked="d_out"),),
                "the mask was taken from d_relu", must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "the mask never computed",
                ('return [f"np.multiply({d_out}, {positive}, out={d_x})"]',),
                "relu_positive still holds what it held before", must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "multiplied by x", ('return [f"np.multiply({d_out}, {x}, out={d_x})"]',),
                "multiplies by x itself", must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "the mask a new array at every step",
                ('return [f"np.multiply({d_out}, {x} > 0, out={d_x})"]',),
                "does not hold the mask", must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "the name bound to a new array",
                ('return [f"{d_x} = {d_out} * ({x} > 0)"]',), "bind d_linear1 to a new array",
                must_not_say=NO_ARRAYS),
    WrongAnswer("13.5", "the incoming gradient overwritten", ("""
return [f"np.greater({x}, 0, out={positive})",
        f"np.multiply({d_out}, {positive}, out={d_out})",
        f"np.copyto({d_x}, {d_out})"]
""",), "changed d_relu", must_not_say=NO_ARRAYS),
    # 13.6 mse
    WrongAnswer("13.6", "a sum for a mean", ("return ((prediction - target) ** 2).sum()",),
                "a sum where the mean belongs", must_not_say=NO_ARRAYS),
    WrongAnswer("13.6", "the square of the mean", ("return (prediction - target).mean() ** 2",),
                "not the mean of the squares", must_not_say=NO_ARRAYS),
    WrongAnswer("13.6", "twice the difference", ("return ((prediction - target) * 2).mean()",),
                "check each step", must_not_say=NO_ARRAYS),
    # 13.7 polynomial
    WrongAnswer("13.7", "the coefficients the wrong way round", ("""
result = coefficients[0]
for c in coefficients[1:]:
    result = result * x + c
return result
""",), "the wrong way round", must_not_say=NO_ARRAYS),
    WrongAnswer("13.7", "a sum of powers", ("""
result = coefficients[0]
for k, c in enumerate(coefficients[1:], start=1):
    result = result + c * x**k
return result
""",), "more than Horner's rule needs", must_not_say=NO_ARRAYS),
    WrongAnswer("13.7", "started from zero", ("""
result = 0.0 * x
for c in reversed(coefficients):
    result = result * x + c
return result
""",), "more than Horner's rule needs", must_not_say=NO_ARRAYS),
    # 13.8 which design
    WrongAnswer("13.8", "a saved graph thought dynamic", ("""
sentences_of_any_length = "dynamic"
ship_without_python = "dynamic"
stop_when_small = "dynamic"
sort_once = "static"
""",), "ship_without_python", must_not_say=("expected",)),
    WrongAnswer("13.8", "a data-dependent loop thought static", ("""
sentences_of_any_length = "static"
ship_without_python = "static"
stop_when_small = "dynamic"
sort_once = "static"
""",), "sentences_of_any_length", must_not_say=("expected",)),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=[w.why for w in WRONG])
def test_the_check_catches_a_wrong_answer(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", sorted({w.exercise for w in WRONG}))
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, results[(number, "right")]
