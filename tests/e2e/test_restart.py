"""``make dev`` keeps its data across restarts, and ``make dev-reset`` empties it.

One state folder, three starts of ``python -m keyframe.local`` (its own, not the session's stack):
a studio with an uploaded, processed version, and a Step Functions execution still running, are
written; the stack stops; the next start finds the studio, project, asset, version, objects and the
finished execution again, and the running one FAILED with ``LocalStackStopped``; after
``make dev-reset`` (refused while the stack runs) the third start is empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from keyframe.registry import REPO_ROOT
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess, _stop, _wait_until_ready
from tests.e2e.test_pipeline import PASSWORD, Studio
from tests.unit.media.samples import ffmpeg_sample

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

WAITING = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}


@contextmanager
def _stack(state_dir: Path) -> Iterator[LocalStackProcess]:
    """A local stack on free ports keeping its data in ``state_dir`` (no periodic snapshots)."""
    log_path = state_dir / "stack.log"
    dropped = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "CORS_ALLOW_ORIGINS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({"MOTO_PORT": "0", "KEYFRAME_HTTP_PORT": "0", "KEYFRAME_WS_PORT": "0",
                "KEYFRAME_STATE_DIR": str(state_dir), "KEYFRAME_SNAPSHOT_SECONDS": "0",
                "PYTHONUNBUFFERED": "1"})  # fmt: skip
    (state_dir / "local-stack.json").unlink(missing_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "keyframe.local"], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        info = _wait_until_ready(process, state_dir / "local-stack.json", log_path)
        yield LocalStackProcess(
            http_url=info["urls"]["api"], ws_url=info["urls"]["websocket"],
            connections_url=info["urls"]["connections"], emulator_url=info["urls"]["emulator"],
            env=info["env"], state_dir=state_dir, log_path=log_path, process=process,
        )  # fmt: skip
    finally:
        _stop(process)


def _reset(state_dir: Path) -> subprocess.CompletedProcess[str]:
    """``make dev-reset`` for ``state_dir``."""
    env = {**os.environ, "KEYFRAME_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "keyframe.local.persistence", "reset"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
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
        assert refused.returncode == 1 and "stop `make dev` first" in refused.stderr

    # When the data is reset with the stack stopped, and the stack starts again
    reset = _reset(state_dir)
    assert reset.returncode == 0, reset.stderr
    with _stack(state_dir) as stack, BaseUrlSession(stack.http_url) as http:
        # Then it is empty: the user is unknown
        answer = http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 401, answer.text
