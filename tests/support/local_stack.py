"""The local stack as its own process, spoken to over the network: start it, wait for it, stop it.

``python -m keyframe.local`` (as ``make dev``) with a state folder of the caller's, on free ports
unless told others (``MOTO_PORT``/``KEYFRAME_HTTP_PORT``/``KEYFRAME_WS_PORT`` = 0), so it never collides
with a ``make dev`` on 3000/3001/4566. Used by the e2e session stack (``tests/e2e/conftest.py``), the
restart tests' stacks and the benchmarks that measure the stack (``tests/performance``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from keyframe.registry import REPO_ROOT

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
PORTS = ("MOTO_PORT", "KEYFRAME_HTTP_PORT", "KEYFRAME_WS_PORT")
"""The variables naming the emulator's, the REST API's and the WebSocket API's ports."""
DROPPED = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "CORS_ALLOW_ORIGINS")
"""Variables not passed on: the stack sets its own AWS and Keyframe variables, and an endpoint would
switch it to LocalStack mode."""


@dataclass
class LocalStackProcess:
    """A running local stack: its URLs, the environment a boto3 client needs, its log."""

    http_url: str
    ws_url: str
    connections_url: str
    emulator_url: str
    env: dict[str, str]
    state_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for the stack's AWS emulator (``endpoint_url=`` overrides the endpoint)."""
        kwargs.setdefault("endpoint_url", self.emulator_url)
        return boto3.client(
            service,
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            **kwargs,
        )

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the stack's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the stack (:func:`stop_process`); it saves its state on the way out."""
        stop_process(self.process, timeout)


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM, then SIGKILL to its process group after ``timeout`` seconds; nothing if it ended."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_ready(
    process: subprocess.Popen[bytes],
    info_file: Path,
    log_path: Path,
    *,
    within: float = START_TIMEOUT_SECONDS,
    poll_seconds: float = 0.25,
) -> dict[str, Any]:
    """The stack's ``local-stack.json`` (URLs, client environment) once ``GET /ready`` answers 200.

    Looks every ``poll_seconds``. Fails the test (``pytest.fail``, with the log's last 80 lines) and
    stops the process when it exits or is not ready within ``within`` seconds.
    """
    deadline = time.monotonic() + within
    info: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if info is None and info_file.exists():
            info = json.loads(info_file.read_text())
        if info is not None:
            try:
                if requests.get(f"{info['urls']['api']}/ready", timeout=5).status_code == 200:
                    return info
            except requests.RequestException:
                pass
        time.sleep(poll_seconds)
    stop_process(process)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-80:])
    pytest.fail(
        f"the local stack did not become ready within {within:g} s "
        f"(exit code {process.returncode}); its log ends with:\n{tail}",
        pytrace=False,
    )


def start_local_stack(
    state_dir: Path,
    *,
    ports: Mapping[str, str] | None = None,
    log_level: str | None = "INFO",
    checkout: Path = REPO_ROOT,
    ready_within: float = START_TIMEOUT_SECONDS,
    poll_seconds: float = 0.25,
    on_spawn: Callable[[int], None] | None = None,
) -> LocalStackProcess:
    """Start ``python -m keyframe.local`` keeping its data in ``state_dir``; return it once ready.

    Parameters
    ----------
    state_dir:
        Its state folder (``KEYFRAME_STATE_DIR``); its output is appended to ``stack.log`` there. No
        periodic snapshots (``KEYFRAME_SNAPSHOT_SECONDS=0``): only the one at stop.
    ports:
        :data:`PORTS` -> port, to start it again on the same ones; default any free ones.
    log_level:
        ``POWERTOOLS_LOG_LEVEL`` (``INFO``, as ``make dev`` runs: every log call on a request path
        runs); ``None`` keeps the caller's environment.
    checkout:
        The repository whose ``keyframe.local`` runs (its working folder, and its ``layers/`` first on
        ``PYTHONPATH`` when it is not this one: a benchmark's paired comparison with another commit).
    ready_within, poll_seconds:
        As :func:`wait_until_ready`'s ``within`` and ``poll_seconds``.
    on_spawn:
        Called with the process id as soon as the process exists, before it is ready (a benchmark
        lowers its open-file limit there).

    Fails the test as :func:`wait_until_ready` does.
    """
    log_path = state_dir / "stack.log"
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(ports or dict.fromkeys(PORTS, "0"))
    env.update(
        {"KEYFRAME_STATE_DIR": str(state_dir), "KEYFRAME_SNAPSHOT_SECONDS": "0", "PYTHONUNBUFFERED": "1"}
    )
    if log_level is not None:
        env["POWERTOOLS_LOG_LEVEL"] = log_level
    if checkout != REPO_ROOT:
        env["PYTHONPATH"] = f"{checkout / 'layers'}:{checkout}"
    info_file = state_dir / "local-stack.json"
    info_file.unlink(missing_ok=True)  # a previous start's: its ports are gone
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyframe.local"],
            cwd=checkout,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if on_spawn is not None:
        try:
            on_spawn(process.pid)
        except BaseException:
            stop_process(process)
            raise
    info = wait_until_ready(process, info_file, log_path, within=ready_within, poll_seconds=poll_seconds)
    return LocalStackProcess(
        http_url=info["urls"]["api"],
        ws_url=info["urls"]["websocket"],
        connections_url=info["urls"]["connections"],
        emulator_url=info["urls"]["emulator"],
        env=info["env"],
        state_dir=state_dir,
        log_path=log_path,
        process=process,
    )


class BaseUrlSession(requests.Session):
    """``requests.Session`` that prefixes paths with the API's base URL and has a default timeout."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send ``method url``; a path (``/health``) is joined to :attr:`base_url`."""
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)
