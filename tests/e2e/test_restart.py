"""``make dev`` keeps its data across restarts, and ``make dev-reset`` empties it.

One state folder, three starts of ``python -m keyframe.local`` (its own, not the session's stack):
a studio with an uploaded, processed version, and a Step Functions execution still running, are
written; the stack stops; the next start finds the studio, project, asset, version, objects and the
finished execution again, and the running one FAILED with ``LocalStackStopped``; after
``make dev-reset`` (refused while the stack runs) the third start is empty.

Another folder, two starts on the same ports (as ``make dev`` restarts): ``keyframe upload``
interrupted with Ctrl-C after its first part, the stack restarted, and the same command sends only
the parts that were missing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from keyframe.registry import REPO_ROOT
from tests.e2e.test_pipeline import PASSWORD, Studio
from tests.support.local_stack import PORTS, BaseUrlSession, LocalStackProcess, start_local_stack
from tests.unit.media.samples import ffmpeg_sample

# Its own xdist group: these tests start their own stacks, so under `make test-slow` they run on the other
# worker, beside the session stack's tests instead of after them.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e-restart")]


@contextmanager
def _ctrl_c_reaches_children() -> Iterator[None]:
    """Start CLI runs that the test stops with SIGINT as a terminal would: with SIGINT not ignored.

    A child inherits an *ignored* SIGINT from its parent, and Python then installs no
    KeyboardInterrupt handler. A pytest-xdist worker may run with SIGINT ignored (whatever an
    earlier test in the same worker left), and these runs then ignored the test's Ctrl-C. The
    worker's own handler is put back once the child has started.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, previous)


WAITING = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}


KEYFRAME = Path(sys.executable).with_name("keyframe")


def _free_ports() -> dict[str, str]:
    """A free port for each of the stack's servers, to start it twice on the same ones."""
    ports = {}
    for name in PORTS:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports[name] = str(probe.getsockname()[1])
    return ports


@contextmanager
def _stack(state_dir: Path, ports: dict[str, str] | None = None) -> Iterator[LocalStackProcess]:
    """A local stack on ``ports`` (default: any free ones) keeping its data in ``state_dir`` (no
    periodic snapshots)."""
    stack = start_local_stack(state_dir, ports=ports, log_level=None)
    try:
        yield stack
    finally:
        stack.stop()


def _reset(state_dir: Path) -> subprocess.CompletedProcess[str]:
    """``make dev-reset`` for ``state_dir``, as a developer runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["KEYFRAME_STATE_DIR"] = str(state_dir)
    return subprocess.run(
        ["make", "--no-print-directory", "dev-reset"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _login(http: BaseUrlSession, email: str) -> dict[str, str]:
    answer = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


def test_data_survives_a_restart_and_dev_reset_empties_it(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    image = ffmpeg_sample("png", tmp_path / "frame_0001.png")

    # Given a studio with a processed version, and an execution still running when the stack stops
    with _stack(state_dir) as stack, BaseUrlSession(stack.http_url) as http:
        studio = Studio(http, stack)
        email = http.get("/me", headers={"Authorization": f"Bearer {studio.token}"}).json()["user"]["email"]
        asset_id = studio.new_asset("SQ010_SH020")
        upload = studio.upload(asset_id, image, image.name, "image/png")
        assert studio.wait_for_pipeline(upload)["status"] == "SUCCEEDED"
        thumbnail = studio.derived(asset_id, 1, "thumbnail", "image/jpeg")
        states = stack.client("stepfunctions")
        pipelines = states.list_executions(stateMachineArn=stack.env["ASSET_PIPELINE_STATE_MACHINE_ARN"])
        pipeline_arn = pipelines["executions"][0]["executionArn"]
        machine = states.create_state_machine(
            name="restart-wait", definition=json.dumps(WAITING), roleArn="arn:aws:iam::123456789012:role/x"
        )["stateMachineArn"]
        waiting = states.start_execution(stateMachineArn=machine, name="w1")["executionArn"]

    # When it starts again on the same folder
    with _stack(state_dir) as stack, BaseUrlSession(stack.http_url) as http:
        auth = _login(http, email)
        # Then the studio's project, asset, version and files are there
        projects = http.get("/projects", headers=auth).json()["items"]
        assert [p["id"] for p in projects] == [studio.project_id]
        found = http.get("/assets", params={"q": "sq010_sh020"}, headers=auth).json()["items"]
        assert [a["id"] for a in found] == [asset_id]
        version = http.get(f"/assets/{asset_id}/versions/1", headers=auth).json()
        assert version["status"] == "READY"
        link = http.get(f"/assets/{asset_id}/versions/1/derived/thumbnail", headers=auth).json()
        assert http.get(link["url"]).content == thumbnail
        s3 = stack.client("s3").get_object(Bucket=stack.env["MEDIA_BUCKET"], Key=upload["key"])
        assert s3["Body"].read() == image.read_bytes()
        # And the finished execution is still there; the one running at stop FAILED with the reason
        states = stack.client("stepfunctions")
        assert states.describe_execution(executionArn=pipeline_arn)["status"] == "SUCCEEDED"
        interrupted = states.describe_execution(executionArn=waiting)
        assert (interrupted["status"], interrupted["error"]) == ("FAILED", "LocalStackStopped")
        # And dev-reset refuses while the stack runs
        refused = _reset(state_dir)
        assert refused.returncode != 0 and "stop `make dev` first" in refused.stderr

    # When the data is reset with the stack stopped, and the stack starts again
    reset = _reset(state_dir)
    assert reset.returncode == 0, reset.stderr
    assert "the next `make dev` starts empty" in reset.stdout
    assert not (state_dir / "data").exists()
    with _stack(state_dir) as stack, BaseUrlSession(stack.http_url) as http:
        # Then it is empty: the user is unknown
        answer = http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 401, answer.text


def _keyframe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KEYFRAME), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def test_an_interrupted_upload_resumes_after_a_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    ports = _free_ports()
    take = tmp_path / "take.wav"  # 40 MiB: five 8 MiB parts
    with wave.open(str(take), "wb") as sound:
        sound.setnchannels(2)
        sound.setsampwidth(2)
        sound.setframerate(48000)
        sound.writeframes(os.urandom(40 * 1024 * 1024 - 44))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFRAME_")}
    env["KEYFRAME_HOME"] = str(tmp_path / "home")

    # Given `keyframe upload` stopped with Ctrl-C once S3 accepted its first part
    with _stack(state_dir, ports) as stack, BaseUrlSession(stack.http_url) as http:
        env["KEYFRAME_API"] = stack.http_url
        studio = Studio(http, stack)
        email = http.get("/me", headers={"Authorization": f"Bearer {studio.token}"}).json()["user"]["email"]
        asset_id = studio.new_asset("SQ010_SND")
        assert _keyframe(env, "login", "--email", email, "--password", PASSWORD).returncode == 0
        command = [
            str(KEYFRAME),
            "upload",
            str(take),
            "--asset",
            asset_id,
            "--parallel",
            "1",
            "--timeout",
            "240",
        ]
        with _ctrl_c_reaches_children():
            running = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        states = Path(env["KEYFRAME_HOME"]) / "uploads"
        deadline = time.monotonic() + 120
        sent: dict[str, str] = {}
        while not sent and time.monotonic() < deadline and running.poll() is None:
            for path in states.glob("*.json"):
                sent = json.loads(path.read_text()).get("etags") or {}
            time.sleep(0.02)
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
        assert running.returncode == 130, err
        resume = json.loads(next(states.glob("*.json")).read_text())
        assert 1 <= len(resume["etags"]) < resume["part_count"] == 5, resume

    # When the stack starts again on the same ports, and the artist runs the same command
    with _stack(state_dir, ports) as stack:
        assert "parts of 1 multipart uploads in progress" in stack.log_tail(200)
        done = _keyframe(env, "upload", str(take), "--asset", asset_id, "--parallel", "1", "--timeout", "240")
        # Then it resumed the same upload, sending only the parts S3 did not have
        assert done.returncode == 0, done.stderr
        assert f"Resuming upload {resume['upload_id']}" in done.stderr
        kept = len(resume["etags"]) * 8.0
        assert f"{kept:.1f} MiB of 40.0 MiB were already there (resumed)" in done.stderr, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "version 1 READY", done.stderr
        stored = stack.client("s3").list_multipart_uploads(Bucket=stack.env["MEDIA_BUCKET"])
        assert not stored.get("Uploads")
