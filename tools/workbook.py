"""Write the learner's edition of the course (notebooks/) from the solutions edition (solutions/).

    python tools/workbook.py                       # solutions/*.ipynb -> notebooks/
    python tools/workbook.py 06 07                 # only the notebooks whose names start so
    python tools/workbook.py --check               # exit 1 if notebooks/ is not up to date

How exercises are found, in a notebook of solutions/:

- A *solution cell* is a code cell with at least one region between the lines
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers, each on a line of its
  own, indented like the code between them). The exercise's number is ``NN.K``: NN from the
  notebook's file name (``03_topological_sort.ipynb``), K counting the solution cells from the
  top.
- Its *check cell* is the next code cell.

What the learner's edition gets, for each exercise:

- Every marked region becomes a stub. Inside a ``def`` (markers indented deeper than it), the
  region becomes ``raise NotImplementedError("Exercise NN.K is not done yet: write the body of
  NAME")``, so the signature and docstring above it stay. At the top level, each name that the
  region assigns becomes ``name = ...  # replace ... with your answer``; say what goes there in
  a comment just above ``### BEGIN SOLUTION``, which is kept.
- The solution cell and the check cell lose their outputs; both get the cell metadata
  ``"exercise": {"number": "NN.K", "cell": "solution" | "check"}``, and the check cell the tag
  ``raises-exception`` (on a stub it must raise: nbval then lets it, and conftest.py's hook
  fails it if it does not).

Every other cell, outputs included, is copied unchanged. ``find_exercises`` reads either
edition: the metadata in the learner's, the markers in the solutions'.

The learner's edition is then executed (``make notebooks``): a cell after a blank prints which
piece it used (``framework.exercises.yours_or_ours``), the learner's or the package's, so its
outputs are the learner edition's own. A notebook is therefore up to date (``--check``) when its
cells, without their outputs, are what this script makes; nbval checks the outputs.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB_COMMENT = "# replace ... with your answer"
CHECK_TAG = "raises-exception"
_LOOKS_LIKE_A_MARKER = re.compile(r"^\s*#+\s*(begin|end)\s+solution", re.IGNORECASE)


@dataclass(frozen=True)
class Exercise:
    number: str          # "3.2"
    solution: int        # index of the solution cell
    check: int           # index of the check cell


def _notebook_number(name: str) -> int:
    match = re.match(r"(\d+)_", name)
    if not match:
        raise ValueError(f"{name}: a course notebook's name starts with its number, as 03_...")
    return int(match.group(1))


def not_done_yet(number: str) -> str:
    """How the blank of exercise ``number`` starts its NotImplementedError's message."""
    return f"Exercise {number} is not done yet: "


def has_markers(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.splitlines())


def find_exercises(notebook, name: str) -> list[Exercise]:
    """The exercises of a notebook of either edition, in order (see the module's docstring)."""
    cells = notebook.cells
    tagged = {}
    for index, cell in enumerate(cells):
        info = cell.get("metadata", {}).get("exercise")
        if info:
            parts = tagged.setdefault(info["number"], {})
            if info["cell"] in parts:
                raise ValueError(f"{name}: two cells are exercise {info['number']}'s "
                                 f"{info['cell']} cell (a copied or split cell?); keep one, "
                                 f"or copy the cell again from solutions/{name}")
            parts[info["cell"]] = index
    for number, parts in tagged.items():
        for role in ("solution", "check"):
            if role not in parts:
                raise ValueError(f"{name}: exercise {number} has no {role} cell (deleted?); "
                                 f"copy it again from solutions/{name}")
    if tagged:
        return [Exercise(number, parts["solution"], parts["check"])
                for number, parts in tagged.items()]

    exercises = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code" or not has_markers(cell.source):
            continue
        check = next((i for i in range(index + 1, len(cells)) if cells[i].cell_type == "code"),
                     None)
        number = f"{_notebook_number(name)}.{len(exercises) + 1}"
        if check is None or has_markers(cells[check].source):
            raise ValueError(f"{name}: exercise {number} has no check cell after its solution")
        exercises.append(Exercise(number, index, check))
    return exercises


_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try,
             ast.ClassDef)
if hasattr(ast, "TryStar"):
    _COMPOUND += (ast.TryStar,)
if hasattr(ast, "Match"):
    _COMPOUND += (ast.Match,)
_FUNCTION = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class _Region:
    begin: int         # index of the BEGIN line
    end: int           # index of the END line
    code: list[int]    # indices of the lines between them that hold code


def _regions(lines: list[str], where: str) -> list[_Region]:
    """Every marked region of a cell's lines, refusing unpaired or nested markers."""
    regions, begin = [], None
    for i, line in enumerate(lines):
        if line.strip() == BEGIN:
            if begin is not None:
                raise ValueError(f"{where}: nested {BEGIN}")
            begin = i
        elif line.strip() == END:
            if begin is None:
                raise ValueError(f"{where}: {END} without {BEGIN}")
            code = [j for j in range(begin + 1, i)
                    if lines[j].strip() and not lines[j].lstrip().startswith("#")]
            regions.append(_Region(begin, i, code))
            begin = None
    if begin is not None:
        raise ValueError(f"{where}: {BEGIN} without {END}")
    return regions


def _parse(lines: list[str], where: str) -> ast.Module:
    """The cell as Python; IPython's ``%magic`` and ``!shell`` lines are read as comments."""
    python = [("#" + line) if line.lstrip().startswith(("%", "!")) else line for line in lines]
    try:
        return ast.parse("\n".join(python))
    except SyntaxError as error:
        raise ValueError(f"{where}: the solution cell is not valid Python (line {error.lineno}: "
                         f"{error.msg})") from None


def _statement_lists(node):
    """The lists of statements that ``node`` holds: a body, an else, handlers' bodies..."""
    for field in ("body", "orelse", "finalbody"):
        statements = getattr(node, field, None)
        if isinstance(statements, list) and statements and isinstance(statements[0], ast.stmt):
            yield statements
    for handler in getattr(node, "handlers", []):
        yield handler.body
    for case in getattr(node, "cases", []):
        yield case.body


def _owner(tree: ast.Module, first: int, last: int) -> tuple[list, list]:
    """(the chain of statements enclosing lines first..last, 1-based, outermost first, and the
    statement list those lines lie in)."""
    chain, statements = [], tree.body
    while True:
        inner = next((s for s in statements if s.lineno < first and s.end_lineno >= last
                      and any(True for _ in _statement_lists(s))), None)
        if inner is None:
            return chain, statements
        chain.append(inner)
        statements = next((body for body in _statement_lists(inner)
                           if body[0].lineno <= last and body[-1].end_lineno >= first),
                          inner.body)


def _require_whole_statements(statements: list, region: _Region, where: str):
    """Refuse a region that cuts a statement in two: its stub would not be Python."""
    for statement in statements:
        for marker in (region.begin + 1, region.end + 1):  # 1-based, as ast counts
            if statement.lineno < marker < statement.end_lineno:
                raise ValueError(f"{where}: the marker on line {marker} cuts the statement of "
                                 f"lines {statement.lineno} to {statement.end_lineno} in two; "
                                 "put the markers around whole statements")


def _function_name(chain: list) -> str:
    """``Class.method`` or ``function`` for the innermost def of a chain of statements."""
    function = chain[-1]
    if len(chain) > 1 and isinstance(chain[-2], ast.ClassDef):
        return f"{chain[-2].name}.{function.name}"
    return function.name


def _names_and_functions(statements: list, where: str) -> tuple[list[str], list]:
    """The names a top-level region assigns (also inside its if/else, loops and withs) and the
    functions it defines, in order: ``a, _ = ...`` gives ``["a"]``."""
    names, functions = [], []

    def add(target):
        if isinstance(target, ast.Name) and target.id != "_" and target.id not in names:
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add(element)

    def visit(statement):
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                add(target)
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
            add(statement.target)
        elif isinstance(statement, _FUNCTION):
            functions.append(statement)
        elif isinstance(statement, ast.ClassDef):
            raise ValueError(f"{where}: a class inside a top-level region; put the markers "
                             "inside its methods' bodies instead")
        else:
            if isinstance(statement, (ast.For, ast.AsyncFor)):
                add(statement.target)
            for body in _statement_lists(statement):
                for inner in body:
                    visit(inner)

    for statement in statements:
        visit(statement)
    if not names and not functions:
        raise ValueError(f"{where}: a top-level solution region must assign a name or define "
                         "a function; put the markers inside a function's body to stub the "
                         "function")
    return names, functions


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def stub_source(source: str, number: str, notebook: str = "") -> str:
    """The source of a solution cell with every marked region replaced by its stub.

    A region directly in a function's body becomes ``raise NotImplementedError(...)``; a region
    at the top level becomes ``name = ...`` for each name it assigns and a stub ``def`` for each
    function it defines. A region inside a loop, an if/else, a with, a try or a class body is
    refused: its stub might never run, and the learner's blank would pass unnoticed.
    """
    where = f"exercise {number}" + (f" ({notebook})" if notebook else "")
    lines = source.split("\n")
    regions = _regions(lines, where)
    if not regions:
        return source
    tree = _parse(lines, where)
    out, done = [], 0
    for region in regions:
        out.extend(lines[done:region.begin])
        done = region.end + 1
        marker_pad = _indent(lines[region.begin])
        if not region.code:
            raise ValueError(f"{where}: the region on line {region.begin + 1} holds no code")
        first, last = region.code[0] + 1, region.code[-1] + 1
        chain, statements = _owner(tree, first, last)
        _require_whole_statements(statements, region, where)
        pad = _indent(lines[region.code[0]])
        if any(_indent(lines[j]) != marker_pad for j in (region.begin, region.end)) or (
                pad != marker_pad):
            raise ValueError(f"{where}: the markers on lines {region.begin + 1} and "
                             f"{region.end + 1} must be indented like the code between them")
        if chain and not isinstance(chain[-1], _FUNCTION):
            kind = type(chain[-1]).__name__.lower().replace("asyncf", "f")
            raise ValueError(f"{where}: the region on line {region.begin + 1} is inside "
                             f"{'a class body' if kind == 'classdef' else 'a ' + kind} "
                             f"(line {chain[-1].lineno}); put the markers around the whole "
                             f"{'method' if kind == 'classdef' else 'statement'}, or directly "
                             "in a function's body")
        if chain:
            message = f"{not_done_yet(number)}write the body of {_function_name(chain)}"
            out.append(f'{pad}raise NotImplementedError("{message}")')
            continue
        inside = [s for s in statements if first <= s.lineno <= last]
        names, functions = _names_and_functions(inside, where)
        for function in functions:
            message = f"{not_done_yet(number)}write the body of {function.name}"
            out.append(f"{pad}def {function.name}({ast.unparse(function.args)}):")
            out.append(f'{pad}    raise NotImplementedError("{message}")')
        for name in names:
            out.append(f"{pad}{name} = ...  {STUB_COMMENT}")
    out.extend(lines[done:])
    return "\n".join(out)


def require_exact_markers(notebook, name: str):
    """Refuse a marker mistyped (``## BEGIN SOLUTION``, ``### Begin Solution``, ``### BEGIN
    SOLUTION (hard)``) or put in a markdown cell: either would copy the answer it surrounds into
    the learner's edition as it is, and its check could no longer fail."""
    for index, cell in enumerate(notebook.cells):
        for line in cell.source.splitlines():
            if not _LOOKS_LIKE_A_MARKER.match(line):
                continue
            if line.strip() not in (BEGIN, END):
                raise ValueError(f"{name}: cell {index}: {line.strip()!r} looks like a solution "
                                 f"marker but is not one; write exactly {BEGIN!r} or {END!r}")
            if cell.cell_type != "code":
                raise ValueError(f"{name}: cell {index} is a {cell.cell_type} cell with a "
                                 "solution marker; only code cells hold exercises")


def learners_edition(notebook, name: str):
    """A copy of a solutions notebook, made into the learner's edition."""
    require_exact_markers(notebook, name)
    learner = copy.deepcopy(notebook)
    for exercise in find_exercises(notebook, name):
        for role, index in (("solution", exercise.solution), ("check", exercise.check)):
            cell = learner.cells[index]
            if role == "solution":
                cell.source = stub_source(cell.source, exercise.number, name)
            else:
                tags = cell.metadata.setdefault("tags", [])
                if CHECK_TAG not in tags:
                    tags.append(CHECK_TAG)
            cell.metadata["exercise"] = {"number": exercise.number, "cell": role}
            cell.outputs = []
            cell.execution_count = None
    return learner


def generate(source: Path) -> str:
    """The learner's edition of the notebook file ``source``, as the text to write."""
    notebook = nbformat.read(source, as_version=4)
    text = nbformat.writes(learners_edition(notebook, source.name))
    return text if text.endswith("\n") else text + "\n"  # as nbformat.write ends a file


def without_outputs(text: str) -> dict:
    """A notebook's JSON text as a dict without its code cells' outputs and execution counts."""
    notebook = nbformat.reads(text, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def is_up_to_date(target: Path, text: str) -> bool:
    """Whether the learner's notebook ``target`` holds the cells of ``text``, outputs aside."""
    return target.exists() and (
        without_outputs(target.read_text(encoding="utf-8")) == without_outputs(text))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", metavar="PREFIX",
                        help="only the notebooks whose names start with one of these (06, 07...)")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; fail if a learner's notebook is out of date")
    args = parser.parse_args(argv)

    sources = [source for source in sorted(args.solutions.glob("*.ipynb"))
               if not args.only or source.name.startswith(tuple(args.only))]
    # Every notebook made before any is written: one that fails leaves notebooks/ as it was.
    texts = {args.notebooks / source.name: generate(source) for source in sources}
    stale = [target for target, text in texts.items() if not is_up_to_date(target, text)]
    if not args.check:
        args.notebooks.mkdir(exist_ok=True)
        for target in stale:
            target.write_text(texts[target], encoding="utf-8")
    stale = [target.name for target in stale]
    verb = "out of date" if args.check else "written"
    print(f"learner's edition: {len(stale)} notebook(s) {verb}" +
          (f": {', '.join(stale)}" if stale else ""))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
