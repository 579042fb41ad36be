"""The Monday-morning load (``tests/load``, ``make load``), shortened, against the shared local stack.

A few users for a few seconds: every kind of request of the mix (sign-in, refresh, asset lists,
versions, comments, presigned multipart uploads, render bursts, live sockets) goes through Locust
exactly as ``make load`` sends it. It asserts what must hold under any load: no server error (5xx)
and no event lost by the live sockets. Latencies are the business of ``make load`` and ``make bench``,
not of this test (a shared CI machine is several times slower than a quiet one).

It runs in the ``e2e-features`` group (see tests/e2e/conftest.py) on its worker's shared stack;
Locust itself runs in a child process (it patches the standard library with gevent).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from keyframe.registry import REPO_ROOT
from tests.e2e.conftest import LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e-features")]


def test_a_short_monday_morning_has_no_server_error_and_loses_no_event(
    local_stack: LocalStackProcess, tmp_path
) -> None:
    # Given the load's smallest studio: one member account, one asset to read and comment
    summary_file = tmp_path / "monday.json"
    command = [
        sys.executable, "-m", "tests.load", "--host", local_stack.http_url,
        "--users", "8", "--spawn-rate", "8", "--run-time", "8s", "--max-requests", "2000",
        "--uploaders", "2", "--sockets", "2", "--members", "1", "--assets", "1", "--drain", "5",
        "--out", str(tmp_path), "--summary", str(summary_file),
    ]  # fmt: skip

    # When Locust sends the mix for eight seconds
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)

    # Then it reported, with no 5xx and every comment event received by every socket
    assert summary_file.exists(), (
        f"no report (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    )
    summary = json.loads(summary_file.read_text())
    assert summary["requests"] > 0, summary
    assert summary["serverErrors"] == 0, summary
    assert summary["eventsExpected"] > 0, summary
    assert summary["eventsLost"] == 0, summary
    assert summary["socketsClosedEarly"] == 0, summary
    # and it timed each of those deliveries, from posting the comment to the socket
    delivery = summary["eventDelivery"]
    assert delivery["count"] == summary["eventsExpected"], summary
    assert 0 <= delivery["p50"] <= delivery["p95"] <= delivery["max"] < 60_000, summary
    assert "event delivery" in run.stdout, run.stdout[-3000:]
    assert (tmp_path / "monday_stats.csv").exists() and (tmp_path / "monday.html").exists()
    assert run.returncode == 0, run.stdout[-3000:]
