"""End-to-end harness: one ``python -m keyframe.local`` for the e2e tests, spoken to over the network.

Every e2e module declares ``pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]`` so that
under ``pytest -n 2 --dist loadgroup`` all of them run on one worker and share one stack
(``test_restart.py``, which starts stacks of its own, is its own group ``e2e-restart``). The modules
of the later features (load, scene renders, people, notifications, webhooks, outbox) are the group
``e2e-features``: a second chain that xdist can run on the other worker, with that worker's own stack
(the e2e chain alone outlasted everything else). The stack
listens on free ports (``MOTO_PORT``/``KEYFRAME_HTTP_PORT``/``KEYFRAME_WS_PORT`` = 0) with a temporary
state folder, so it never collides with a ``make dev`` running on 3000/3001/4566.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from keyframe.registry import REPO_ROOT

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
_STACK_KEY = pytest.StashKey["LocalStackProcess"]()


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


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_ready(process: subprocess.Popen[bytes], info_file: Path, log_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
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
        time.sleep(0.25)
    _stop(process)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-80:])
    pytest.fail(
        f"the local stack did not become ready within {START_TIMEOUT_SECONDS} s "
        f"(exit code {process.returncode}); its log ends with:\n{tail}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def local_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStackProcess]:
    """Start ``python -m keyframe.local`` on free ports; wait for ``GET /ready`` = 200 (60 s)."""
    state_dir = tmp_path_factory.mktemp("local-stack")
    log_path = state_dir / "stack.log"
    # the stack sets its own AWS and Keyframe variables; an endpoint would switch it to LocalStack mode
    dropped = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "CORS_ALLOW_ORIGINS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        {
            "MOTO_PORT": "0",
            "KEYFRAME_HTTP_PORT": "0",
            "KEYFRAME_WS_PORT": "0",
            "KEYFRAME_STATE_DIR": str(state_dir),
            # no periodic snapshot of a temporary state (only the one at stop): test_restart.py
            # tests persistence with stacks of its own
            "KEYFRAME_SNAPSHOT_SECONDS": "0",
            "PYTHONUNBUFFERED": "1",
            # as `make dev` runs: INFO logging, so every log call on a request path is exercised
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyframe.local"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    info = _wait_until_ready(process, state_dir / "local-stack.json", log_path)
    stack = LocalStackProcess(
        http_url=info["urls"]["api"],
        ws_url=info["urls"]["websocket"],
        connections_url=info["urls"]["connections"],
        emulator_url=info["urls"]["emulator"],
        env=info["env"],
        state_dir=state_dir,
        log_path=log_path,
        process=process,
    )
    request.config.stash[_STACK_KEY] = stack
    try:
        yield stack
    finally:
        _stop(process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Attach the stack's log tail to every failing e2e test report."""
    outcome = yield
    report = outcome.get_result()
    stack = item.config.stash.get(_STACK_KEY, None)
    if report.failed and stack is not None and "local_stack" in getattr(item, "fixturenames", ()):
        report.sections.append(("local stack log (tail)", stack.log_tail()))


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


@pytest.fixture
def http(local_stack: LocalStackProcess) -> Iterator[BaseUrlSession]:
    """A fresh HTTP session against the stack's API (``http.get("/health")``)."""
    with BaseUrlSession(local_stack.http_url) as session:
        yield session
