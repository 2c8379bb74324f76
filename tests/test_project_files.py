"""The project's own files agree with each other: pyproject.toml, environment.yml, the version,
the changelog, the CI workflow and the Makefile."""

import ast
import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

import framework

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from PyPI's, mapped to the PyPI name.
CONDA_TO_PYPI = {"python-build": "build"}
# Entries of environment.yml that build the environment rather than name a dependency.
CONDA_TOOLS = {"python", "pip"}


@pytest.fixture(scope="module")
def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def _pip_requirements(pyproject) -> dict:
    """Runtime and dev requirements, by canonical name, with their version specifiers."""
    project = pyproject["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["dev"]
    requirements = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r.specifier for r in requirements}


def _conda_spec(entry: str) -> tuple[str, SpecifierSet]:
    """Split a conda MatchSpec such as ``numpy>=1.24`` into a PyPI name and its specifier."""
    match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*([<>=!~].*)?", entry.strip())
    assert match, f"environment.yml: cannot read the dependency {entry!r}"
    name, spec = match.group(1).lower(), (match.group(2) or "").replace(" ", "")
    return CONDA_TO_PYPI.get(name, name), SpecifierSet(spec)


def _conda_dependencies(environment) -> tuple[dict, list]:
    """(conda packages by canonical PyPI name, the pip section) of environment.yml."""
    conda, pip_section = {}, []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip_section.extend(entry["pip"])
            continue
        name, spec = _conda_spec(entry)
        conda[name] = spec
    return conda, pip_section


def test_environment_yml_names_the_same_packages_as_pyproject(pyproject, environment):
    pip = _pip_requirements(pyproject)
    conda, _ = _conda_dependencies(environment)
    packages = {canonicalize_name(n): s for n, s in conda.items() if n not in CONDA_TOOLS}
    assert set(packages) - set(pip) == set(), "in environment.yml but not in pyproject.toml"
    assert set(pip) - set(packages) == set(), "in pyproject.toml but not in environment.yml"
    different = {n: (str(pip[n]), str(packages[n])) for n in pip if pip[n] != packages[n]}
    assert different == {}, "version bounds differ (pyproject.toml, environment.yml)"


def test_environment_yml_uses_the_same_python_and_installs_the_project(pyproject, environment):
    conda, pip_section = _conda_dependencies(environment)
    assert conda["python"] == SpecifierSet(pyproject["project"]["requires-python"])
    assert "pip" in conda
    assert pip_section == ["-e ."], "the pip section should install this project, editable"


def _version_assignments(source: str) -> list:
    tree = ast.parse(source)
    return [node.value for node in tree.body if isinstance(node, ast.Assign)
            and any(getattr(t, "id", None) == "__version__" for t in node.targets)]


def test_version_is_kept_in_one_place(pyproject):
    project = pyproject["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "framework.__version__"

    init_source = (ROOT / "framework" / "__init__.py").read_text(encoding="utf-8")
    assignments = _version_assignments(init_source)
    assert len(assignments) == 1 and isinstance(assignments[0], ast.Constant), (
        "framework/__init__.py should set __version__ once, to a string literal")
    version = assignments[0].value
    Version(version)  # raises InvalidVersion unless it is a PEP 440 version
    assert framework.__version__ == version

    others = [p.relative_to(ROOT).as_posix() for p in (ROOT / "framework").glob("*.py")
              if p.name != "__init__.py" and _version_assignments(p.read_text(encoding="utf-8"))]
    assert others == [], "__version__ is set in more than one module"


# Keep a Changelog: "## [Unreleased]" first, then "## [X.Y.Z] - YYYY-MM-DD", newest first.
RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$")
KINDS_OF_CHANGE = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_changelog_follows_keep_a_changelog_and_records_this_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0] == "# Changelog"
    headings = [RELEASE_HEADING.match(line) for line in lines if line.startswith("## ")]
    assert all(headings), "every '## ' heading should read '## [version] - YYYY-MM-DD'"
    assert headings[0]["version"] == "Unreleased" and headings[0]["date"] is None

    releases = headings[1:]
    assert releases, "no released version yet"
    versions = [Version(h["version"]) for h in releases]
    dates = [datetime.date.fromisoformat(h["date"]) for h in releases]
    assert versions == sorted(versions, reverse=True), "releases should be listed newest first"
    assert dates == sorted(dates, reverse=True)
    assert str(versions[0]) == framework.__version__, (
        "the newest release in CHANGELOG.md is not framework.__version__")

    for line in lines:
        if line.startswith("### "):
            assert line[4:] in KINDS_OF_CHANGE, f"unknown kind of change: {line!r}"
    # Every heading's [version] is a link defined at the bottom of the file.
    for heading in headings:
        assert re.search(rf"^\[{re.escape(heading['version'])}\]: https://", text, re.M)


def _python_versions_in_classifiers(pyproject) -> list:
    prefix = "Programming Language :: Python :: 3."
    return sorted(Version(c.rsplit(" :: ", 1)[1]) for c in pyproject["project"]["classifiers"]
                  if c.startswith(prefix))


def test_classifiers_list_every_python_from_the_oldest_supported(pyproject):
    versions = _python_versions_in_classifiers(pyproject)
    oldest = Version(pyproject["project"]["requires-python"].removeprefix(">="))
    assert versions[0] == oldest
    minors = [v.minor for v in versions]
    assert minors == list(range(minors[0], minors[-1] + 1)), "a Python version is skipped"


def test_ci_runs_make_test_on_linux_and_macos_with_oldest_and_newest_python(pyproject):
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    matrix = job["strategy"]["matrix"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert any(os_.startswith("ubuntu") for os_ in matrix["os"])
    assert any(os_.startswith("macos") for os_ in matrix["os"])

    pythons = matrix["python-version"]
    assert all(isinstance(v, str) for v in pythons), "quote versions: YAML reads 3.10 as 3.1"
    classified = _python_versions_in_classifiers(pyproject)
    assert {Version(v) for v in pythons} == {classified[0], classified[-1]}
    assert "make test" in [step.get("run") for step in job["steps"]]


def _make_dry_run(*arguments) -> list[str]:
    """The commands ``make -n`` would run, as lines.

    Run from ``make test`` this is a sub-make: drop the outer make's variables, so that it
    neither inherits flags nor prints "Entering directory" lines.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    result = subprocess.run(["make", "-n", "--no-print-directory", *arguments], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_make_lab_opens_the_notebooks_and_passes_options_through():
    commands = _make_dry_run("lab", "ARGS=--no-browser --port 8890")
    last = commands[-1]  # after setting up .venv, if it needs it
    assert re.search(r"(^|/)jupyter lab ", last), commands
    # The repository is served, so that solutions/ is reachable; notebooks/ is opened.
    assert "--notebook-dir=." in last or "--ServerApp.root_dir=." in last
    assert "--LabApp.default_url=/lab/tree/notebooks" in last
    assert last.endswith("--no-browser --port 8890")
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    assert ("--allow-root" in last) == is_root


def test_make_test_lints_then_runs_pytest():
    commands = _make_dry_run("test")
    lint = next(i for i, c in enumerate(commands) if "ruff check" in c)
    tests = next(i for i, c in enumerate(commands) if "-m pytest" in c)
    assert lint < tests


def test_make_notebooks_runs_the_solutions_then_writes_and_runs_the_learners_edition():
    commands = _make_dry_run("notebooks")
    executes = [i for i, c in enumerate(commands) if "--execute" in c]
    generate = next(i for i, c in enumerate(commands) if "tools/workbook.py" in c)
    assert len(executes) == 2 and executes[0] < generate < executes[1]
    assert "solutions/*.ipynb" in commands[executes[0]]
    assert "notebooks/*.ipynb" in commands[executes[1]]
    assert all("--coalesce-streams" in commands[i + 1] for i in executes)


def test_make_notebooks_can_run_named_notebooks_alone():
    commands = _make_dry_run("notebooks", "NB=06")
    assert "solutions/06*.ipynb" in next(c for c in commands if "--execute" in c)
    assert next(c for c in commands if "tools/workbook.py" in c).endswith("workbook.py 06")


def test_make_progress_reports_on_the_folder_it_is_given():
    assert "tools/progress.py notebooks" in _make_dry_run("progress")[-1]
    assert "tools/progress.py solutions" in _make_dry_run("progress", "DIR=solutions")[-1]
