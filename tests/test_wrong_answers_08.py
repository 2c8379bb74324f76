"""Notebook 08's exercise checks catch typical wrong answers, say where to look without giving the
answer away, and pass the right answers (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "08_classification.ipynb"

# Exercise 8.1's right forward and backward, which most wrong answers change in one place.
FORWARD = """
shifted = z - z.max(axis=1, keepdims=True)
exp = np.exp(shifted)
total = exp.sum(axis=1, keepdims=True)
self.probabilities = exp / total
losses = np.log(total[:, 0]) - shifted[self.rows, self.classes]
self.value = losses.mean()
"""
BACKWARD = """
onehot = np.zeros_like(self.probabilities)
onehot[self.rows, self.classes] = 1.0
grad = (self.probabilities - onehot) / len(onehot)
self.send_gradient(self.inputs[0], self.upstream_gradient() * grad)
"""
# What a check must not print: the loss of section 2's batch, the answer's numbers.
LOSS_OF_THE_BATCH = ("202.83",)


def forward(before, after):
    assert before in FORWARD
    return FORWARD.replace(before, after)


def backward(before, after):
    assert before in BACKWARD
    return BACKWARD.replace(before, after)


# Exercise 8.2's right forward and backward.
SOFTMAX_FORWARD = """
exp = np.exp(z - z.max(axis=1, keepdims=True))
self.value = exp / exp.sum(axis=1, keepdims=True)
"""
SOFTMAX_BACKWARD = """
p, g = self.value, self.upstream_gradient()
grad = p * (g - np.sum(g * p, axis=1, keepdims=True))
self.send_gradient(self.inputs[0], grad)
"""
# Exercise 8.4's right answer.
CONFIDENCE = """
probabilities = np.exp(held_out_logits - held_out_logits.max(axis=1, keepdims=True))
probabilities /= probabilities.sum(axis=1, keepdims=True)
confidence = probabilities.max(axis=1)
sure_when_right = confidence[predicted == y_held_out].mean()
sure_when_wrong = confidence[predicted != y_held_out].mean()
most_confident_mistake = wrong[np.argmax(confidence[wrong])]
"""
# Exercise 8.3's right forward and backward.
SMOOTHED_FORWARD = """
shifted = z - z.max(axis=1, keepdims=True)
log_sum_exp = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
self.probabilities = np.exp(shifted - log_sum_exp)
self.targets = np.full(z.shape, self.alpha / z.shape[1])
self.targets[self.rows, self.classes] += 1.0 - self.alpha
self.value = np.sum(self.targets * (log_sum_exp - shifted)) / len(z)
"""
SMOOTHED_BACKWARD = """
grad = (self.probabilities - self.targets) / len(self.targets)
self.send_gradient(self.inputs[0], self.upstream_gradient() * grad)
"""

WRONG = [
    # 8.1: the softmax cross-entropy node
    WrongAnswer("8.1", "an unstable exp that overflows on large logits", ("""
exp = np.exp(z)
total = exp.sum(axis=1, keepdims=True)
self.probabilities = exp / total
self.value = np.mean(np.log(total[:, 0]) - z[self.rows, self.classes])
""", BACKWARD), says="overflowed", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "the loss as -log of a probability that rounds to 0", (
        forward("losses = np.log(total[:, 0]) - shifted[self.rows, self.classes]",
                "losses = -np.log(self.probabilities[self.rows, self.classes])"), BACKWARD),
        says="took the log of 0", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "the softmax over the wrong axis", (
        FORWARD.replace("axis=1", "axis=0"), BACKWARD),
        says="add up to 1 down each column", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "each column's maximum subtracted", (
        forward("z.max(axis=1, keepdims=True)", "z.max(axis=0, keepdims=True)"), BACKWARD),
        says="shifted by that same row's maximum", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "a sum instead of a mean", (
        forward("losses.mean()", "losses.sum()"), BACKWARD),
        says="a sum over the rows instead of their mean", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "the mean forgotten: one loss per row", (
        forward("self.value = losses.mean()", "self.value = losses"), BACKWARD),
        says="one number per row", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "the gradient not divided by the batch size", (
        FORWARD, backward("/ len(onehot)", "")),
        says="did you divide by the batch size", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "the gradient without the one-hot", (
        FORWARD, backward("(self.probabilities - onehot)", "self.probabilities")),
        says="subtract the one-hot", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "the gradient's sign flipped", (
        FORWARD, backward("(self.probabilities - onehot)", "(onehot - self.probabilities)")),
        says="wrong sign", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "the upstream gradient ignored", (
        FORWARD, backward("self.upstream_gradient() * grad", "grad")),
        says="multiply by self.upstream_gradient()", must_not_say=LOSS_OF_THE_BATCH),
    WrongAnswer("8.1", "no gradient sent", (FORWARD, "grad = self.probabilities"),
                says="backward sent no gradient to the logits"),
    # 8.2: the softmax node
    WrongAnswer("8.2", "an unstable exp", (
        "exp = np.exp(z)\nself.value = exp / exp.sum(axis=1, keepdims=True)", SOFTMAX_BACKWARD),
        says="overflowed"),
    WrongAnswer("8.2", "the softmax of each column", (
        SOFTMAX_FORWARD.replace("axis=1", "axis=0"), SOFTMAX_BACKWARD),
        says="it is your columns that do"),
    WrongAnswer("8.2", "only the Jacobian's diagonal", (SOFTMAX_FORWARD, """
p, g = self.value, self.upstream_gradient()
self.send_gradient(self.inputs[0], g * p * (1 - p))
"""), says="the diagonal of the Jacobian"),
    WrongAnswer("8.2", "the upstream gradient left out", (
        SOFTMAX_FORWARD, SOFTMAX_BACKWARD.replace("self.upstream_gradient()", "1.0")),
        says="is g = self.upstream_gradient() in it?"),
    WrongAnswer("8.2", "the sum over j along the wrong axis", (
        SOFTMAX_FORWARD, SOFTMAX_BACKWARD.replace("axis=1", "axis=0")),
        says="along which axis is your sum over j taken?"),
    # 8.3: label smoothing
    WrongAnswer("8.3", "the true class misses its share of alpha", (
        SMOOTHED_FORWARD.replace("] += 1.0 - self.alpha", "] = 1.0 - self.alpha"),
        SMOOTHED_BACKWARD), says="does the true class get α / K as well as 1 − α?"),
    WrongAnswer("8.3", "the gradient of the plain cross-entropy", (SMOOTHED_FORWARD, """
onehot = np.zeros_like(self.probabilities)
onehot[self.rows, self.classes] = 1.0
grad = (self.probabilities - onehot) / len(onehot)
self.send_gradient(self.inputs[0], self.upstream_gradient() * grad)
"""), says="is the plain cross-entropy's"),
    WrongAnswer("8.3", "a sum over the rows", (
        SMOOTHED_FORWARD.replace(") / len(z)", ")"), SMOOTHED_BACKWARD),
        says="a sum over the rows instead of their mean"),
    WrongAnswer("8.3", "an unstable exp", ("""
log_sum_exp = np.log(np.exp(z).sum(axis=1, keepdims=True))
self.probabilities = np.exp(z - log_sum_exp)
self.targets = np.full(z.shape, self.alpha / z.shape[1])
self.targets[self.rows, self.classes] += 1.0 - self.alpha
self.value = np.sum(self.targets * (log_sum_exp - z)) / len(z)
""", SMOOTHED_BACKWARD), says="overflowed"),
    # 8.4: how sure the network is
    WrongAnswer("8.4", "the largest logit for the confidence", (
        CONFIDENCE.replace("confidence = probabilities.max(axis=1)",
                           "confidence = held_out_logits.max(axis=1)"),),
        says="is it taken from the probabilities?"),
    WrongAnswer("8.4", "the surest answer, right or wrong", (
        CONFIDENCE.replace("wrong[np.argmax(confidence[wrong])]", "np.argmax(confidence)"),),
        says="one the network got right"),
    WrongAnswer("8.4", "the least sure mistake", (
        CONFIDENCE.replace("np.argmax(confidence[wrong])", "np.argmin(confidence[wrong])"),),
        says="a mistake, but not the surest one"),
    WrongAnswer("8.4", "right and wrong swapped", (
        CONFIDENCE.replace("confidence[predicted == y_held_out]",
                           "confidence[predicted != y_held_out]"),),
        says="yours is over the others"),
    # 8.5: recall and accuracy from the confusion matrix
    WrongAnswer("8.5", "the precision for the recall (columns for rows)", ("""
recall = np.diag(confusion) / confusion.sum(axis=0)
accuracy_from_matrix = np.trace(confusion) / confusion.sum()
""",), says="the precision", must_not_say=("0.91",)),
    WrongAnswer("8.5", "the mean recall for the accuracy", ("""
recall = np.diag(confusion) / confusion.sum(axis=1)
accuracy_from_matrix = recall.mean()
""",), says="which entries of the matrix count the right answers", must_not_say=("0.972",)),
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
