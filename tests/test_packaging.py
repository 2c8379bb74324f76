"""The package as its users get it: a wheel and an sdist built from a copy of the project, checked
by twine, compared with pyproject.toml, and the wheel installed into a fresh virtual environment
(with its dependencies from the package index) where it must import and train."""

import ast
import email.parser
import email.policy
import json
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# The project's own checkout state stays out of the copy; everything else goes in, so that a
# wheel that picked up notebooks/, solutions/, tools/, tests/ or data/ would show it.
NOT_COPIED = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__")
DISTRIBUTION = PYPROJECT["name"].replace("-", "_")  # file names use the normalised name
COURSE_FOLDERS = ("notebooks/", "solutions/", "tools/", "tests/", "data/")


def _source_version() -> str:
    """``__version__`` read from framework/__init__.py as text, without importing it."""
    tree = ast.parse((ROOT / "framework" / "__init__.py").read_text(encoding="utf-8"))
    (value,) = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__version__" for t in node.targets)]
    return value


VERSION = _source_version()


def _copy_plain_file(source, target):
    """Copy a regular file. Skip sockets (a running kernel may leave some in notebooks/) and
    files that another process (a test, a notebook run) removed while we were copying."""
    try:
        if Path(source).is_file():
            shutil.copy2(source, target)
    except FileNotFoundError:
        pass


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                            timeout=600, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """(wheel, sdist) built by ``python -m build`` from a copy of the project.

    ``--no-isolation`` builds with the setuptools already in this environment instead of
    downloading it again; the wheel is still built from the unpacked sdist, so a file missing
    from the sdist would break the wheel too.
    """
    work = tmp_path_factory.mktemp("packaging")
    source, out = work / "project", work / "dist"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED, copy_function=_copy_plain_file)
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, source])
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0], sdists[0]


def test_the_files_are_named_after_the_project_and_its_version(dist):
    wheel, sdist = dist
    assert wheel.name == f"{DISTRIBUTION}-{VERSION}-py3-none-any.whl"  # pure Python
    assert sdist.name == f"{DISTRIBUTION}-{VERSION}.tar.gz"


def test_twine_check_passes(dist):
    result = _run([sys.executable, "-m", "twine", "--no-color", "check", "--strict", *dist])
    passed = [line for line in result.stdout.splitlines() if line.endswith("PASSED")]
    assert len(passed) == 2, result.stdout


def test_the_wheel_holds_the_package_and_nothing_else(dist):
    names = zipfile.ZipFile(dist[0]).namelist()
    dist_info = f"{DISTRIBUTION}-{VERSION}.dist-info"
    assert {name.split("/")[0] for name in names} == {"framework", dist_info}
    assert not [n for n in names if n.startswith(COURSE_FOLDERS)]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    modules = {f"framework/{path.name}" for path in (ROOT / "framework").glob("*.py")}
    assert {n for n in names if n.startswith("framework/")} == modules
    assert f"{dist_info}/licenses/LICENSE" in names


def test_the_sdist_holds_the_source_and_not_the_course(dist):
    with tarfile.open(dist[1]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    top = f"{DISTRIBUTION}-{VERSION}"
    assert {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "PKG-INFO"} <= names, top
    modules = {f"framework/{path.name}" for path in (ROOT / "framework").glob("*.py")}
    assert modules <= names
    assert not [n for n in names if n.startswith(COURSE_FOLDERS)]


def _parse_metadata(raw: bytes):
    """Core metadata is an email-style header block in UTF-8, the long description its body."""
    return email.parser.Parser(policy=email.policy.compat32).parsestr(raw.decode("utf-8"))


def _metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return _parse_metadata(archive.read(f"{DISTRIBUTION}-{VERSION}.dist-info/METADATA"))


def test_the_metadata_says_what_pyproject_says(dist):
    metadata = _metadata(dist[0])
    assert metadata["Name"] == PYPROJECT["name"]
    assert metadata["Version"] == VERSION
    assert metadata["Summary"] == PYPROJECT["description"]
    assert metadata["Requires-Python"] == PYPROJECT["requires-python"]
    assert metadata["License-Expression"] == PYPROJECT["license"]
    assert metadata.get_all("License-File") == PYPROJECT["license-files"]
    assert metadata["Author"] == PYPROJECT["authors"][0]["name"]
    assert metadata.get_all("Classifier") == PYPROJECT["classifiers"]
    assert metadata["Keywords"].split(",") == PYPROJECT["keywords"]

    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL"))
    assert urls == PYPROJECT["urls"]

    requires = [Requirement(line) for line in metadata.get_all("Requires-Dist")]
    runtime = {str(r) for r in requires if r.marker is None}
    assert runtime == {str(Requirement(line)) for line in PYPROJECT["dependencies"]}
    assert set(metadata.get_all("Provides-Extra")) == set(PYPROJECT["optional-dependencies"])

    # The long description PyPI shows is the README, as Markdown.
    assert metadata["Description-Content-Type"] == "text/markdown"
    readme = (ROOT / PYPROJECT["readme"]).read_text(encoding="utf-8")
    assert metadata.get_payload().strip() == readme.strip()


def test_the_sdist_metadata_names_the_same_release(dist):
    with tarfile.open(dist[1]) as archive:
        raw = archive.extractfile(f"{DISTRIBUTION}-{VERSION}/PKG-INFO").read()
    pkg_info = _parse_metadata(raw)
    assert (pkg_info["Name"], pkg_info["Version"]) == (PYPROJECT["name"], VERSION)


# Runs inside the fresh environment: a linear model y = x w + b trained by a few SGD steps.
TRAIN = """
import importlib.metadata, json, sys
import numpy as np
import framework as fw

features, targets = json.loads(sys.argv[1])
x, y = fw.Input("x"), fw.Input("y")
w, b = fw.Parameter("w"), fw.Parameter("b")
loss = fw.MSE(fw.Linear(x, w, b), y)
graph = fw.topological_sort({x: features, y: targets, w: np.zeros((3, 1)), b: np.zeros(1)})
losses = []
for _ in range(5):
    fw.forward(graph)
    losses.append(float(loss.value))
    fw.backward(graph)
    fw.optimize(graph, learning_rate=0.1)
print(json.dumps({
    "version": fw.__version__,
    "installed_version": importlib.metadata.version("handmade-framework"),
    "module_file": fw.__file__,
    "prefix": sys.prefix,
    "losses": losses,
}))
"""


def test_the_wheel_installs_into_a_fresh_venv_and_trains_there(dist, tmp_path):
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(environment)
    python = environment / "bin" / "python"
    # This environment's pip installs into the new one, which starts with no packages at all;
    # numpy, matplotlib and networkx come from the wheel's own Requires-Dist. --no-compile
    # skips writing .pyc files for every dependency, the slowest part of the install.
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile",
          dist[0]])

    rng = np.random.default_rng(0)
    features = rng.normal(size=(16, 3))
    targets = features @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    # -I: ignore PYTHONPATH and the working directory, so only the installed copy can load.
    result = _run([python, "-I", "-c", TRAIN, json.dumps([features.tolist(), targets.tolist()])],
                  cwd=tmp_path)
    report = json.loads(result.stdout)

    assert Path(report["prefix"]).resolve() == environment.resolve()
    assert Path(report["module_file"]).resolve().is_relative_to(environment.resolve())
    assert report["version"] == report["installed_version"] == VERSION
    losses = report["losses"]
    # With zero weights the prediction is 0, so the first loss is the mean squared target.
    assert losses[0] == pytest.approx(np.mean(targets**2), rel=1e-12)
    assert np.all(np.diff(losses) < 0), losses
    assert losses[-1] < 0.5 * losses[0], losses
