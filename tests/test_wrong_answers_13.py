"""Notebook 12's exercise checks catch typical wrong answers, say where to look, and do not give
the answer away; every right answer passes (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "12_static_and_dynamic_graphs.ipynb"
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


WRONG = [
    # 12.1 the order
    WrongAnswer("12.1", "a recursive sort", (RECURSIVE,), "raised RecursionError",
                must_not_say=NO_ARRAYS),
    WrongAnswer("12.1", "no set of the nodes met", ("""
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
    WrongAnswer("12.1", "each node placed before its inputs", ("""
order, visited, stack = [], set(), [loss]
while stack:
    node = stack.pop()
    if node not in visited:
        visited.add(node)
        order.append(node)
        stack.extend(node.inputs)
return order
""",), "comes before its input", must_not_say=NO_ARRAYS),
    WrongAnswer("12.1", "outputs followed as well as inputs", ("""
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
    WrongAnswer("12.1", "the leaves left out", ("""
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
    # 12.2 the chain rule
    WrongAnswer("12.2", "the order walked as recorded, not reversed", chain_rule(walk="order"),
                "does the walk go from the loss back to the leaves", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "fan-out not summed", chain_rule(accumulate="grad"),
                "c and a are each used by two nodes", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "no seed", ("""
grads = {}
for node in reversed(order):
    if node in grads:
        for i, grad in send_back(node, grads[node]).items():
            grads[i] = grads[i] + grad if i in grads else grad
return grads
""",), "the loss has no gradient in your dict", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "seeded with the loss's value", chain_rule(seed="loss.value"),
                "how much does the loss change when the loss changes by 1",
                must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "seeded with 0", chain_rule(seed="np.zeros_like(loss.value)"),
                "how much does the loss change when the loss changes by 1",
                must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "every node read, reached or not", ("""
grads = {loss: np.ones_like(loss.value)}
for node in order:
    for i, grad in send_back(node, grads[node]).items():
        grads[i] = grads[i] + grad if i in grads else grad
return grads
""",), "raised KeyError", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "the leaves skipped", ("""
grads = {loss: np.ones_like(loss.value)}
for node in reversed(order):
    if node in grads and node.inputs:
        for i, grad in send_back(node, grads[node]).items():
            grads[i] = grads[i] + grad if i in grads else grad
return grads
""",), "leaves included", must_not_say=NO_ARRAYS),
    WrongAnswer("12.2", "a vector loss not refused", chain_rule(refuse=False),
                "raise a ValueError", must_not_say=NO_ARRAYS),
    # 12.3 loading a saved graph
    WrongAnswer("12.3", "the entries in reverse", load_graph(entries="reversed(description)"),
                "build the entries in the order they were saved", must_not_say=NO_ARRAYS),
    WrongAnswer("12.3", "names not given", load_graph(name=""), "give each node its saved name",
                must_not_say=NO_ARRAYS),
    WrongAnswer("12.3", "new nodes made for the inputs",
                load_graph(inputs="[fw.Input(name) for name in entry['inputs']]"),
                "instead of making new ones", must_not_say=NO_ARRAYS),
    WrongAnswer("12.3", "any op taken from the file", load_graph(refuse=False),
                "refuse, with a ValueError", must_not_say=NO_ARRAYS),
    # 12.4 mse
    WrongAnswer("12.4", "a sum for a mean", ("return ((prediction - target) ** 2).sum()",),
                "a sum where the mean belongs", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "the square of the mean", ("return (prediction - target).mean() ** 2",),
                "not the mean of the squares", must_not_say=NO_ARRAYS),
    WrongAnswer("12.4", "twice the difference", ("return ((prediction - target) * 2).mean()",),
                "check each step", must_not_say=NO_ARRAYS),
    # 12.5 polynomial
    WrongAnswer("12.5", "the coefficients the wrong way round", ("""
result = coefficients[0]
for c in coefficients[1:]:
    result = result * x + c
return result
""",), "the wrong way round", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "a sum of powers", ("""
result = coefficients[0]
for k, c in enumerate(coefficients[1:], start=1):
    result = result + c * x**k
return result
""",), "more than Horner's rule needs", must_not_say=NO_ARRAYS),
    WrongAnswer("12.5", "started from zero", ("""
result = 0.0 * x
for c in reversed(coefficients):
    result = result * x + c
return result
""",), "more than Horner's rule needs", must_not_say=NO_ARRAYS),
    # 12.6 which design
    WrongAnswer("12.6", "a saved graph thought dynamic", ("""
sentences_of_any_length = "dynamic"
ship_without_python = "dynamic"
stop_when_small = "dynamic"
sort_once = "static"
""",), "ship_without_python", must_not_say=("expected",)),
    WrongAnswer("12.6", "a data-dependent loop thought static", ("""
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
