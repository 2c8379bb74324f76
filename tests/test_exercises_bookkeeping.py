"""framework.exercises: a notebook goes on with the learner's piece once its check has passed on
that very piece, and with the package's until then, saying which one it uses."""

import pytest

import framework as fw
from framework import exercises
from framework import layers as L


@pytest.fixture(autouse=True)
def fresh_record(monkeypatch):
    monkeypatch.setattr(exercises, "_passed", {})


def test_the_packages_piece_until_the_check_passes(capsys):
    class TeachingMatMul(fw.Node):
        pass

    assert exercises.yours_or_ours("6.2", TeachingMatMul, fw.MatMul) is fw.MatMul
    assert capsys.readouterr().out == "using fw.MatMul until exercise 6.2 passes\n"
    exercises.correct("6.2", TeachingMatMul)
    assert capsys.readouterr().out == "Exercise 6.2: correct\n"
    assert exercises.yours_or_ours("6.2", TeachingMatMul, fw.MatMul) is TeachingMatMul
    assert capsys.readouterr().out == "using your TeachingMatMul\n"


def test_a_piece_defined_again_after_its_check_is_not_trusted(capsys):
    def sgd_step(graph):
        return graph

    exercises.correct("7.2", sgd_step)

    def sgd_step(graph):  # noqa: F811 (edited after the check, as a learner would)
        return None

    assert exercises.yours_or_ours("7.2", sgd_step, fw.optimize) is fw.optimize
    assert capsys.readouterr().out.endswith("using fw.optimize until exercise 7.2 passes\n")


def test_one_check_may_pass_several_pieces_and_add_a_note(capsys):
    def sgd(): ...
    def adam(): ...

    exercises.correct("9.1", sgd, adam, note="(3 steps)")
    assert capsys.readouterr().out == "Exercise 9.1: correct (3 steps)\n"
    assert exercises.passed("9.1", adam) and exercises.passed("9.1", sgd)
    assert exercises.passed("9.1") and not exercises.passed("9.2")
    assert not exercises.passed("9.1", fw.Adam)


def test_a_layer_of_the_package_is_named_as_the_notebooks_import_it(capsys):
    class TeachingSequential(L.Layer):
        pass

    assert exercises.yours_or_ours("12.2", TeachingSequential, L.Sequential) is L.Sequential
    assert capsys.readouterr().out == "using L.Sequential until exercise 12.2 passes\n"


def test_a_check_of_choices_keeps_the_right_ones_as_fingerprints(capsys):
    key = {"loop": (exercises.fingerprint("9.9", "loop", "dynamic"), "how often does it run?"),
           "save": (exercises.fingerprint("9.9", "save", "static"), "what exists before data?")}
    assert "dynamic" not in repr(key) and "static" not in repr(key)
    choices = ("static", "dynamic")
    with pytest.raises(NotImplementedError, match="set save to 'static' or 'dynamic'"):
        exercises.check_choices("9.9", {"loop": "dynamic", "save": ...}, choices, key)
    with pytest.raises(AssertionError, match="choose one of") as typo:
        exercises.check_choices("9.9", {"loop": "Dynamic", "save": "static"}, choices, key)
    assert "loop" in str(typo.value)
    with pytest.raises(AssertionError) as wrong:
        exercises.check_choices("9.9", {"loop": "dynamic", "save": "dynamic"}, choices, key)
    assert str(wrong.value) == ("save: 'dynamic' is not the right choice; think again: what "
                                "exists before data?")
    assert not exercises.passed("9.9")
    exercises.check_choices("9.9", {"loop": "dynamic", "save": "static"}, choices, key)
    assert exercises.passed("9.9")
    assert capsys.readouterr().out == "Exercise 9.9: correct\n"
    # the fingerprint is of this exercise and this answer: the same choice elsewhere differs
    assert exercises.fingerprint("9.9", "loop", "dynamic") != \
        exercises.fingerprint("9.8", "loop", "dynamic")
    assert exercises.fingerprint("9.9", "loop", "dynamic") != \
        exercises.fingerprint("9.9", "save", "dynamic")
