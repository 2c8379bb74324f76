"""Notebook 05's exercise checks catch typical wrong answers and say where to look."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "05_gradient_checking.ipynb"


def numerical_gradient_without(*dropped: str) -> str:
    """The solution of exercise 5.2 with the lines that contain any of ``dropped`` left out."""
    lines = [
        "value = node.value",
        "grad = np.zeros_like(value)",
        "for index in np.ndindex(value.shape):",
        "    saved = value[index]",
        "    value[index] = saved + epsilon",
        "    fw.forward(graph)  # after the + nudge",
        "    loss_plus = float(graph[-1].value)",
        "    value[index] = saved - epsilon",
        "    fw.forward(graph)  # after the - nudge",
        "    loss_minus = float(graph[-1].value)",
        "    value[index] = saved  # restore",
        "    grad[index] = (loss_plus - loss_minus) / (2 * epsilon)",
        "fw.forward(graph)  # at the end",
    ]
    return "\n".join(line for line in lines if not any(text in line for text in dropped))


DIRECTIONAL = """
fw.forward(graph)
fw.backward(graph)
analytic = float(np.sum(node.gradients[node] * direction))
original = node.value
node.value = original + epsilon * direction
fw.forward(graph)
loss_plus = float(graph[-1].value)
node.value = original - epsilon * direction
fw.forward(graph)
loss_minus = float(graph[-1].value)
node.value = original
fw.forward(graph)
along = (loss_plus - loss_minus) / (2 * epsilon)
return analytic, along
"""

WRONG = [
    # 5.1: the central difference
    WrongAnswer("5.1", "a one-sided difference", ("return (f(x + eps) - f(x)) / eps",),
                "one-sided difference"),
    WrongAnswer("5.1", "divided by eps instead of 2 eps",
                ("return (f(x + eps) - f(x - eps)) / eps",), "about twice the derivative"),
    WrongAnswer("5.1", "the sign swapped", ("return (f(x - eps) - f(x + eps)) / (2 * eps)",),
                "wrong sign"),
    WrongAnswer("5.1", "a fixed step instead of eps",
                ("return (f(x + 1e-6) - f(x - 1e-6)) / 2e-6",), "use its argument eps"),
    # 5.2: the numerical gradient over a parameter
    WrongAnswer("5.2", "a one-sided difference", ("""
value = node.value
grad = np.zeros_like(value)
fw.forward(graph)
loss = float(graph[-1].value)
for index in np.ndindex(value.shape):
    saved = value[index]
    value[index] = saved + epsilon
    fw.forward(graph)
    loss_plus = float(graph[-1].value)
    value[index] = saved
    grad[index] = (loss_plus - loss) / epsilon
fw.forward(graph)
""",), "one-sided difference"),
    WrongAnswer("5.2", "the entry not restored", (numerical_gradient_without("# restore"),),
                "put each entry back"),
    WrongAnswer("5.2", "divided by eps instead of 2 eps", (numerical_gradient_without().replace(
        "/ (2 * epsilon)", "/ epsilon"),), "is twice"),
    WrongAnswer("5.2", "forward not rerun after a nudge",
                (numerical_gradient_without("after the"),), "Does the forward pass run again"),
    WrongAnswer("5.2", "the last forward pass forgotten",
                (numerical_gradient_without("at the end"),), "run the forward pass once more"),
    # 5.3: the gradient check
    WrongAnswer("5.3", "stale gradients: no forward or backward pass", ("""
return {
    node: relative_error(node.gradients[node], numerical(graph, node))
    for node in fw.trainables(graph)
}
""",), "Run forward and backward first"),
    WrongAnswer("5.3", "backward without forward", ("""
fw.backward(graph)
return {
    node: relative_error(node.gradients[node], numerical(graph, node))
    for node in fw.trainables(graph)
}
""",), "run the forward pass, then the backward pass"),
    WrongAnswer("5.3", "keyed by name", ("""
fw.forward(graph)
fw.backward(graph)
return {
    node.name: relative_error(node.gradients[node], numerical(graph, node))
    for node in fw.trainables(graph)
}
""",), "key it by the nodes"),
    WrongAnswer("5.3", "the numerical gradient against itself", ("""
fw.forward(graph)
fw.backward(graph)
return {
    node: relative_error(numerical(graph, node), numerical(graph, node))
    for node in fw.trainables(graph)
}
""",), "a planted bug doubles W's gradient"),
    # 5.4: the forward difference's error
    WrongAnswer("5.4", "the 1/2 forgotten",
                ("predicted_forward_error = 1e-3 * abs(2 * math.exp(1.0) * math.cos(1.0))",),
                "twice the measured error", must_not_say=("1.47",)),
    WrongAnswer("5.4", "the central difference's term",
                ("predicted_forward_error = 1e-6 / 6 * abs(2 * math.exp(1.0) * math.cos(1.0))",),
                "not within 1%", must_not_say=("1.47",)),
    # 5.5: a planted bug
    WrongAnswer("5.5", "the right gradient", (
        "self.send_gradient(self.inputs[0], self.upstream_gradient() * self.value "
        "* (1 - self.value))",), "that is the right gradient"),
    WrongAnswer("5.5", "the other factor forgotten", (
        "self.send_gradient(self.inputs[0], self.upstream_gradient() * (1 - self.value))",),
        "you left out σ"),
    WrongAnswer("5.5", "the upstream gradient forgotten", (
        "self.send_gradient(self.inputs[0], self.value)",), "the upstream gradient is missing"),
    # 5.6: the kink
    WrongAnswer("5.6", "the backward's 0", ("kink_slope = 0.0",), "0 is what backward uses",
                must_not_say=("0.5",)),
    WrongAnswer("5.6", "the right-hand slope", ("kink_slope = 1.0",), "slope on the right",
                must_not_say=("0.5",)),
    # 5.7: the directional check
    WrongAnswer("5.7", "a one-sided difference", (DIRECTIONAL.replace(
        "node.value = original - epsilon * direction\n", "node.value = original\n").replace(
        "(2 * epsilon)", "epsilon"),), "one-sided difference"),
    WrongAnswer("5.7", "the original value not put back",
                (DIRECTIONAL.replace("node.value = original\n", ""),), "put the original"),
    WrongAnswer("5.7", "a mean for a sum",
                (DIRECTIONAL.replace("np.sum(node", "np.mean(node"),), "a mean over the entries"),
    WrongAnswer("5.7", "divided by eps instead of 2 eps",
                (DIRECTIONAL.replace("(2 * epsilon)", "epsilon"),), "twice ∇L·d"),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=lambda wrong: wrong.why)
def test_the_check_catches_it(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", [f"5.{k}" for k in range(1, 8)])
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, results[(number, "right")]
