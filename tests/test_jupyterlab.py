"""JupyterLab serves the course: started headless on loopback, it lists and opens the notebooks
of both editions.

The server runs ``sys.executable -m jupyter lab``, the same JupyterLab that ``make lab`` opens,
rooted at the repository (so that the file browser reaches notebooks/ and solutions/), with a
random token, on a free port of 127.0.0.1 only. It is stopped after the tests, even when they
or its start-up fail.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EDITIONS = ("notebooks", "solutions")  # the learner's edition, opened first, and the solutions
HOST = "127.0.0.1"
STARTUP_SECONDS = 60
# Talk to the local server directly, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Lab:
    """A running JupyterLab: its base URL, its token and its log."""

    def __init__(self, url, token, log):
        self.url, self.token, self.log = url, token, log

    def get(self, path: str) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path,
                                         headers={"Authorization": f"token {self.token}"})
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.read()

    def get_json(self, path: str):
        status, body = self.get(path)
        assert status == 200, f"GET {path} answered {status}"
        return json.loads(body)

    def log_tail(self, lines=30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _command(port, token):
    command = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # fail rather than quietly take another port
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT}",
        "--LabApp.default_url=/lab/tree/notebooks",
        # Nothing leaves the machine: no news feed, no update check, no extension index.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # jupyter refuses to run as root without it
    return command


def _wait_until_serving(lab, process):
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with code {process.returncode}:\n{lab.log_tail()}")
        try:
            if lab.get("/api/status")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"jupyter lab did not answer within {STARTUP_SECONDS} s:\n{lab.log_tail()}")


def _stop(process):
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and any children
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("jupyterlab")
    port, token = _free_port(), secrets.token_hex(16)
    # Keep the user's Jupyter configuration out, and the server's runtime files in tmp.
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    log = home / "jupyterlab.log"
    running = Lab(f"http://{HOST}:{port}", token, log)
    with open(log, "wb") as output:
        process = subprocess.Popen(_command(port, token), cwd=home, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        _wait_until_serving(running, process)
        yield running
    finally:
        _stop(process)


def _notebooks_on_disk(edition) -> list[str]:
    return sorted(path.name for path in (ROOT / edition).glob("*.ipynb"))


def test_lab_serves_its_page(lab):
    status, page = lab.get("/lab")
    assert status == 200
    assert b"JupyterLab" in page


def test_lab_opens_the_learners_edition(lab):
    """The root URL leads to /lab/tree/notebooks: the file browser starts in notebooks/."""
    request = urllib.request.Request(lab.url + "/", headers={"Authorization": f"token {lab.token}"})
    with OPENER.open(request, timeout=10) as response:
        assert urllib.parse.urlparse(response.url).path == "/lab/tree/notebooks"


def test_the_file_browser_reaches_both_editions(lab):
    listing = lab.get_json("/api/contents?content=1")
    folders = {item["name"] for item in listing["content"] if item["type"] == "directory"}
    assert set(EDITIONS) <= folders


@pytest.mark.parametrize("edition", EDITIONS)
def test_the_contents_api_lists_the_notebooks_on_disk(lab, edition):
    listing = lab.get_json(f"/api/contents/{edition}?content=1")
    assert listing["type"] == "directory"
    served = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
    assert served == _notebooks_on_disk(edition)


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_notebook_opens_through_the_contents_api(lab, edition):
    names = _notebooks_on_disk(edition)
    if not names:
        pytest.skip(f"no notebook in {edition}/ yet")
    name = names[0]
    path = f"{edition}/{name}"
    model = lab.get_json(f"/api/contents/{urllib.parse.quote(path)}?content=1&type=notebook")
    assert (model["name"], model["type"], model["format"]) == (name, "notebook", "json")

    notebook = model["content"]
    on_disk = json.loads((ROOT / path).read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert notebook["cells"], f"{name} has no cells"
    assert len(notebook["cells"]) == len(on_disk["cells"])
    for served, stored in zip(notebook["cells"], on_disk["cells"], strict=True):
        assert served["cell_type"] == stored["cell_type"]
        assert served["source"] == "".join(stored["source"])
