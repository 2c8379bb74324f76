"""Notebook 01's exercise checks catch typical wrong answers and say where to look."""

import pytest
from exercise_harness import WrongAnswer, assert_caught, run_wrong_answers

NAME = "01_introduction.ipynb"
WRONG = [
    WrongAnswer("1.1", "inner lengths kept", ("exercise_1_shape = (4, 3, 7)",), "2 axes",
                must_not_say=("(4, 7)",)),
    WrongAnswer("1.1", "rows from the second operand", ("exercise_1_shape = (3, 7)",),
                "number of rows", must_not_say=("(4, 7)",)),
    WrongAnswer("1.1", "columns from the first operand", ("exercise_1_shape = (4, 3)",),
                "number of columns", must_not_say=("(4, 7)",)),
    WrongAnswer("1.2", "weights alone", ("exercise_2_count = 64 * 128 + 128 * 10",),
                "did you count the biases?", must_not_say=("9610",)),
    WrongAnswer("1.2", "one layer forgotten", ("exercise_2_count = 64 * 128 + 128",),
                "too few numbers", must_not_say=("9610",)),
    WrongAnswer("1.2", "a bias per weight", ("exercise_2_count = 2 * (64 * 128 + 128 * 10)",),
                "too many numbers", must_not_say=("9610",)),
    WrongAnswer("1.3", "the sums", ("return X.sum(axis=0)",), "divide by the number of rows"),
    WrongAnswer("1.3", "the wrong axis", ("return X.sum(axis=1) / X.shape[0]",), "which axis"),
    WrongAnswer("1.3", "divided by the columns", ("return X.sum(axis=0) / X.shape[1]",),
                "the means are not"),
]


@pytest.fixture(scope="module")
def results():
    return run_wrong_answers(NAME, WRONG)


@pytest.mark.parametrize("wrong", WRONG, ids=lambda wrong: wrong.why)
def test_the_check_catches_it(results, wrong):
    assert_caught(wrong, results[wrong])


@pytest.mark.parametrize("number", ["1.1", "1.2", "1.3"])
def test_the_right_answer_passes(results, number):
    assert results[(number, "right")].ename is None, results[(number, "right")]
