"""Notebook 09's exercise checks catch typical wrong answers, say where to look without giving the
answer away, and pass the right answers (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "09_optimizers.ipynb"

SGD_INIT = "self.learning_rate = learning_rate"
SGD_STEP = """
for node in fw.trainables(graph):
    node.value = node.value - self.learning_rate * node.gradients[node]
"""

MOMENTUM_INIT = """
self.learning_rate, self.beta = learning_rate, beta
self.velocity = {}
"""
MOMENTUM_STEP = """
for node in fw.trainables(graph):
    v = self.beta * self.velocity.get(node, 0.0) + node.gradients[node]
    self.velocity[node] = v
    node.value = node.value - self.learning_rate * v
"""

ADAM_INIT = """
self.learning_rate, self.beta1, self.beta2, self.epsilon = (
    learning_rate, beta1, beta2, epsilon)
self.t = 0
self.m, self.s = {}, {}
"""
ADAM_STEP = """
self.t += 1
for node in fw.trainables(graph):
    g = node.gradients[node]
    self.m[node] = self.beta1 * self.m.get(node, 0.0) + (1 - self.beta1) * g
    self.s[node] = self.beta2 * self.s.get(node, 0.0) + (1 - self.beta2) * g * g
    m_hat = self.m[node] / (1 - self.beta1**self.t)
    s_hat = self.s[node] / (1 - self.beta2**self.t)
    node.value = node.value - self.learning_rate * m_hat / (np.sqrt(s_hat) + self.epsilon)
"""

RMSPROP_INIT = """
self.learning_rate, self.rho, self.epsilon = learning_rate, rho, epsilon
self.s = {}
"""
RMSPROP_STEP = """
for node in fw.trainables(graph):
    g = node.gradients[node]
    self.s[node] = self.rho * self.s.get(node, 0.0) + (1 - self.rho) * g * g
    step = self.learning_rate * g / (np.sqrt(self.s[node]) + self.epsilon)
    node.value = node.value - step
"""


def changed(text, before, after):
    assert before in text, before
    return text.replace(before, after)


WRONG = [
    # 9.1: SGD
    WrongAnswer("9.1", "a step up the gradient", (
        SGD_INIT, changed(SGD_STEP, "node.value - self", "node.value + self")), says="uphill"),
    WrongAnswer("9.1", "the learning rate forgotten", (
        SGD_INIT, changed(SGD_STEP, "self.learning_rate * node", "node")),
        says="is it scaled by the learning rate?"),
    WrongAnswer("9.1", "an update in place", (SGD_INIT, """
for node in fw.trainables(graph):
    node.value -= self.learning_rate * node.gradients[node]
"""), says="in place"),
    WrongAnswer("9.1", "only the first node", (SGD_INIT, """
node = fw.trainables(graph)[0]
node.value = node.value - self.learning_rate * node.gradients[node]
"""), says="changed W but not b"),
    # 9.2: momentum
    WrongAnswer("9.2", "(1 - beta) g added to the velocity", (MOMENTUM_INIT, changed(
        MOMENTUM_STEP, "+ node.gradients[node]", "+ (1 - self.beta) * node.gradients[node]")),
        says="(1 − β) times SGD's"),
    WrongAnswer("9.2", "beta on the gradient", (MOMENTUM_INIT, changed(
        MOMENTUM_STEP, "self.beta * self.velocity.get(node, 0.0) + node.gradients[node]",
        "self.velocity.get(node, 0.0) + self.beta * node.gradients[node]")),
        says="β times SGD's"),
    WrongAnswer("9.2", "the velocity's sign", (MOMENTUM_INIT, changed(
        MOMENTUM_STEP, "+ node.gradients[node]", "- node.gradients[node]")), says="uphill"),
    WrongAnswer("9.2", "the velocity forgotten between steps", (MOMENTUM_INIT, changed(
        MOMENTUM_STEP, "    self.velocity[node] = v\n", "")), says="your steps are plain SGD's"),
    WrongAnswer("9.2", "beta written into the code", (MOMENTUM_INIT, changed(
        MOMENTUM_STEP, "self.beta * self", "0.9 * self")), says="use the beta given to __init__"),
    WrongAnswer("9.2", "the old velocity's sign", (MOMENTUM_INIT, changed(
        MOMENTUM_STEP, "self.beta * self.velocity.get(node, 0.0) + node.gradients[node]",
        "node.gradients[node] - self.beta * self.velocity.get(node, 0.0)")),
        says="though the first step is right"),
    # 9.3: Adam
    WrongAnswer("9.3", "no bias correction", (ADAM_INIT, changed(changed(
        ADAM_STEP, "self.m[node] / (1 - self.beta1**self.t)", "self.m[node]"),
        "self.s[node] / (1 - self.beta2**self.t)", "self.s[node]")),
        says="the bias correction should undo", must_not_say=("0.01",)),
    WrongAnswer("9.3", "the bias correction with t starting at 0", (ADAM_INIT, changed(
        ADAM_STEP, "self.t += 1\n", "") + "self.t += 1\n"), says="is t still 0"),
    WrongAnswer("9.3", "epsilon inside the square root", (ADAM_INIT, changed(
        ADAM_STEP, "(np.sqrt(s_hat) + self.epsilon)", "np.sqrt(s_hat + self.epsilon)")),
        says="inside the square root or after it?"),
    WrongAnswer("9.3", "t counted per parameter", (ADAM_INIT, changed(changed(
        ADAM_STEP, "self.t += 1\n", ""), "    g = node.gradients[node]\n",
        "    g = node.gradients[node]\n    self.t += 1\n")),
        says="does t count the calls of step, or the parameters?"),
    WrongAnswer("9.3", "m and s not kept", (ADAM_INIT, changed(changed(
        ADAM_STEP, "self.m.get(node, 0.0)", "0.0"), "self.s.get(node, 0.0)", "0.0")),
        says="are m and s kept from one step to the next"),
    WrongAnswer("9.3", "the default betas written into the code", (ADAM_INIT, changed(changed(
        changed(ADAM_STEP, "self.beta1", "0.9"), "self.beta2", "0.999"),
        "self.epsilon", "1e-8")), says="use the values given to __init__"),
    # 9.4: RMSProp
    WrongAnswer("9.4", "no square root", (RMSPROP_INIT, changed(
        RMSPROP_STEP, "np.sqrt(self.s[node])", "self.s[node]")),
        says="not −η sign(g) / √(1 − ρ)"),
    WrongAnswer("9.4", "one s for all nodes", ("""
self.learning_rate, self.rho, self.epsilon = learning_rate, rho, epsilon
self.s = 0.0
""", """
for node in fw.trainables(graph):
    g = node.gradients[node]
    self.s = self.rho * self.s + (1 - self.rho) * g * g
    node.value = node.value - self.learning_rate * g / (np.sqrt(self.s) + self.epsilon)
"""), says="does each node keep its own s?"),
    WrongAnswer("9.4", "rho written into the code", (RMSPROP_INIT, changed(
        RMSPROP_STEP, "self.rho * self.s.get(node, 0.0) + (1 - self.rho)",
        "0.9 * self.s.get(node, 0.0) + 0.1")), says="the rho given to __init__"),
    # 9.5: SGD's limit on the bowl
    WrongAnswer("9.5", "path_on_bowl's default number of steps", ("""
positions, values = path_on_bowl(fw.SGD(learning_rate))
return values[-1]
""",), says="that is f after 50 steps"),
    WrongAnswer("9.5", "the first value of f", ("""
positions, values = path_on_bowl(fw.SGD(learning_rate), steps=200)
return values[0]
""",), says="that is f at the start"),
    # 9.6: momentum at η / (1 − β)
    WrongAnswer("9.6", "the (losses, model) pair", (
        "slow_momentum_losses = training_curve(fw.Momentum(0.005, beta=0.9))",),
        says="(losses, model): keep only the losses"),
    WrongAnswer("9.6", "SGD's learning rate for momentum", (
        "slow_momentum_losses, _ = training_curve(fw.Momentum(0.05, beta=0.9))",),
        says="not within 10% of SGD's"),
    WrongAnswer("9.6", "SGD itself", (
        "slow_momentum_losses, _ = training_curve(fw.SGD(0.05))",), says="SGD's own losses"),
    # 9.7: β = 0.9 on the bowl
    WrongAnswer("9.7", "beta 0.8 again", (
        "positions_09, values_09 = path_on_bowl(Momentum(0.035, beta=0.8))",),
        says="the β = 0.8 path itself"),
    WrongAnswer("9.7", "the pair swapped", (
        "values_09, positions_09 = path_on_bowl(Momentum(0.035, beta=0.9))",),
        says="in the order path_on_bowl returns them?"),
    WrongAnswer("9.7", "10 steps", (
        "positions_09, values_09 = path_on_bowl(Momentum(0.035, beta=0.9), steps=10)",),
        says="the same 50 steps"),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=[w.why for w in WRONG])
def test_the_check_catches_the_wrong_answer(wrong, results):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", sorted({w.exercise for w in WRONG}))
def test_the_right_answer_passes(number, results):
    result = results[(number, "right")]
    assert result.ename is None, f"exercise {number}'s right answer failed its check: {result}"
