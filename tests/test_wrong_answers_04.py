"""Notebook 04's exercise checks catch typical wrong answers and say where to look."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "04_forward_backward_scalars.ipynb"

MULTIPLY_FORWARD = """
a, b = self.inputs
self.value = a.value * b.value
"""
ADD_FORWARD = """
a, b = self.inputs
self.value = a.value + b.value
"""
SIGMOID_FORWARD = "self.value = 1.0 / (1.0 + math.exp(-self.inputs[0].value))"
SQUARED_ERROR_FORWARD = """
y, t = self.inputs
self.value = (y.value - t.value) ** 2
"""
TANH_FORWARD = "self.value = math.tanh(self.inputs[0].value)"

WRONG = [
    # 4.1: ScalarMultiply
    WrongAnswer("4.1", "a swapped Multiply gradient", (MULTIPLY_FORWARD, """
grad = self.upstream_gradient()
a, b = self.inputs
self.send_gradient(a, grad * a.value)
self.send_gradient(b, grad * b.value)
"""), "swapped", must_not_say=("-5.25", "3.5")),
    WrongAnswer("4.1", "overwriting instead of adding", (MULTIPLY_FORWARD, """
grad = self.upstream_gradient()
a, b = self.inputs
self.gradients[a] = grad * b.value
self.gradients[b] = grad * a.value
"""), "only one of its two terms", must_not_say=("-3.0",)),
    WrongAnswer("4.1", "the upstream gradient forgotten", (MULTIPLY_FORWARD, """
a, b = self.inputs
self.send_gradient(a, b.value)
self.send_gradient(b, a.value)
"""), "not multiplied by the upstream gradient"),
    WrongAnswer("4.1", "a fan-out gradient not summed", (MULTIPLY_FORWARD, """
grad = self.outputs[0].gradients[self]
a, b = self.inputs
self.send_gradient(a, grad * b.value)
self.send_gradient(b, grad * a.value)
"""), "sum over its outputs"),
    WrongAnswer("4.1", "a sum for a product", ("""
a, b = self.inputs
self.value = a.value + b.value
""", "pass"), "that is not a·b", must_not_say=("-6",)),
    # 4.2: ScalarAdd
    WrongAnswer("4.2", "the upstream gradient forgotten", (ADD_FORWARD, """
a, b = self.inputs
self.send_gradient(a, 1.0)
self.send_gradient(b, 1.0)
"""), "not multiplied by the upstream gradient"),
    WrongAnswer("4.2", "overwriting instead of adding", (ADD_FORWARD, """
grad = self.upstream_gradient()
a, b = self.inputs
self.gradients[a] = grad
self.gradients[b] = grad
"""), "only one of its two terms"),
    WrongAnswer("4.2", "a fan-out gradient not summed", (ADD_FORWARD, """
grad = self.outputs[-1].gradients[self]
a, b = self.inputs
self.send_gradient(a, grad)
self.send_gradient(b, grad)
"""), "sum over its outputs"),
    WrongAnswer("4.2", "Multiply's rule copied", (ADD_FORWARD, """
grad = self.upstream_gradient()
a, b = self.inputs
self.send_gradient(a, grad * b.value)
self.send_gradient(b, grad * a.value)
"""), "how much does a + b move"),
    # 4.3: ScalarSigmoid
    WrongAnswer("4.3", "sigma for its derivative", (SIGMOID_FORWARD, """
self.send_gradient(self.inputs[0], self.upstream_gradient() * self.value)
"""), "σ(a) as the local derivative"),
    WrongAnswer("4.3", "the input in place of sigma", (SIGMOID_FORWARD, """
s = self.inputs[0].value
self.send_gradient(self.inputs[0], self.upstream_gradient() * s * (1.0 - s))
"""), "put the input a where σ(a) belongs"),
    WrongAnswer("4.3", "the upstream gradient forgotten", (SIGMOID_FORWARD, """
s = self.value
self.send_gradient(self.inputs[0], s * (1.0 - s))
"""), "not multiplied by the upstream gradient"),
    WrongAnswer("4.3", "the sign of the exponent", (
        "self.value = 1.0 / (1.0 + math.exp(self.inputs[0].value))", "pass"),
        "σ(−a), not σ(a)"),
    # 4.4: ScalarSquaredError
    WrongAnswer("4.4", "the sign of the target's gradient", (SQUARED_ERROR_FORWARD, """
grad = self.upstream_gradient()
y, t = self.inputs
self.send_gradient(y, grad * 2.0 * (y.value - t.value))
self.send_gradient(t, grad * 2.0 * (y.value - t.value))
"""), "t's gradient has the wrong sign"),
    WrongAnswer("4.4", "the factor 2 forgotten", (SQUARED_ERROR_FORWARD, """
grad = self.upstream_gradient()
y, t = self.inputs
self.send_gradient(y, grad * (y.value - t.value))
self.send_gradient(t, grad * -(y.value - t.value))
"""), "half what they should be"),
    WrongAnswer("4.4", "both signs flipped", (SQUARED_ERROR_FORWARD, """
grad = self.upstream_gradient()
y, t = self.inputs
self.send_gradient(y, grad * 2.0 * (t.value - y.value))
self.send_gradient(t, grad * 2.0 * (y.value - t.value))
"""), "both gradients have the wrong sign"),
    WrongAnswer("4.4", "the upstream gradient forgotten", (SQUARED_ERROR_FORWARD, """
y, t = self.inputs
self.send_gradient(y, 2.0 * (y.value - t.value))
self.send_gradient(t, -2.0 * (y.value - t.value))
"""), "not multiplied by the upstream"),
    WrongAnswer("4.4", "not squared", ("""
y, t = self.inputs
self.value = y.value - t.value
""", "pass"), "that is not (y − t)²", must_not_say=("0.25",)),
    # 4.5: the forward pass
    WrongAnswer("4.5", "the forward pass in reverse order", ("""
for node in reversed(graph):
    node.forward()
""",), "after its inputs"),
    WrongAnswer("4.5", "an off-by-one that skips the loss", ("""
for node in graph[:-1]:
    node.forward()
""",), "the last one too"),
    WrongAnswer("4.5", "nodes that have a value are skipped", ("""
for node in graph:
    if node.value is None:
        node.forward()
""",), "left the loss as it was"),
    # 4.6: the backward pass
    WrongAnswer("4.6", "the backward pass in forward order", ("""
for node in graph:
    node.gradients = {}
for node in graph:
    node.backward()
""",), "Which node must run its backward() first"),
    WrongAnswer("4.6", "the gradients not started afresh", ("""
for node in reversed(graph):
    node.backward()
""",), "start every node's gradients afresh"),
    WrongAnswer("4.6", "an off-by-one that skips the loss", ("""
for node in graph:
    node.gradients = {}
for node in reversed(graph[:-1]):
    node.backward()
""",), "Which node must run its backward() first"),
    WrongAnswer("4.6", "the placeholders skipped", ("""
for node in graph:
    node.gradients = {}
for node in reversed(graph):
    if node.inputs:
        node.backward()
""",), "Did the placeholders' backward() run too?"),
    # 4.7: ∂L/∂x by hand
    WrongAnswer("4.7", "multiplied by x instead of w", ("dloss_dx = dloss_dz * x_value",),
                "that is ∂L/∂w", must_not_say=("0.168",)),
    WrongAnswer("4.7", "the local derivative alone", ("dloss_dx = w_value",),
                "∂z/∂x alone", must_not_say=("0.168",)),
    WrongAnswer("4.7", "the sigmoid skipped", ("dloss_dx = dloss_dy * w_value",),
                "skipping the sigmoid's derivative", must_not_say=("0.168",)),
    WrongAnswer("4.7", "the sign lost", ("dloss_dx = -0.168",), "the sign is not"),
    # 4.8: ScalarTanh
    WrongAnswer("4.8", "tanh for its derivative", (TANH_FORWARD, """
self.send_gradient(self.inputs[0], self.upstream_gradient() * self.value)
"""), "used tanh(a) as the local derivative"),
    WrongAnswer("4.8", "the input in place of tanh", (TANH_FORWARD, """
a = self.inputs[0].value
self.send_gradient(self.inputs[0], self.upstream_gradient() * (1.0 - a**2))
"""), "put the input a where tanh(a) belongs"),
    WrongAnswer("4.8", "the upstream gradient forgotten", (TANH_FORWARD, """
self.send_gradient(self.inputs[0], 1.0 - self.value**2)
"""), "not multiplied by the upstream gradient"),
    # 4.9: d(w·w)/dw
    WrongAnswer("4.9", "one term only", ("dww_dw = 3.0",), "one use of w only",
                must_not_say=("6",)),
    WrongAnswer("4.9", "the value for the derivative", ("dww_dw = 9.0",), "not its derivative",
                must_not_say=("6",)),
]

# Not a wrong answer: a hand calculation to four digits must pass exercise 4.7 (issue 19).
BY_HAND = WrongAnswer("4.7", "four digits by hand", ("dloss_dx = 0.168",), "")


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, [*WRONG, BY_HAND])


@pytest.mark.parametrize("wrong", WRONG, ids=lambda wrong: wrong.why)
def test_the_check_catches_it(results, wrong):
    assert_caught(wrong, results[wrong])


def test_a_hand_calculation_to_four_digits_passes(results):
    assert results[BY_HAND].ename is None, results[BY_HAND]


@pytest.mark.parametrize("number", [f"4.{k}" for k in range(1, 10)])
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, results[(number, "right")]
