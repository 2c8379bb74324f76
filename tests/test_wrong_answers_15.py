"""Notebook 15's exercise checks catch typical wrong answers, say where to look, and do not give
the answer away; every right answer passes (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "15_attention.ipynb"
NO_ARRAYS = ("[[", "array(")  # a check never prints the expected numbers

RIGHT_SCORES = "q @ np.swapaxes(k, -1, -2) / np.sqrt(d)"
RIGHT_FUTURE = "np.arange(steps) > np.arange(steps)[:, None]"
RIGHT_WEIGHTS = "softmax(np.where(future, -np.inf, scores), axis=-1)"


def attention(scores=RIGHT_SCORES, future=RIGHT_FUTURE, weights=RIGHT_WEIGHTS,
              returned="weights @ v, weights"):
    return (f"""
steps, d = q.shape[-2:]
scores = {scores}
future = {future}
weights = {weights}
return {returned}
""",)


def heads(split="x.reshape(batch, steps, heads, embed // heads).transpose(0, 2, 1, 3)",
          merge="y.transpose(0, 2, 1, 3).reshape(batch, steps, heads * per_head)"):
    return (f"batch, steps, embed = x.shape\nreturn {split}\n",
            f"batch, heads, steps, per_head = y.shape\nreturn {merge}\n")


def norm(mean="x.mean(axis=-1, keepdims=True)",
         variance="((x - mean) ** 2).mean(axis=-1, keepdims=True)",
         returned="weight * (x - mean) / np.sqrt(variance + eps) + bias"):
    return (f"mean = {mean}\nvariance = {variance}\nreturn {returned}\n",)


def window(blocked):
    return (f"back = np.arange(steps)[:, None] - np.arange(steps)\nreturn {blocked}\n",)


BLOCK = ("12704",)  # exercise 15.5's answer

WRONG = [
    # 15.1 scaled dot-product attention with its causal mask
    WrongAnswer("15.1", "no 1/√d scaling", attention(scores="q @ np.swapaxes(k, -1, -2)"),
                "divide the scores by √d", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "divided by d", attention(scores="q @ np.swapaxes(k, -1, -2) / d"),
                "divided by d", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "the mask on the lower triangle, the future let in",
                attention(future="np.arange(steps) < np.arange(steps)[:, None]"),
                "the mask hides the past", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "no mask", attention(weights="softmax(scores, axis=-1)"),
                "gives weight to later positions", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "the diagonal masked too",
                attention(future="np.arange(steps) >= np.arange(steps)[:, None]"),
                "position t sees itself", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "the softmax over the query axis",
                attention(weights="softmax(np.where(future, -np.inf, scores), axis=-2)"),
                "each column of the weights adds up to 1", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "the softmax over the heads axis",
                attention(weights="softmax(np.where(future, -np.inf, scores), axis=1)"),
                "the softmax runs along the key positions", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "the mask added after the softmax",
                attention(weights="softmax(scores, axis=-1) + np.where(future, -np.inf, 0.0)"),
                "the mask goes on the scores, before the softmax", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "the masked weights zeroed after the softmax",
                attention(weights="np.where(future, 0.0, softmax(scores, axis=-1))"),
                "was the mask applied after the softmax", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "k qᵀ for q kᵀ",
                attention(scores="k @ np.swapaxes(q, -1, -2) / np.sqrt(d)"),
                "which of q and k is transposed", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "every axis of k transposed", attention(scores="q @ k.T / np.sqrt(d)"),
                "only the last two axes of k change places", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "the weights transposed in the output",
                attention(returned="np.swapaxes(weights, -1, -2) @ v, weights"),
                "the weights are right but the output is not", must_not_say=NO_ARRAYS),
    WrongAnswer("15.1", "only the output returned", attention(returned="weights @ v"),
                "should return two arrays", must_not_say=NO_ARRAYS),
    # 15.2 the split into heads and back
    WrongAnswer("15.2", "split: a reshape without the transpose",
                heads(split="x.reshape(batch, heads, steps, embed // heads)"),
                "split_heads mixes positions", must_not_say=NO_ARRAYS),
    WrongAnswer("15.2", "split: the head axis after the positions",
                heads(split="x.reshape(batch, steps, heads, embed // heads)"),
                "the head axis comes before the positions", must_not_say=NO_ARRAYS),
    WrongAnswer("15.2", "split: every H-th feature to a head",
                heads(split="x.reshape(batch, steps, embed // heads, heads).transpose(0, 3, 1, 2)"),
                "side by side", must_not_say=NO_ARRAYS),
    WrongAnswer("15.2", "merge: a reshape without the transpose",
                heads(merge="y.reshape(batch, steps, heads * per_head)"),
                "merge_heads mixes positions", must_not_say=NO_ARRAYS),
    WrongAnswer("15.2", "merge: the features of the heads interleaved",
                heads(merge="y.transpose(0, 2, 3, 1).reshape(batch, steps, heads * per_head)"),
                "in another order", must_not_say=NO_ARRAYS),
    WrongAnswer("15.2", "merge: the heads not put side by side",
                heads(merge="y.transpose(0, 2, 1, 3)"),
                "side by side again, (B, T, H·d)", must_not_say=NO_ARRAYS),
    # 15.3 layer normalization's forward
    WrongAnswer("15.3", "normalized over the batch axis",
                norm(mean="x.mean(axis=0, keepdims=True)",
                     variance="((x - mean) ** 2).mean(axis=0, keepdims=True)"),
                "not over the batch", must_not_say=NO_ARRAYS),
    WrongAnswer("15.3", "the variance with n - 1",
                norm(variance="x.var(axis=-1, ddof=1, keepdims=True)"),
                "divided by D − 1", must_not_say=NO_ARRAYS),
    WrongAnswer("15.3", "ε forgotten",
                norm(returned="weight * (x - mean) / np.sqrt(variance) + bias"),
                "ε is missing", must_not_say=NO_ARRAYS),
    WrongAnswer("15.3", "ε outside the square root",
                norm(returned="weight * (x - mean) / (np.sqrt(variance) + eps) + bias"),
                "right on ordinary rows, wrong on rows of a very small variance",
                must_not_say=NO_ARRAYS),
    WrongAnswer("15.3", "a fixed ε",
                norm(returned="weight * (x - mean) / np.sqrt(variance + 1e-5) + bias"),
                "use the argument", must_not_say=NO_ARRAYS),
    WrongAnswer("15.3", "the weight and the bias forgotten",
                norm(returned="(x - mean) / np.sqrt(variance + eps)"),
                "are not applied", must_not_say=NO_ARRAYS),
    WrongAnswer("15.3", "the weight and the bias swapped",
                norm(returned="bias * (x - mean) / np.sqrt(variance + eps) + weight"),
                "swapped", must_not_say=NO_ARRAYS),
    WrongAnswer("15.3", "the standard deviation for the variance",
                norm(returned="weight * (x - mean) / np.sqrt(np.sqrt(variance) + eps) + bias"),
                "compare it with the formula", must_not_say=NO_ARRAYS),
    # 15.4 a sliding-window mask
    WrongAnswer("15.4", "one position too many", window("(back < 0) | (back > window)"),
                "the w − 1 positions before it", must_not_say=NO_ARRAYS),
    WrongAnswer("15.4", "the future let in", window("back >= window"),
                "may look at a later one", must_not_say=NO_ARRAYS),
    WrongAnswer("15.4", "allowed and blocked swapped", window("(back >= 0) & (back < window)"),
                "may not look at itself", must_not_say=NO_ARRAYS),
    WrongAnswer("15.4", "numbers for booleans",
                window("((back < 0) | (back >= window)).astype(float)"),
                "True where t may not look", must_not_say=NO_ARRAYS),
    WrongAnswer("15.4", "the window counted from the start of the text",
                window("(back < 0) | (np.arange(steps) >= window)"),
                "may not look at itself", must_not_say=NO_ARRAYS),
    # 15.5 the trainable numbers of a block, by hand
    WrongAnswer("15.5", "the biases forgotten",
                ("block_parameters = 2 * 2 * 32 + 3 * 32 * 32 + 32 * 32 + 32 * 128 + 128 * 32",),
                "did you count the biases", must_not_say=BLOCK),
    WrongAnswer("15.5", "the layer norms forgotten",
                ("block_parameters = (3 * 32 * 32 + 3 * 32) + (32 * 32 + 32) + (32 * 128 + 128)"
                 " + (128 * 32 + 32)",),
                "the two layer norms", must_not_say=BLOCK),
    WrongAnswer("15.5", "in_proj counted as one E × E map",
                ("block_parameters = 2 * 2 * 32 + (32 * 32 + 32) + (32 * 32 + 32)"
                 " + (32 * 128 + 128) + (128 * 32 + 32)",),
                "3E numbers from E", must_not_say=BLOCK),
    WrongAnswer("15.5", "the attention counted once per head",
                ("block_parameters = 2 * 2 * 32 + 2 * ((3 * 32 * 32 + 3 * 32) + (32 * 32 + 32))"
                 " + (32 * 128 + 128) + (128 * 32 + 32)",),
                "the heads share in_proj and out_proj", must_not_say=BLOCK),
    WrongAnswer("15.5", "an MLP of E features",
                ("block_parameters = 2 * 2 * 32 + (3 * 32 * 32 + 3 * 32) + (32 * 32 + 32)"
                 " + 2 * (32 * 32 + 32)",),
                "count each part again", must_not_say=BLOCK),
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
