"""Notebook 10's exercise checks catch typical wrong answers, say where to look, and do not give
the answer away; every right answer passes (see tests/exercise_harness.py)."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "10_more_operations.ipynb"
NO_ARRAYS = ("[[", "array(")  # a check never prints the expected numbers
NO_ARRAY = ("array(",)  # the same, for the checks that name an index such as a[[0, 0, 2]]


def divide(grad_a="grad / b.value", grad_b="-grad * a.value / b.value**2",
           shape_a="np.shape(a.value)", shape_b="np.shape(b.value)"):
    return (f"""
a, b = self.inputs
grad = self.upstream_gradient()
self.send_gradient(a, fw.sum_to_shape({grad_a}, {shape_a}))
self.send_gradient(b, fw.sum_to_shape({grad_b}, {shape_b}))
""",)


def one_input(gradient):
    return (f"""
x = self.inputs[0]
self.send_gradient(x, {gradient})
""",)


def power(local):
    return (f"""
a, p = self.inputs[0], self.exponent
self.send_gradient(a, self.upstream_gradient() * {local})
""",)


def sum_backward(body):
    return (f"""
x = self.inputs[0]
grad = self.upstream_gradient()
{body}
""",)


WRONG = [
    # 10.1 Divide
    WrongAnswer("10.1", "the quotient rule's sign", divide(grad_b="grad * a.value / b.value**2"),
                "has the wrong sign", must_not_say=NO_ARRAYS),
    WrongAnswer("10.1", "b's gradient not squared", divide(grad_b="-grad * a.value / b.value"),
                "x times the right one", must_not_say=NO_ARRAYS),
    WrongAnswer("10.1", "no broadcast sum",
                ("""
a, b = self.inputs
grad = self.upstream_gradient()
self.send_gradient(a, grad / b.value)
self.send_gradient(b, -grad * a.value / b.value**2)
""",), "the sum over the copies", must_not_say=NO_ARRAYS),
    WrongAnswer("10.1", "only b summed back", divide(shape_a="np.shape(grad)"),
                "has shape (3, 4), but a has shape (3, 1)", must_not_say=NO_ARRAYS),
    WrongAnswer("10.1", "a's gradient forgotten",
                ("""
a, b = self.inputs
grad = self.upstream_gradient()
self.send_gradient(b, fw.sum_to_shape(-grad * a.value / b.value**2, np.shape(b.value)))
""",), "sent no gradient to a", must_not_say=NO_ARRAYS),
    # 10.2 Power
    WrongAnswer("10.2", "p x^p", power("p * a.value ** p"), "x times the right one",
                must_not_say=NO_ARRAYS),
    WrongAnswer("10.2", "the factor p forgotten", power("a.value ** (p - 1)"),
                "0.333 times the right one", must_not_say=NO_ARRAYS),
    WrongAnswer("10.2", "the upstream gradient forgotten", ("""
a, p = self.inputs[0], self.exponent
self.send_gradient(a, p * a.value ** (p - 1))
""",), "differs from the numerical gradient", must_not_say=NO_ARRAYS),
    # 10.3 Exp
    WrongAnswer("10.3", "G instead of G e^x", one_input("self.upstream_gradient()"),
                "is the upstream gradient G itself", must_not_say=NO_ARRAYS),
    WrongAnswer("10.3", "x instead of e^x", one_input("self.upstream_gradient() * x.value"),
                "differs from the numerical gradient", must_not_say=NO_ARRAYS),
    # 10.4 Log
    WrongAnswer("10.4", "G x instead of G / x", one_input("self.upstream_gradient() * x.value"),
                "the derivative of ln x", must_not_say=NO_ARRAYS),
    WrongAnswer("10.4", "G / y: the node's value, not the input's",
                one_input("self.upstream_gradient() / self.value"),
                "differs from the numerical gradient", must_not_say=NO_ARRAYS),
    WrongAnswer("10.4", "the sign of 1 / x", one_input("-self.upstream_gradient() / x.value"),
                "has the wrong sign", must_not_say=NO_ARRAYS),
    # 10.5 Sum
    WrongAnswer("10.5", "not broadcast back to the input's shape",
                sum_backward("self.send_gradient(x, grad)"), "the gradient has a's shape",
                must_not_say=NO_ARRAYS),
    WrongAnswer("10.5", "broadcast without putting the summed axis back",
                sum_backward("self.send_gradient(x, np.broadcast_to(grad, x.value.shape).copy())"),
                "a.sum(axis=1): the backward pass raised ValueError", must_not_say=NO_ARRAYS),
    WrongAnswer("10.5", "the axes put back even with keepdims",
                sum_backward("if self.axis is not None:\n"
                             "    grad = np.expand_dims(grad, self.axis)\n"
                             "self.send_gradient(x, np.broadcast_to(grad, x.value.shape).copy())"),
                "keepdims=True)", must_not_say=NO_ARRAYS),
    WrongAnswer("10.5", "a mean for a sum",
                sum_backward("if self.axis is not None and not self.keepdims:\n"
                             "    grad = np.expand_dims(grad, self.axis)\n"
                             "count = x.value.size // np.size(self.value)\n"
                             "self.send_gradient(x, np.broadcast_to(grad / count, x.value.shape)"
                             ".copy())"),
                "0.333 times the right one", must_not_say=NO_ARRAYS),
    # 10.6 Transpose
    WrongAnswer("10.6", "transposed by the same axes again",
                one_input("np.transpose(self.upstream_gradient(), self.axes)"),
                "which permutation undoes", must_not_say=NO_ARRAYS),
    WrongAnswer("10.6", "every axis reversed, as .T does", one_input("self.upstream_gradient().T"),
                "has shape (2, 4, 3), but a has shape (2, 3, 4)", must_not_say=NO_ARRAYS),
    # 10.7 Index
    WrongAnswer("10.7", "grad[index] += G loses repeated reads", ("""
x = self.inputs[0]
grad = np.zeros_like(x.value)
grad[self.index] += self.upstream_gradient()
self.send_gradient(x, grad)
""",), "an element read twice must collect both", must_not_say=NO_ARRAY),
    WrongAnswer("10.7", "G sent as it is, not scattered", one_input("self.upstream_gradient()"),
                "has shape (3,), but a has shape (4,)", must_not_say=NO_ARRAY),
    WrongAnswer("10.7", "ones where read instead of G", ("""
x = self.inputs[0]
grad = np.zeros_like(x.value)
np.add.at(grad, self.index, 1.0)
self.send_gradient(x, grad)
""",), "differs from the numerical gradient", must_not_say=NO_ARRAY),
    # 10.8 by hand
    WrongAnswer("10.8", "x0 counted once", ("grad_by_hand = np.array([2 / 3, 0.0, 2.0])",),
                "reads x₀ twice", must_not_say=("1.33",)),
    WrongAnswer("10.8", "the mean forgotten", ("grad_by_hand = np.array([4.0, 0.0, 6.0])",),
                "what does the mean divide by", must_not_say=("1.33",)),
    WrongAnswer("10.8", "x1 given a gradient", ("grad_by_hand = np.array([4 / 3, 4 / 3, 2.0])",),
                "is x₁ read at all", must_not_say=("1.33",)),
    # 10.9 binary cross-entropy
    WrongAnswer("10.9", "a sum for a mean", ("return (fw.log(1 + fw.exp(z)) - y * z).sum()",),
                "a sum where the mean belongs", must_not_say=NO_ARRAYS),
    WrongAnswer("10.9", "the sign of y z", ("return (fw.log(1 + fw.exp(z)) + y * z).mean()",),
                "the sign of y z", must_not_say=NO_ARRAYS),
    WrongAnswer("10.9", "the 1 forgotten", ("return (fw.log(fw.exp(z)) - y * z).mean()",),
                "check each term", must_not_say=NO_ARRAYS),
    # 10.10 stable cross-entropy
    WrongAnswer("10.10", "no shift at all", ("return composed_cross_entropy(logits, labels)",),
                "overflowed", must_not_say=("200.8",)),
    WrongAnswer("10.10", "the shift not added back", ("""
log_sum_exp = fw.log(fw.exp(logits - shift).sum(axis=1))
picked = logits[np.arange(len(labels)), labels]
return (log_sum_exp - picked).mean()
""",), "short by the mean of the shifts", must_not_say=("200.8",)),
    WrongAnswer("10.10", "the shift added inside the log", ("""
log_sum_exp = fw.log(fw.exp(logits - shift).sum(axis=1) + shift[:, 0])
picked = logits[np.arange(len(labels)), labels]
return (log_sum_exp - picked).mean()
""",), "mind the shapes", must_not_say=("200.8",)),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=[w.why for w in WRONG])
def test_the_check_catches_a_wrong_answer(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", sorted({w.exercise for w in WRONG}, key=lambda n: int(n[3:])))
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, results[(number, "right")]
