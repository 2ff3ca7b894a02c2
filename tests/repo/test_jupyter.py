# One source of truth: README.md#how-the-pieces-fit
"""Real Jupyter: JupyterLab serves the jupytext `notebooks/*.py` as notebooks and runs a cell on a kernel.

The test starts `python -m jupyterlab` on 127.0.0.1 (a free port, a random token, no browser, its
config and runtime files in a temporary directory), reads `notebooks/03_rl_algorithms.py` through the
contents API, opens a session on it as the front end does, executes one cell over the kernel's websocket
channels, checks the output, and shuts the server down.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (it is in requirements-dev.txt)")
pytest.importorskip("jupytext", reason="jupytext is not installed (it is in requirements-dev.txt)")
websocket = pytest.importorskip("websocket", reason="websocket-client (a jupyter_server dependency) is missing")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "notebooks/03_rl_algorithms.py"
STARTUP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A JupyterLab server process and a tiny client for its REST API."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),  # no user configuration leaks in
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "RL_IMPL": "exercises",  # what a learner sets; the kernel must see it
        }
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={ROOT}",
        ]  # fmt: skip
        self.log = (tmp / "server.log").open("w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
        return json.loads(text) if text else {}

    def wait_ready(self, log_path: Path) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {self.proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                self.request("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        pytest.fail(f"jupyter lab did not answer within {STARTUP_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        try:
            self.request("POST", "/api/shutdown")
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - whatever happened, do not leave the server running
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _execute(ws: websocket.WebSocket, code: str, timeout_s: float = 60) -> tuple[str, dict]:
    """Send an execute_request on the shell channel; collect stdout until the reply and the idle status."""
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                       "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        })
    )  # fmt: skip
    stdout, reply, idle = [], None, False
    deadline = time.monotonic() + timeout_s
    while (reply is None or not idle) and time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream" and msg["content"]["name"] == "stdout":
            stdout.append(msg["content"]["text"])
        elif kind == "error":
            stdout.append("\n".join(msg["content"]["traceback"]))
        elif kind == "execute_reply":
            reply = msg["content"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
    assert reply is not None, f"no execute_reply within {timeout_s} s; output so far: {''.join(stdout)!r}"
    return "".join(stdout), reply


def test_jupyterlab_opens_a_jupytext_notebook_and_runs_a_cell(tmp_path: Path) -> None:
    server = Server(tmp_path)
    try:
        server.wait_ready(tmp_path / "server.log")
        # the contents API serves the percent-format .py file as a notebook (jupytext's contents manager)
        model = server.request("GET", f"/api/contents/{NOTEBOOK}?type=notebook&content=1")
        assert model["type"] == "notebook", (
            f"{NOTEBOOK} was served as {model['type']!r}: is jupytext's server extension on?"
        )
        cells = model["content"]["cells"]
        assert cells[0]["cell_type"] == "markdown" and "Chapter 03" in cells[0]["source"], cells[0]
        assert sum(c["cell_type"] == "code" for c in cells) >= 10, f"only {len(cells)} cells read from {NOTEBOOK}"
        # open it as the front end does: a session starts a kernel in the notebook's directory
        session = server.request(
            "POST", "/api/sessions", {"path": NOTEBOOK, "type": "notebook", "name": "", "kernel": {"name": "python3"}}
        )
        kernel_id = session["kernel"]["id"]
        ws_url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?token={server.token}"
        ws = websocket.create_connection(ws_url, timeout=60)
        try:
            code = (
                "import os, minimal_impl\nprint(6 * 7, os.environ.get('RL_IMPL'), os.getcwd(), minimal_impl.__file__)"
            )
            out, reply = _execute(ws, code)
        finally:
            ws.close()
        assert reply["status"] == "ok", f"the cell failed: {out}"
        answer, rl_impl, cwd, module = out.split()
        assert (answer, rl_impl) == ("42", "exercises"), out
        assert Path(cwd) == ROOT / "notebooks", f"the kernel runs in {cwd}, not next to the notebook"
        assert Path(module).parent == ROOT / "minimal_impl", f"the kernel imported minimal_impl from {module}"
        server.request("DELETE", f"/api/sessions/{session['id']}")
    finally:
        server.stop()
    assert server.proc.returncode is not None
