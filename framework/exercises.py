"""Which of the course's exercises have passed their checks, so that a notebook goes on with the
learner's own piece once its check has passed, and with the package's until then.

A check cell ends with ``correct``; a later cell that needs the piece asks ``yours_or_ours``::

    exercises.correct("6.2", TeachingMatMul)   # the check's last line; "Exercise 6.2: correct"
    MatMul = exercises.yours_or_ours("6.2", TeachingMatMul, fw.MatMul)
    # prints "using your TeachingMatMul", or "using fw.MatMul until exercise 6.2 passes"

A piece counts only as the very object its check passed: a class or function defined again after
its check (edited, say) is the package's again until the check is run again. A blank therefore
never breaks the cells after it, and the numbers they print are the same either way.
"""

from __future__ import annotations

import hashlib

_passed: dict[str, tuple] = {}


def correct(number: str, *pieces, note: str = "") -> None:
    """Record that exercise ``number``'s check passed on ``pieces``, and say so."""
    _passed[number] = pieces
    print(f"Exercise {number}: correct" + (f" {note}" if note else ""))


def passed(number: str, piece=None) -> bool:
    """Whether exercise ``number``'s check passed (on ``piece`` itself, if one is given)."""
    if number not in _passed:
        return False
    return piece is None or any(piece is done for done in _passed[number])


def yours_or_ours(number: str, yours, ours):
    """``yours`` if exercise ``number``'s check passed on it, ``ours`` otherwise; says which."""
    if passed(number, yours):
        print(f"using your {_name(yours)}")
        return yours
    print(f"using {_name(ours)} until exercise {number} passes")
    return ours


def fingerprint(number: str, name: str, choice) -> str:
    """A fingerprint of ``choice`` as the answer ``name`` of exercise ``number``: what a check
    keeps instead of the right choice, so that its cell does not show it."""
    return hashlib.sha256(f"{number} {name} {choice!r}".encode()).hexdigest()[:16]


def check_choices(number: str, answers: dict, choices: tuple, key: dict) -> None:
    """The check of an exercise whose answers are choices among a few words: ``answers`` {name:
    the learner's choice}, ``key`` {name: (the right choice's fingerprint, a hint)}. A blank
    (``...``) raises NotImplementedError, a wrong choice an AssertionError naming it with its
    hint (never the right choice); all right, ``correct(number)``."""
    blanks = [name for name, answer in answers.items() if answer is ...]
    if blanks:
        one_of = " or ".join(repr(c) for c in choices)
        raise NotImplementedError(f"Exercise {number} is not done yet: set {', '.join(blanks)} "
                                  f"to {one_of}")
    for name, (right, hint) in key.items():
        answer = answers[name]
        if answer not in choices:
            raise AssertionError(f"{name} is {answer!r}: choose one of "
                                 + ", ".join(repr(c) for c in choices))
        if fingerprint(number, name, answer) != right:
            raise AssertionError(f"{name}: {answer!r} is not the right choice; think again: "
                                 f"{hint}")
    correct(number)


def _name(piece) -> str:
    name = getattr(piece, "__name__", None) or repr(piece)
    module = getattr(piece, "__module__", "") or ""
    if module == "framework.layers":  # imported as L: from framework import layers as L
        return f"L.{name}"
    return f"fw.{name}" if module.split(".")[0] == "framework" else name
