"""Notebook 06's checks catch typical wrong answers, say where to look, and give nothing away;
every right answer passes, and so do the right answers written another way."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "06_matrices_and_batches.ipynb"

SUM_TO_SHAPE = """
while grad.ndim > len(shape):
    grad = grad.{leading}
for axis, length in enumerate(shape):
    if length == 1 and grad.shape[axis] != 1:
        grad = grad.{stretched}
return grad
"""
MATMUL_FORWARD = "a, b = self.inputs\nself.value = a.value @ b.value"
MATMUL_BACKWARD = """
grad = self.upstream_gradient()
a, b = self.inputs
if a.needs_gradient:
    self.send_gradient(a, {da})
if b.needs_gradient:
    self.send_gradient(b, {db})
"""
SIGMOID_FORWARD = "self.value = 1.0 / (1.0 + np.exp(-self.inputs[0].value))"
RELU_FORWARD = "self.value = np.maximum(self.inputs[0].value, 0.0)"
MSE_FORWARD = "self.value = np.mean(self.diff ** 2)"
MSE_BACKWARD = """
prediction, target = self.inputs
grad = {grad}
if prediction.needs_gradient:
    self.send_gradient(prediction, grad)
if target.needs_gradient:
    self.send_gradient(target, {to_target})
"""
MSE_GRAD = "self.upstream_gradient() * 2.0 * self.diff / self.diff.size"
MSE_TO_TARGET = "-grad.reshape(target.value.shape)"
LINEAR_FORWARD = "x, weight, bias = (node.value for node in self.inputs)\nself.value = {value}"
LINEAR_BACKWARD = """
grad = self.upstream_gradient()
x, weight, bias = self.inputs
if x.needs_gradient:
    self.send_gradient(x, grad @ weight.value.T)
if weight.needs_gradient:
    self.send_gradient(weight, {dw})
if bias.needs_gradient:
    self.send_gradient(bias, {db})
"""
NO_ARRAY = ("[", "array(")  # no check prints an array (the expected value) in its message


def sum_to_shape(leading="sum(axis=0)", stretched="sum(axis=axis, keepdims=True)"):
    return (SUM_TO_SHAPE.format(leading=leading, stretched=stretched),)


def matmul(da="grad @ b.value.T", db="a.value.T @ grad", forward=MATMUL_FORWARD,
           backward=MATMUL_BACKWARD):
    return (forward, backward.format(da=da, db=db))


def mse(grad=MSE_GRAD, to_target=MSE_TO_TARGET, forward=MSE_FORWARD, backward=MSE_BACKWARD):
    return (forward, backward.format(grad=grad, to_target=to_target))


def linear(value="x @ weight + bias", dw="x.value.T @ grad", db="grad.sum(axis=0)",
           backward=LINEAR_BACKWARD):
    return (LINEAR_FORWARD.format(value=value), backward.format(dw=dw, db=db))


WRONG = [
    # 6.1: teaching_sum_to_shape
    WrongAnswer("6.1", "a mean for a sum", sum_to_shape(
        "mean(axis=0)", "mean(axis=axis, keepdims=True)"), "A mean where a sum belongs",
        must_not_say=NO_ARRAY),
    WrongAnswer("6.1", "a forgotten keepdims", sum_to_shape(stretched="sum(axis=axis)"),
                "keepdims=True", must_not_say=NO_ARRAY),
    WrongAnswer("6.1", "the stretched axes left unsummed",
                ("while grad.ndim > len(shape):\n    grad = grad.sum(axis=0)\nreturn grad",),
                "was stretched: add up its copies", must_not_say=NO_ARRAY),
    WrongAnswer("6.1", "the added axes left in place",
                ("for axis, length in enumerate(shape):\n"
                 "    if length == 1 and grad.shape[axis] != 1:\n"
                 "        grad = grad.sum(axis=axis, keepdims=True)\nreturn grad",),
                "added in front is still there", must_not_say=NO_ARRAY),
    WrongAnswer("6.1", "the last axis summed for the first", sum_to_shape("sum(axis=-1)"),
                "line the shapes up from the right", must_not_say=NO_ARRAY),
    # 6.2: TeachingMatMul
    WrongAnswer("6.2", "a missing transpose", matmul(da="grad @ b.value"),
                "∂L/∂A for A (3, 3) and B (3, 3) has the right shape but not the right numbers",
                must_not_say=NO_ARRAY),
    WrongAnswer("6.2", "the gradient of B transposed", matmul(db="grad.T @ a.value"),
                "the transpose of ∂L/∂B", must_not_say=NO_ARRAY),
    WrongAnswer("6.2", "the factors of ∂L/∂A in the wrong order", matmul(da="b.value @ grad.T"),
                "the transpose of ∂L/∂A", must_not_say=NO_ARRAY),
    WrongAnswer("6.2", "the transpose of A forgotten", matmul(db="a.value @ grad"),
                "∂L/∂B for A (3, 3) and B (3, 3) has the right shape but not the right numbers",
                must_not_say=NO_ARRAY),
    WrongAnswer("6.2", "entry by entry for a matrix product",
                matmul(forward="a, b = self.inputs\nself.value = a.value * b.value"),
                "it is the matrix product A @ B", must_not_say=NO_ARRAY),
    WrongAnswer("6.2", "a gradient sent to data", matmul(backward="""
                grad = self.upstream_gradient()
                a, b = self.inputs
                self.send_gradient(a, {da})
                self.send_gradient(b, {db})
                """), "although A is data"),
    # 6.3: TeachingSigmoid
    WrongAnswer("6.3", "a sign error in the exponent",
                ("self.value = 1.0 / (1.0 + np.exp(self.inputs[0].value))",
                 "s = self.value\n"
                 "self.send_gradient(self.inputs[0], self.upstream_gradient() * s * (1.0 - s))"),
                "the sign of the exponent", must_not_say=NO_ARRAY),
    WrongAnswer("6.3", "the derivative from the input",
                (SIGMOID_FORWARD, "x = self.inputs[0].value\n"
                 "self.send_gradient(self.inputs[0], self.upstream_gradient() * x * (1.0 - x))"),
                "not with its input x", must_not_say=NO_ARRAY),
    WrongAnswer("6.3", "a forgotten upstream gradient",
                (SIGMOID_FORWARD,
                 "s = self.value\nself.send_gradient(self.inputs[0], s * (1.0 - s))"),
                "multiply it by the upstream gradient G", must_not_say=NO_ARRAY),
    WrongAnswer("6.3", "a matrix product for entry by entry",
                (SIGMOID_FORWARD, "s = self.value\n"
                 "self.send_gradient(self.inputs[0], self.upstream_gradient() @ (s * (1.0 - s)))"),
                "Write down the shape of every array", must_not_say=NO_ARRAY),
    # 6.4: TeachingReLU
    WrongAnswer("6.4", "np.max for np.maximum",
                ("self.value = np.max(self.inputs[0].value, 0)",
                 "self.send_gradient(self.inputs[0], self.upstream_gradient() * "
                 "(self.inputs[0].value > 0))"),
                "np.max takes the largest entry along an axis", must_not_say=NO_ARRAY),
    WrongAnswer("6.4", "the mask on the output, always true",
                (RELU_FORWARD, "self.send_gradient(self.inputs[0], self.upstream_gradient() * "
                 "(self.value >= 0))"),
                "not 0 where the input is negative", must_not_say=NO_ARRAY),
    WrongAnswer("6.4", "the upstream gradient times the value",
                (RELU_FORWARD, "self.send_gradient(self.inputs[0], self.upstream_gradient() * "
                 "self.value)"),
                "relu'(x) is 1 or 0, not relu(x)", must_not_say=NO_ARRAY),
    WrongAnswer("6.4", "a forgotten upstream gradient",
                (RELU_FORWARD, "self.send_gradient(self.inputs[0], self.inputs[0].value > 0)"),
                "multiply it by the upstream gradient G", must_not_say=NO_ARRAY),
    WrongAnswer("6.4", "a gradient at 0",
                (RELU_FORWARD, "self.send_gradient(self.inputs[0], self.upstream_gradient() * "
                 "(self.inputs[0].value >= 0))"),
                "where the input is exactly 0", must_not_say=NO_ARRAY),
    WrongAnswer("6.4", "the mask taken from the upstream gradient",
                (RELU_FORWARD, "grad = self.upstream_gradient()\n"
                 "self.send_gradient(self.inputs[0], grad * (grad > 0))"),
                "relu' depends on the input x", must_not_say=NO_ARRAY),
    # 6.5: TeachingMSE
    WrongAnswer("6.5", "a sum for the mean", mse(forward="self.value = np.sum(self.diff ** 2)"),
                "a sum where the mean belongs", must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "a mean over the rows only",
                mse(forward="self.value = np.mean(np.sum(self.diff ** 2, axis=1))"),
                "the mean is over every entry", must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "a gradient without the 2",
                mse(grad="self.upstream_gradient() * self.diff / self.diff.size"),
                "the derivative of d² is 2d", must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "a gradient not divided by n",
                mse(grad="self.upstream_gradient() * 2.0 * self.diff"),
                "12 times too big", must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "a gradient divided by the rows only",
                mse(grad="self.upstream_gradient() * 2.0 * self.diff / len(self.diff)"),
                "divided by the number of rows only", must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "a forgotten upstream gradient",
                mse(grad="2.0 * self.diff / self.diff.size"),
                "Multiply by G", must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "the target's gradient with the wrong sign",
                mse(to_target="grad.reshape(target.value.shape)"), "the wrong sign",
                must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "the target's gradient not reshaped", mse(to_target="-grad"),
                "give the target's gradient the target's shape", must_not_say=NO_ARRAY),
    WrongAnswer("6.5", "a gradient sent to data", mse(backward="""
                prediction, target = self.inputs
                grad = {grad}
                self.send_gradient(prediction, grad)
                self.send_gradient(target, {to_target})
                """), "although y is data"),
    # 6.6: TeachingLinear
    WrongAnswer("6.6", "a mean for the bias's sum", linear(db="grad.mean(axis=0)"),
                "a mean over the rows where the sum belongs", must_not_say=NO_ARRAY),
    WrongAnswer("6.6", "a forgotten broadcast sum", linear(db="grad"),
                "b was added to every row, so sum over the rows", must_not_say=NO_ARRAY),
    WrongAnswer("6.6", "the bias summed over the wrong axis", linear(db="grad.sum(axis=1)"),
                "b has shape (2,): sum over the rows", must_not_say=NO_ARRAY),
    WrongAnswer("6.6", "the gradient of W transposed", linear(dw="grad.T @ x.value"),
                "the transpose of ∂L/∂W", must_not_say=NO_ARRAY),
    WrongAnswer("6.6", "a missing transpose", linear(dw="x.value @ grad"),
                "TeachingLinear raised ValueError", must_not_say=NO_ARRAY),
    WrongAnswer("6.6", "a forgotten bias", linear(value="x @ weight"),
                "the bias added to every row", must_not_say=NO_ARRAY),
    WrongAnswer("6.6", "a gradient sent to data", linear(backward="""
                grad = self.upstream_gradient()
                x, weight, bias = self.inputs
                self.send_gradient(x, grad @ weight.value.T)
                self.send_gradient(weight, {dw})
                self.send_gradient(bias, {db})
                """), "although X is data"),
    # 6.7: predicted_shapes
    WrongAnswer("6.7", "W's shape transposed",
                ('predicted_shapes = {"X": (10, 7), "W": (3, 7), "b": (3,)}',),
                "∂L/∂W does not have the shape (3, 7)", must_not_say=("(7, 3)",)),
    WrongAnswer("6.7", "a bias gradient per row",
                ('predicted_shapes = {"X": (10, 7), "W": (7, 3), "b": (10, 3)}',),
                "its gradient adds up the rows", must_not_say=("(3,)",)),
    WrongAnswer("6.7", "lists for tuples",
                ('predicted_shapes = {"X": [10, 7], "W": [7, 3], "b": [3]}',),
                "a shape is a tuple"),
    # 6.8: sum_back
    WrongAnswer("6.8", "a mean for a sum",
                ("return gradient.mean(axis=0).mean(axis=1, keepdims=True)",),
                "A mean where a sum belongs", must_not_say=NO_ARRAY),
    WrongAnswer("6.8", "a forgotten keepdims", ("return gradient.sum(axis=0).sum(axis=1)",),
                "keepdims=True", must_not_say=NO_ARRAY),
    WrongAnswer("6.8", "one copy for the sum of all",
                ("return gradient[0].sum(axis=1, keepdims=True)",),
                "a copy left out", must_not_say=NO_ARRAY),
    WrongAnswer("6.8", "the added axis kept", ("return gradient.sum(axis=2, keepdims=True)",),
                "added in front is still there", must_not_say=NO_ARRAY),
    # 6.9: the row bias
    WrongAnswer("6.9", "the bias's shape without its row axis",
                ("row_bias_shape = (2,)", "return G.sum(axis=0, keepdims=True)"),
                "not the shape of the bias's gradient", must_not_say=("(1, 2)",)),
    WrongAnswer("6.9", "a forgotten keepdims", ("row_bias_shape = (1, 2)", "return G.sum(axis=0)"),
                "summed, and stays", must_not_say=("(1, 2)",)),
    WrongAnswer("6.9", "a mean for a sum",
                ("row_bias_shape = (1, 2)", "return G.mean(axis=0, keepdims=True)"),
                "6 times too small", must_not_say=NO_ARRAY),
]

# Right answers written differently from the solution: the checks must let them pass.
OTHER_RIGHT = [
    WrongAnswer("6.4", "the mask on the output (relu(x) > 0 exactly where x > 0)",
                (RELU_FORWARD, "self.send_gradient(self.inputs[0], self.upstream_gradient() * "
                 "(self.value > 0))"), ""),
    WrongAnswer("6.3", "σ(x) σ(−x) for σ'(x)",
                (SIGMOID_FORWARD, "x = self.inputs[0].value\nself.send_gradient(self.inputs[0], "
                 "self.upstream_gradient() * self.value / (1.0 + np.exp(x)))"), ""),
    WrongAnswer("6.1", "sum_to_shape with one sum call",
                ("extra = grad.ndim - len(shape)\n"
                 "axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) "
                 "if n == 1)\nreturn grad.sum(axis=axes, keepdims=True).reshape(shape)",), ""),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG + OTHER_RIGHT)


@pytest.mark.parametrize("wrong", WRONG, ids=[f"{w.exercise}: {w.why}" for w in WRONG])
def test_the_check_catches_a_wrong_answer(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("right", OTHER_RIGHT, ids=[f"{w.exercise}: {w.why}" for w in OTHER_RIGHT])
def test_the_check_accepts_a_right_answer_written_another_way(results, right):
    assert results[right].ename is None, f"exercise {right.exercise}, {right.why}: {results[right]}"


def test_every_right_answer_passes(results):
    numbers = sorted({w.exercise for w in WRONG})
    assert numbers == [f"6.{k}" for k in range(1, 10)]
    for number in numbers:
        assert results[(number, "right")].ename is None, f"{number}: {results[(number, 'right')]}"
