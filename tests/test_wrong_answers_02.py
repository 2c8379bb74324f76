"""Notebook 02's checks catch typical wrong answers, say where to look, and pass the right ones."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "02_node_and_graph.ipynb"

# Exercise 2.1: the body of TeachingNode.__init__, then of __repr__, right but for one thing.
CHECKED = """
inputs = list(inputs)
for node in inputs:
    if not isinstance(node, TeachingNode):
        raise TypeError(f"every input must be a node, got {type(node).__name__}")
"""
FIELDS = """
self.inputs = inputs
self.outputs = []
self.name = name or type(self).__name__
self.value = None
self.gradients = {}
"""
LINKS = """
for node in self.inputs:
    if self not in node.outputs:
        node.outputs.append(self)
"""
REPR = 'return f"{type(self).__name__}({self.name!r})"'

WRONG = [
    WrongAnswer("2.1", "no link made", (CHECKED + FIELDS, REPR), "a.outputs is empty"),
    WrongAnswer("2.1", "links the wrong way round",
                (CHECKED + FIELDS + "self.outputs.extend(self.inputs)", REPR),
                "the other way round"),
    WrongAnswer("2.1", "an input used twice linked twice",
                (CHECKED + FIELDS + "for node in self.inputs:\n    node.outputs.append(self)",
                 REPR), "link a node to each input once"),
    WrongAnswer("2.1", "the inputs kept as the tuple given",
                (CHECKED + FIELDS.replace("= inputs", "= tuple(inputs)") + LINKS, REPR),
                "in a new list"),
    WrongAnswer("2.1", "no outputs list made",
                (CHECKED + FIELDS.replace("self.outputs = []\n", "") + LINKS, REPR),
                "every attribute it needs"),
    WrongAnswer("2.1", "inputs checked while linking",
                (FIELDS.replace("= inputs", "= list(inputs)") + """
for node in self.inputs:
    if not isinstance(node, TeachingNode):
        raise TypeError(f"every input must be a node, got {type(node).__name__}")
    if self not in node.outputs:
        node.outputs.append(self)
""", REPR), "before linking"),
    WrongAnswer("2.1", "no check of the inputs", ("inputs = list(inputs)" + FIELDS + LINKS, REPR),
                "refuse an input that is not a node with a TypeError"),
    WrongAnswer("2.1", "every unnamed node named TeachingNode",
                (CHECKED + FIELDS.replace("type(self).__name__", '"TeachingNode"') + LINKS,
                 REPR), "which may be a subclass"),
    WrongAnswer("2.1", "the repr without quotes",
                (CHECKED + FIELDS + LINKS, 'return f"{type(self).__name__}({self.name})"'),
                "the name in quotes"),
    WrongAnswer("2.1", "the repr names the base class",
                (CHECKED + FIELDS + LINKS, 'return f"TeachingNode({self.name!r})"'),
                "its own class"),
    WrongAnswer("2.1", "the repr is the name alone", (CHECKED + FIELDS + LINKS, "return self.name"),
                "show the class too"),

    WrongAnswer("2.2", "the input not given as a list",
                ("super().__init__(a, name)", "self.value = self.inputs[0].value ** 2"),
                "takes the list of a node's inputs"),
    WrongAnswer("2.2", "the name not passed on",
                ("super().__init__([a])", "self.value = self.inputs[0].value ** 2"),
                "pass the name on"),
    WrongAnswer("2.2", "twice the value for its square",
                ("super().__init__([a], name)", "self.value = 2 * self.inputs[0].value"),
                "each entry should be squared"),
    WrongAnswer("2.2", "the inputs set by hand, no link made",
                ("self.inputs, self.name, self.kind = [a], name, 'operation'",
                 "self.value = self.inputs[0].value ** 2"),
                "Node.__init__ makes that link"),

    WrongAnswer("2.3", "the nodes without outputs",
                ("return [node.name for node in nodes if not node.outputs]",),
                "a leaf is a node without inputs", must_not_say=("['x', 'w', 'b', 'y']",)),
    WrongAnswer("2.3", "the nodes rather than their names",
                ("return [node for node in nodes if not node.inputs]",),
                "return a list of the nodes' names", must_not_say=("['x', 'w', 'b', 'y']",)),
    WrongAnswer("2.3", "sorted by name",
                ("return sorted(node.name for node in nodes if not node.inputs)",),
                "keep the order of the nodes given", must_not_say=("['x', 'w', 'b', 'y']",)),

    WrongAnswer("2.4", "looks from the inputs only", ("""
found = set()
for node in nodes:
    for input_node in node.inputs:
        if node not in input_node.outputs:
            found.add((input_node.name, node.name))
return found
""",), "look from a node's outputs too"),
    WrongAnswer("2.4", "looks from the outputs only", ("""
found = set()
for node in nodes:
    for output_node in node.outputs:
        if node not in output_node.inputs:
            found.add((node.name, output_node.name))
return found
""",), "look from a node's inputs too"),
    WrongAnswer("2.4", "pairs written node first", ("""
found = set()
for node in nodes:
    for input_node in node.inputs:
        if node not in input_node.outputs:
            found.add((node.name, input_node.name))
    for output_node in node.outputs:
        if node not in output_node.inputs:
            found.add((output_node.name, node.name))
return found
""",), "input first"),
    WrongAnswer("2.4", "every link, not the one-way ones", ("""
return {(i.name, node.name) for node in nodes for i in node.inputs}
""",), "a link both sides know is fine"),

    WrongAnswer("2.5", "the direct inputs only", ("return set(node.inputs)",),
                "the inputs of its inputs count too"),
    WrongAnswer("2.5", "along outputs instead of inputs", ("""
found, to_visit = set(), list(node.outputs)
while to_visit:
    current = to_visit.pop()
    if current not in found:
        found.add(current)
        to_visit.extend(current.outputs)
return found
""",), "walk back along inputs"),
    WrongAnswer("2.5", "the node itself included", ("""
found, to_visit = set(), [node]
while to_visit:
    current = to_visit.pop()
    if current not in found:
        found.add(current)
        to_visit.extend(current.inputs)
return found
""",), "a node does not depend on itself"),
    WrongAnswer("2.5", "a list instead of a set", ("""
found, to_visit = [], list(node.inputs)
while to_visit:
    current = to_visit.pop()
    if current not in found:
        found.append(current)
        to_visit.extend(current.inputs)
return found
""",), "return a set"),

    WrongAnswer("2.6", "looks for the input in the whole order", ("""
for node in order:
    for input_node in node.inputs:
        if input_node not in order:
            raise ValueError(f"{node.name} runs before its input {input_node.name}")
    node.forward()
""",), "without complaint"),
    WrongAnswer("2.6", "what has run never noted", ("""
done = set()
for node in order:
    for input_node in node.inputs:
        if input_node not in done:
            raise ValueError(f"{node.name} runs before its input {input_node.name}")
    node.forward()
""",), "refused the right order"),
    WrongAnswer("2.6", "runs the node before looking", ("""
done = set()
for node in order:
    node.forward()
    for input_node in node.inputs:
        if input_node not in done:
            raise ValueError(f"{node.name} runs before its input {input_node.name}")
    done.add(node)
""",), "check the inputs before calling forward()"),
    WrongAnswer("2.6", "an error that names nobody", ("""
done = set()
for node in order:
    if any(i not in done for i in node.inputs):
        raise ValueError("wrong order")
    node.forward()
    done.add(node)
""",), "name the node and the input it came before"),
    WrongAnswer("2.6", "never runs anything", ("""
done = set()
for node in order:
    for input_node in node.inputs:
        if input_node not in done:
            raise ValueError(f"{node.name} runs before its input {input_node.name}")
    done.add(node)
""",), "run forward() on every node"),
]

# Right answers written otherwise than the solution: the checks must let them pass.
RIGHT = [
    WrongAnswer("2.1", "linked once by looking among the earlier inputs, as fw.Node does", ("""
self.inputs = list(inputs)
bad = [node for node in self.inputs if not isinstance(node, TeachingNode)]
if bad:
    raise TypeError(f"not a node: {bad[0]!r}")
self.outputs, self.value, self.gradients = [], None, {}
self.name = name if name is not None else type(self).__name__
for i, node in enumerate(self.inputs):
    if node not in self.inputs[:i]:
        node.outputs.append(self)
""", 'return "%s(%r)" % (type(self).__name__, self.name)'), ""),
    WrongAnswer("2.6", "the order checked in full before running anything", ("""
position = {node: i for i, node in enumerate(order)}
for node in order:
    for input_node in node.inputs:
        if position.get(input_node, len(order)) > position[node]:
            raise ValueError(f"{node!r} runs before its input {input_node!r}")
for node in order:
    node.forward()
""",), ""),
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
