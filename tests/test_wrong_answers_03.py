"""Notebook 03's checks catch typical wrong answers, say where to look, and pass the right ones,
including right answers written otherwise than the solution (a cycle named as Sigmoid('g'))."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "03_topological_sort.ipynb"

# Exercise 3.1: Kahn's algorithm after the given lines, in pieces to get wrong one at a time.
COUNTS = "in_degree = {node: len(set(node.inputs)) for node in nodes}\n"
QUEUE = "ready = deque(node for node in nodes if in_degree[node] == 0)\norder = []\n"
LOOP = """
while ready:
    node = ready.popleft()
    order.append(node)
    for output_node in node.outputs:
        in_degree[output_node] -= 1
        if in_degree[output_node] == 0:
            ready.append(output_node)
"""
CYCLE = """
if len(order) < len(nodes):
    stuck = ", ".join(n.name for n in nodes if in_degree[n] > 0)
    raise ValueError(f"the graph has a cycle: these nodes never became ready: {stuck}")
"""
KAHN = COUNTS + QUEUE + LOOP + CYCLE + "return order"
LOWER = "        in_degree[output_node] -= 1\n"

# Exercise 3.3: the depth-first sort that refuses cycles.
CHECKED = """
order, done, in_progress = [], set(), set()

def visit(node):
    if node in done:
        return
    if node in in_progress:
        raise ValueError(f"the graph has a cycle through {node.name}")
    in_progress.add(node)
    for input_node in node.inputs:
        visit(input_node)
    in_progress.remove(node)
    done.add(node)
    order.append(node)

visit(loss)
return order
"""

# Exercise 3.4: the depth-first sort with a stack of its own.
ITERATIVE = """
order, visited = [], {loss}
stack = [(loss, iter(loss.inputs))]
while stack:
    node, inputs = stack[-1]
    next_input = next((i for i in inputs if i not in visited), None)
    if next_input is None:
        stack.pop()
        order.append(node)
    else:
        visited.add(next_input)
        stack.append((next_input, iter(next_input.inputs)))
return order
"""

WRONG = [
    WrongAnswer("3.1", "no count lowered", (KAHN.replace(LOWER, ""),),
                "one input fewer to wait for"),
    WrongAnswer("3.1", "no count lowered, no cycle check",
                ((COUNTS + QUEUE + LOOP).replace(LOWER, "")
                 + "return order",), "never got placed"),
    WrongAnswer("3.1", "an output queued before all its inputs are placed",
                (KAHN.replace("if in_degree[output_node] == 0:\n            ", ""),),
                "joins the queue once, when its count reaches zero"),
    WrongAnswer("3.1", "no cycle detected", (COUNTS + QUEUE + LOOP + "return order",),
                "instead of raising a ValueError"),
    WrongAnswer("3.1", "the order reversed", (KAHN.replace("return order", "return order[::-1]"),),
                "Is the order reversed?"),
    WrongAnswer("3.1", "an input used twice counted twice",
                (KAHN.replace("len(set(node.inputs))", "len(node.inputs)"),),
                "count each input once"),
    WrongAnswer("3.1", "a stack for a queue", (KAHN.replace("ready.popleft()", "ready.pop()"),),
                "first in, first out"),
    WrongAnswer("3.1", "the queue started from the fed nodes only",
                (KAHN.replace("deque(node for node in nodes if in_degree[node] == 0)",
                              "deque(feed_dict)"),),
                "does the queue start with every node whose count is zero?"),
    WrongAnswer("3.1", "a cycle refused without naming its nodes",
                (COUNTS + QUEUE + LOOP
                 + 'if len(order) < len(nodes):\n    raise ValueError("the graph has a cycle")\n'
                 + "return order",), "name the nodes that never became ready"),

    WrongAnswer("3.2", "the orders of x, w and b alone", ("order_count = 6",),
                "where can y go", must_not_say=("36",)),
    WrongAnswer("3.2", "y only before linear", ("order_count = 24",), "too few",
                must_not_say=("36",)),
    WrongAnswer("3.2", "every order of the seven nodes", ("order_count = 5040",), "too many",
                must_not_say=("36",)),

    WrongAnswer("3.3", "no cycle check, as dfs_sort",
                (CHECKED.replace('raise ValueError(f"the graph has a cycle through {node.name}")',
                                 "return"),), "did not refuse the cycle"),
    WrongAnswer("3.3", "any node met twice taken for a cycle", ("""
order, seen = [], set()

def visit(node):
    if node in seen:
        raise ValueError(f"the graph has a cycle through {node.name}")
    seen.add(node)
    for input_node in node.inputs:
        visit(input_node)
    order.append(node)

visit(loss)
return order
""",), "meeting a node whose visit is finished is no cycle"),
    WrongAnswer("3.3", "the cycle refused without a name",
                (CHECKED.replace('f"the graph has a cycle through {node.name}"', '"a cycle!"'),),
                "does not name f or g"),
    WrongAnswer("3.3", "a node placed before its inputs",
                (CHECKED.replace("    order.append(node)\n", "").replace(
                    "    in_progress.add(node)\n", "    in_progress.add(node)\n"
                    "    order.append(node)\n"),), "place a node once its inputs"),

    WrongAnswer("3.4", "still recursive", ("""
order, visited = [], set()

def visit(node):
    if node not in visited:
        visited.add(node)
        for input_node in node.inputs:
            visit(input_node)
        order.append(node)

visit(loss)
return order
""",), "ran out of recursion"),
    WrongAnswer("3.4", "the inputs taken last first", ("""
order, visited, stack = [], set(), [(loss, False)]
while stack:
    node, expanded = stack.pop()
    if expanded:
        order.append(node)
    elif node not in visited:
        visited.add(node)
        stack.append((node, True))
        stack.extend((i, False) for i in node.inputs)
return order
""",), "in the order of node.inputs"),
    WrongAnswer("3.4", "a node met twice placed twice",
                (ITERATIVE.replace(" if i not in visited", ""),),
                "a node met a second time"),
]

# Right answers written otherwise than the solution: the checks must let them pass.
RIGHT = [
    WrongAnswer("3.1", "the stuck nodes named as the course prints nodes",
                (KAHN.replace("n.name for n in nodes", "repr(n) for n in nodes"),), ""),
    WrongAnswer("3.3", "the node named as the course prints nodes: Sigmoid('g')",
                (CHECKED.replace("through {node.name}", "through {node!r}"),), ""),
    WrongAnswer("3.3", "the whole path named", (CHECKED.replace(
        'raise ValueError(f"the graph has a cycle through {node.name}")',
        'raise ValueError("cycle: " + " -> ".join(repr(n) for n in in_progress))'),), ""),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG + RIGHT)


@pytest.mark.parametrize("wrong", WRONG, ids=[w.why for w in WRONG])
def test_the_check_catches_it(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("right", RIGHT, ids=[r.why for r in RIGHT])
def test_a_right_answer_written_otherwise_passes(results, right):
    assert results[right].ename is None, f"exercise {right.exercise}, {right.why}: {results[right]}"


@pytest.mark.parametrize("number", sorted({w.exercise for w in WRONG}))
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, str(results[(number, "right")])
