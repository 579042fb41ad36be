"""``make demo`` end to end: the studio's day played against the local stack, as CI runs it.

The demo runs as ``make demo`` runs it (``python -m keyframe.cli.demo``, a separate process) against
the e2e stack, with a 2 s clip. Besides its printed lines, ``--events`` hands back every event its two
sockets received, so this test also covers live progress: the director's socket, subscribed to
``asset:{id}``, gets ``pipeline:update`` during the upload, then ``render:status`` and monotonic
``render:progress`` during the HLS render of that version, each event once, numbered by the room's
increasing ``seq``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from keyframe.cli import demo
from keyframe.cli import main as cli_main
from keyframe.registry import REPO_ROOT
from tests.e2e.conftest import LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

DEMO_TIMEOUT_SECONDS = 300


def _room_events(records: list[dict[str, Any]], owner: str) -> list[dict[str, Any]]:
    """Events one socket received in the shot's room (``asset:…``), in arrival order."""
    return [r["event"] for r in records if r["socket"] == owner and r["event"]["room"].startswith("asset:")]


@pytest.mark.slow  # a long scenario: `make demo` end to end
def test_the_demo_plays_a_studios_day_on_the_local_stack(
    local_stack: LocalStackProcess, tmp_path: Path
) -> None:
    # Given a running stack / When the demo plays against it, as `make demo` runs it
    events_file = tmp_path / "events.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("KEYFRAME_API", "KEYFRAME_TOKEN")}
    log_start = local_stack.log_path.stat().st_size
    done = subprocess.run(
        [sys.executable, "-m", "keyframe.cli.demo", "--api", local_stack.http_url,
         "--seconds", "2", "--events", str(events_file)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    output = done.stdout
    # Then it succeeds, and says what a newcomer should see
    assert done.returncode == 0, f"exit {done.returncode}\n{output}\n{done.stderr}"
    assert re.search(r"impact set of Mei rig .*Mei \(depth 1\), SQ010_SH020 \(depth 2\)", output)
    assert re.search(r"version 1 READY \(1280x720, 2\.0 s", output)
    assert re.search(r"render \S+ SUCCEEDED: HLS ladder 720p", output)
    assert "Arlo saw the comment live" in output
    assert "refused, FORBIDDEN" in output
    assert "Dora approved version 1" in output and "asset:approved" in output
    assert "the studio's activity log, newest first" in output
    # And it names the accounts it made, with their password, to sign in with afterwards
    assert 'password "keyframe-demo-password"' in output
    assert re.search(r"^\s+Arlo\s+ARTIST\s+arlo-\S+@demo\.keyframe\.dev$", output, re.MULTILINE), output
    # And the healthy day left no ERROR line in the stack's log (its own lines and the handlers' JSON)
    with local_stack.log_path.open("rb") as log:
        log.seek(log_start)
        written = log.read().decode(errors="replace").splitlines()
    errors = [line for line in written if " ERROR " in line or '"level":"ERROR"' in line.replace(" ", "")]
    assert errors == [], "\n".join(errors[:10])
    # And every line of the day carries the seconds since the start
    steps = [line for line in output.splitlines() if line.startswith("[")]
    assert len(steps) >= 15 and all(re.match(r"\[\s*\d+\.\d+s\] ", line) for line in steps)
    # And the playback URL it printed plays without auth
    url = re.search(r"^\s+(http\S+)$", output, re.MULTILINE)
    assert url, output
    master = requests.get(url.group(1), timeout=10)
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")

    # And the director's socket, subscribed to the shot's room, got every event of that room once:
    # seqs unique and without gaps (the room's order; events of different publishers may arrive in
    # either order, a client sorts by seq)
    records = [json.loads(line) for line in events_file.read_text().splitlines()]
    arrived = _room_events(records, "Dora")
    seen = sorted(arrived, key=lambda e: e["seq"])
    seqs = [e["seq"] for e in seen]
    summary = [
        (e["seq"], e["type"], e["data"].get("status") or e["data"].get("progress"), e["data"].get("revision"))
        for e in arrived
    ]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), summary
    # And pipeline:update events during the upload, from revision 1 (the pipeline created) to the
    # newest, one revision above all others (the outbox stream may number the complete's first two
    # after the steps' own: the revision, not the seq, tells the newest), SUCCEEDED for version 1
    pipeline = sorted(
        (e for e in seen if e["type"] == "pipeline:update"), key=lambda e: e["data"]["revision"]
    )
    revisions = [e["data"]["revision"] for e in pipeline]
    assert len(pipeline) >= 3 and revisions[0] == 1 and revisions[-2] < revisions[-1], summary
    assert pipeline[-1]["data"]["status"] == "SUCCEEDED", summary
    # And then the HLS render of that version: QUEUED, RUNNING, progress that never goes down, SUCCEEDED
    statuses = [e for e in seen if e["type"] == "render:status"]
    assert [e["data"]["status"] for e in statuses] == ["QUEUED", "RUNNING", "SUCCEEDED"], summary
    assert statuses[0]["data"]["version"] == pipeline[-1]["data"]["version"] == 1
    assert statuses[0]["seq"] > pipeline[-1]["seq"]  # the render was requested once the version was READY
    progress = [e for e in seen if e["type"] == "render:progress"]
    percents = [e["data"]["progress"] for e in progress]
    assert percents and percents == sorted(percents) and percents[-1] == 100, summary
    assert statuses[1]["seq"] < progress[0]["seq"] and progress[-1]["seq"] < statuses[2]["seq"]
    job_id = statuses[0]["data"]["renderJobId"]
    assert all(e["data"]["renderJobId"] == job_id for e in seen if e["type"].startswith("render:"))
    # (one publisher, the render worker, sends the progress: it arrives in seq order)
    assert [e["seq"] for e in arrived if e["type"] == "render:progress"] == [e["seq"] for e in progress]
    # And the artist heard the director's comment and approval with the same seq as the director
    heard = {(e["type"], e["seq"]) for e in _room_events(records, "Arlo")}
    said = {(e["type"], e["seq"]) for e in seen if e["type"] in ("asset:commented", "asset:approved")}
    assert {kind for kind, _ in said} == {"asset:commented", "asset:approved"} and said <= heard


def _dead_url() -> str:
    """A URL on a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_without_a_running_stack_make_demo_says_how_to_start_one_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given no stack answers at the URL / When `make demo` starts
    code = demo.main(["--api", _dead_url()])
    # Then it exits 2 and tells how to start one
    assert code == 2
    assert "make dev" in capsys.readouterr().err


def test_keyframe_demo_reads_the_stack_file_and_exits_2_when_that_stack_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack file left behind by a stack that no longer runs
    stack_file = tmp_path / "local-stack.json"
    stack_file.write_text(json.dumps({"urls": {"api": _dead_url()}}))
    # When `keyframe demo` starts with it
    code = cli_main.main(["demo", "--stack-file", str(stack_file)])
    # Then it names that URL and the file, and exits 2
    assert code == 2
    err = capsys.readouterr().err
    assert str(stack_file) in err and "make dev" in err
