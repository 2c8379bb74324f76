"""tools/workbook.py: the learner's edition (notebooks/) is made from the solutions (solutions/).

First the generator on tiny notebooks made here, then the committed course: notebooks/ is
exactly what the generator makes of solutions/, and no line of a solution shows in it.
"""

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import workbook  # noqa: E402

SOLUTIONS, NOTEBOOKS = ROOT / "solutions", ROOT / "notebooks"
NAMES = sorted(path.name for path in SOLUTIONS.glob("*.ipynb"))


def _printed(text):
    return [new_output("stream", name="stdout", text=text)]


def _tiny():
    """A notebook with one teaching cell, a function exercise and a value exercise."""
    return new_notebook(cells=[
        new_markdown_cell("# A tiny notebook"),
        new_code_cell("x = 2\nprint(x)", outputs=_printed("2\n"), execution_count=1),
        new_markdown_cell("**Exercise 7.1.** Write `double`."),
        new_code_cell('def double(v):\n    """Twice v."""\n    ### BEGIN SOLUTION\n'
                      "    # secret: add it to itself\n    return v + v\n    ### END SOLUTION",
                      execution_count=2),
        new_code_cell('if double(3) != 6:\n    raise AssertionError(f"expected 6, got {double(3)}")'
                      '\nprint("ok")', outputs=_printed("ok\n"), execution_count=3),
        new_markdown_cell("**Exercise 7.2.** The answer."),
        new_code_cell("# answer: a number\n### BEGIN SOLUTION\nanswer, _ = 42, 0\n"
                      "answer += 0\n### END SOLUTION", execution_count=4),
        new_code_cell('if answer is ...:\n    raise NotImplementedError("not done")',
                      outputs=[], execution_count=5),
        new_code_cell("print(x + 1)", outputs=_printed("3\n"), execution_count=6),
    ])


def test_find_exercises_pairs_each_solution_with_the_next_code_cell():
    exercises = workbook.find_exercises(_tiny(), "07_tiny.ipynb")
    assert exercises == [workbook.Exercise("7.1", 3, 4), workbook.Exercise("7.2", 6, 7)]


def test_a_function_keeps_its_signature_and_docstring_and_raises():
    learner = workbook.learners_edition(_tiny(), "07_tiny.ipynb")
    assert learner.cells[3].source == (
        'def double(v):\n    """Twice v."""\n    raise NotImplementedError('
        '"Exercise 7.1 is not done yet: write the body of double")')
    namespace = {}
    exec(learner.cells[3].source, namespace)
    with pytest.raises(NotImplementedError, match="Exercise 7.1 is not done yet"):
        namespace["double"](1)


def test_a_value_becomes_an_ellipsis_under_the_comment_outside_the_markers():
    learner = workbook.learners_edition(_tiny(), "07_tiny.ipynb")
    assert learner.cells[6].source == (
        "# answer: a number\nanswer = ...  # replace ... with your answer")


def test_a_method_is_named_with_its_class():
    source = ("class A:\n    def f(self):\n        ### BEGIN SOLUTION\n        return 1\n"
              "        ### END SOLUTION\n\n    def g(self):\n        return 2")
    assert workbook.stub_source(source, "1.1") == (
        "class A:\n    def f(self):\n        raise NotImplementedError("
        '"Exercise 1.1 is not done yet: write the body of A.f")\n\n    def g(self):\n'
        "        return 2")


def test_exercise_cells_lose_outputs_and_checks_are_tagged_while_the_rest_is_copied():
    solutions = _tiny()
    learner = workbook.learners_edition(solutions, "07_tiny.ipynb")
    for index in (3, 4, 6, 7):
        assert learner.cells[index].outputs == []
        assert learner.cells[index].execution_count is None
    assert learner.cells[4].metadata == {
        "tags": ["raises-exception"], "exercise": {"number": "7.1", "cell": "check"}}
    assert learner.cells[3].metadata == {"exercise": {"number": "7.1", "cell": "solution"}}
    for index in (0, 1, 2, 5, 8):
        assert learner.cells[index] == solutions.cells[index]
    assert "raises-exception" not in str(solutions), "the solutions must not be changed"
    # The learner's edition is read back the same way.
    assert workbook.find_exercises(learner, "07_tiny.ipynb") == workbook.find_exercises(
        solutions, "07_tiny.ipynb")


@pytest.mark.parametrize("source, problem", [
    ("### BEGIN SOLUTION\nx = 1", "without ### END"),
    ("x = 1\n### END SOLUTION", "without ### BEGIN"),
    ("### BEGIN SOLUTION\nprint(1)\n### END SOLUTION", "must assign a name"),
])
def test_malformed_regions_are_refused(source, problem):
    with pytest.raises(ValueError, match=problem):
        workbook.stub_source(source, "1.1")


def _learner(source):
    """The learner's stub of ``source``, run: the names it defines."""
    stub = workbook.stub_source(source, "1.1", "01_x.ipynb")
    namespace = {}
    exec(stub, namespace)
    return stub, namespace


def test_a_function_whose_docstring_has_a_line_at_column_0_keeps_its_stub_inside():
    source = ('def area(r):\n    """The area of a disc:\n\npi r squared.\n"""\n'
              "    ### BEGIN SOLUTION\n    return 3.14159 * r * r\n    ### END SOLUTION\n"
              "\n\nprint(1)")
    stub, namespace = _learner(source)
    assert "area = ..." not in stub
    with pytest.raises(NotImplementedError, match="Exercise 1.1 is not done yet: write the "
                                                  "body of area"):
        namespace["area"](2)


def test_an_if_else_region_at_the_top_level_blanks_the_names_of_both_branches():
    stub, namespace = _learner("# answer\n### BEGIN SOLUTION\nif 2 > 1:\n    answer = 1\n"
                               "else:\n    answer, other = 2, 3\n### END SOLUTION")
    assert stub == ("# answer\nanswer = ...  # replace ... with your answer\n"
                    "other = ...  # replace ... with your answer")
    assert namespace["answer"] is ...


def test_a_function_defined_in_a_top_level_region_becomes_a_stub_function():
    stub, namespace = _learner("### BEGIN SOLUTION\ndef helper(a, b=2, *rest):\n"
                               "    return a + b\n\nresult = helper(1)\n### END SOLUTION\n"
                               "print(helper)")
    assert namespace["result"] is ...
    with pytest.raises(NotImplementedError, match="write the body of helper"):
        namespace["helper"](1, 2, 3)


@pytest.mark.parametrize("source, problem", [
    # the stub would sit in a loop or a branch that might never run
    ("def f(xs):\n    total = 0\n    for x in xs:\n        ### BEGIN SOLUTION\n"
     "        total += x\n        ### END SOLUTION\n    return total",
     "inside a for .line 3.; put the markers around the whole statement"),
    ("for i in range(3):\n    ### BEGIN SOLUTION\n    a = i\n    ### END SOLUTION",
     "inside a for"),
    ("def f(x):\n    if x:\n        ### BEGIN SOLUTION\n        return 1\n"
     "        ### END SOLUTION\n    return 0", "inside a if"),
    ("class A:\n    ### BEGIN SOLUTION\n    def f(self):\n        return 1\n"
     "    ### END SOLUTION", "inside a class body"),
    # a marker deeper than the code it marks
    ("def f():\n    x = 1\n        ### BEGIN SOLUTION\n    return x\n"
     "        ### END SOLUTION", "must be indented like the code between them"),
    # not whole statements
    ("total = (1 +\n### BEGIN SOLUTION\n2)\n### END SOLUTION", "cuts the statement of lines 1"),
    ("### BEGIN SOLUTION\nfor i in range(3):\n### END SOLUTION\n    print(i)", "cuts the"),
    ("### BEGIN SOLUTION\nclass A:\n    x = 1\n### END SOLUTION", "a class inside"),
    ("### BEGIN SOLUTION\nx = (\n### END SOLUTION", "not valid Python"),
])
def test_regions_whose_stub_could_not_work_are_refused_naming_the_exercise_and_notebook(
        source, problem):
    with pytest.raises(ValueError, match=r"exercise 1\.1 \(01_x\.ipynb\): .*" + problem):
        workbook.stub_source(source, "1.1", "01_x.ipynb")


def test_a_solution_without_a_check_cell_is_refused():
    notebook = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")])
    with pytest.raises(ValueError, match="no check cell"):
        workbook.find_exercises(notebook, "01_x.ipynb")


@pytest.mark.parametrize("marker", ["## BEGIN SOLUTION", "### Begin Solution",
                                    "### BEGIN SOLUTION (hard)", "#### END SOLUTION"])
def test_a_mistyped_marker_is_refused_rather_than_leaking_the_answer(marker):
    """Read as no marker at all, it would copy the answer into the learner's edition."""
    notebook = _tiny()
    cell = notebook.cells[3]
    cell.source = cell.source.replace(
        "### BEGIN SOLUTION" if "BEGIN" in marker else "### END SOLUTION", marker)
    with pytest.raises(ValueError, match=r"07_tiny.ipynb: cell 3: .* looks like a solution "
                                         r"marker but is not one"):
        workbook.learners_edition(notebook, "07_tiny.ipynb")


def test_a_marker_in_a_markdown_cell_is_refused():
    notebook = _tiny()
    notebook.cells[2].source += "\n### BEGIN SOLUTION\nThe answer is 42.\n### END SOLUTION"
    with pytest.raises(ValueError, match="cell 2 is a markdown cell with a solution marker"):
        workbook.learners_edition(notebook, "07_tiny.ipynb")


def test_a_notebook_that_fails_leaves_the_learners_edition_as_it_was(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(_tiny(), solutions / "07_tiny.ipynb")
    broken = _tiny()
    broken.cells[3].source = broken.cells[3].source.replace("### END SOLUTION", "")
    nbformat.write(broken, solutions / "08_broken.ipynb")
    with pytest.raises(ValueError, match="without ### END"):
        workbook.main(["--solutions", str(solutions), "--notebooks", str(notebooks)])
    assert not notebooks.exists() or list(notebooks.iterdir()) == []


def test_check_mode_reports_a_stale_learners_edition(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(_tiny(), solutions / "07_tiny.ipynb")
    arguments = ["--solutions", str(solutions), "--notebooks", str(notebooks)]
    assert workbook.main([*arguments, "--check"]) == 1
    assert workbook.main(arguments) == 0
    assert workbook.main([*arguments, "--check"]) == 0


def test_check_mode_ignores_outputs_but_not_sources(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    nbformat.write(_tiny(), solutions / "07_tiny.ipynb")
    arguments = ["--solutions", str(solutions), "--notebooks", str(notebooks)]
    assert workbook.main(arguments) == 0
    learner = nbformat.read(notebooks / "07_tiny.ipynb", as_version=4)
    learner.cells[1].outputs = [nbformat.v4.new_output("stream", text="using fw.MatMul\n")]
    nbformat.write(learner, notebooks / "07_tiny.ipynb")
    assert workbook.main([*arguments, "--check"]) == 0  # executed: its own outputs
    learner.cells[1].source += "\n# edited"
    nbformat.write(learner, notebooks / "07_tiny.ipynb")
    assert workbook.main([*arguments, "--check"]) == 1


def test_named_notebooks_alone_are_written(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    for name in ("07_tiny.ipynb", "08_tiny.ipynb"):
        nbformat.write(_tiny(), solutions / name)
    workbook.main(["08", "--solutions", str(solutions), "--notebooks", str(notebooks)])
    assert sorted(path.name for path in notebooks.iterdir()) == ["08_tiny.ipynb"]


# The committed course.

def test_both_editions_hold_the_same_notebooks():
    assert NAMES, "no notebooks in solutions/"
    assert NAMES == sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_learners_edition_is_what_the_generator_makes(name):
    assert workbook.is_up_to_date(NOTEBOOKS / name, workbook.generate(SOLUTIONS / name)), (
        f"notebooks/{name} is out of date: run `make notebooks NB={name[:2]}`")


def _text(cells):
    """Every line of the cells' sources and text outputs."""
    for cell in cells:
        yield from cell.source.splitlines()
        for output in cell.get("outputs", []):
            yield from str(output.get("text", "")).splitlines()
            yield from str(output.get("data", {}).get("text/plain", "")).splitlines()


def _marked_lines(source):
    inside = False
    for line in source.splitlines():
        if line.strip() in (workbook.BEGIN, workbook.END):
            inside = line.strip() == workbook.BEGIN
        elif inside and line.strip():
            yield line.strip()


@pytest.mark.parametrize("name", NAMES)
def test_no_line_of_a_solution_shows_in_the_learners_edition(name):
    solutions = nbformat.read(SOLUTIONS / name, as_version=4)
    learner = nbformat.read(NOTEBOOKS / name, as_version=4)
    exercises = workbook.find_exercises(solutions, name)
    solution_cells = {e.solution for e in exercises}
    secret = {line for i in solution_cells for line in _marked_lines(solutions.cells[i].source)}
    # A line that the teaching cells also hold (`return order`, say) gives nothing away.
    teaching = {line.strip() for line in _text(
        c for i, c in enumerate(solutions.cells) if i not in solution_cells)}
    teaching |= {line.strip() for i in solution_cells
                 for line in solutions.cells[i].source.splitlines()
                 if line.strip() not in set(_marked_lines(solutions.cells[i].source))}
    shown = {line.strip() for line in _text(learner.cells)}
    assert secret, f"{name} marks no solution"
    assert sorted((secret - teaching) & shown) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_has_three_exercises_one_of_them_code(name):
    solutions = nbformat.read(SOLUTIONS / name, as_version=4)
    exercises = workbook.find_exercises(solutions, name)
    assert len(exercises) >= 3
    learner = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert any("raise NotImplementedError" in learner.cells[e.solution].source
               for e in exercises), f"{name}: no exercise asks for code"


@pytest.mark.parametrize("name", NAMES)
def test_the_exercise_section_names_its_solutions(name):
    notebook = nbformat.read(SOLUTIONS / name, as_version=4)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert f"Stuck? The solution is in [solutions/{name}](../solutions/{name})" in markdown
    for exercise in workbook.find_exercises(notebook, name):
        assert f"**Exercise {exercise.number}.**" in markdown


@pytest.mark.parametrize("name", NAMES)
def test_checks_do_not_use_bare_asserts(name):
    notebook = nbformat.read(SOLUTIONS / name, as_version=4)
    for exercise in workbook.find_exercises(notebook, name):
        source = notebook.cells[exercise.check].source
        assert not any(line.lstrip().startswith("assert ") for line in source.splitlines()), (
            f"exercise {exercise.number}: say what was expected and what came instead")
