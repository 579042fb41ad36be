"""No upload is left stuck, and nothing uploaded is thrown away behind the user's back.

A complete that crashes after S3 completed the object leaves the session COMPLETING: the next GET,
the next complete, or (once nobody touched it for a few minutes) the next upload opened in the
studio finishes it with exactly one pipeline execution. Expiry only ever aborts OPEN sessions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from keyframe import clock
from keyframe.pipeline import starter
from keyframe.uploads import multipart, service, sessions
from tests.integration.uploads.conftest import (
    PART,
    Studio,
    executions,
    file_bytes,
    open_body,
    parts_body,
    put_parts,
    s3_object,
)


def _path(studio: Studio, upload_id: str = "") -> str:
    base = f"/assets/{studio.asset_id}/uploads"
    return f"{base}/{upload_id}" if upload_id else base


def _upload_actions(api: Any, studio: Studio, upload_id: str) -> list[str]:
    """The activity log's actions about ``upload_id``, oldest first."""
    page = api.get(f"/activity?assetId={studio.asset_id}&limit=100", token=studio.admin.access_token)
    assert page.status == 200, page.body
    items = [i for i in page.json()["items"] if i["target"] == {"type": "upload", "id": upload_id}]
    return [i["action"] for i in reversed(items)]


def _fail_once(monkeypatch: pytest.MonkeyPatch, *, after_starting: bool) -> list[int]:
    """Make the uploads service's ``start_pipeline`` raise on its first call only.

    ``after_starting``: the real start happens first (the crash is after the execution began).
    Returns the list of calls made (one entry per call).
    """
    calls: list[int] = []

    def flaky(upload: starter.PipelineInput) -> starter.PipelineStart:
        calls.append(1)
        if len(calls) == 1:
            if after_starting:
                starter.start_pipeline(upload)
            raise ConnectionError("the Lambda died here")
        return starter.start_pipeline(upload)

    monkeypatch.setattr(service, "start_pipeline", flaky)
    return calls


def _crashed_complete(api: Any, studio: Studio, data: bytes) -> tuple[str, dict[int, str]]:
    """Open, send every part and complete an upload whose complete crashes (500) after S3."""
    token = studio.admin.access_token
    opened = api.post(_path(studio), json=open_body(data), token=token).json()
    etags = put_parts(opened, data)
    crashed = api.post(_path(studio, opened["uploadId"]) + "/complete", json=parts_body(etags), token=token)
    assert crashed.status == 500, crashed.body
    return opened["uploadId"], etags


def test_a_get_after_a_complete_that_crashed_after_s3_finishes_it(
    api, studio: Studio, pipeline_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = studio.admin.access_token
    data = file_bytes(PART + 77)
    # Given a complete that crashed after S3 completed the object, before the pipeline started
    _fail_once(monkeypatch, after_starting=False)
    upload_id, etags = _crashed_complete(api, studio, data)
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{upload_id}/shot_010.mov"
    assert s3_object(key) == data and executions(pipeline_machine) == []

    # When the client (or anyone of the studio) asks for the upload, and never completes again
    status = api.get(_path(studio, upload_id), token=token)

    # Then it is COMPLETED with exactly one pipeline execution, logged once
    assert status.status == 200, status.body
    assert status.json()["status"] == "COMPLETED"
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]
    assert _upload_actions(api, studio, upload_id) == ["upload:started", "upload:completed"]
    # And a late complete answers the same 202, starting nothing new
    again = api.post(_path(studio, upload_id) + "/complete", json=parts_body(etags), token=token)
    assert again.status == 202, again.body
    assert again.json()["pipeline"]["executionArn"] == executions(pipeline_machine)[0]["executionArn"]
    assert len(executions(pipeline_machine)) == 1
    assert s3_object(key) == data


def test_a_second_complete_after_a_crash_past_the_pipeline_start_answers_202_once(
    api, studio: Studio, pipeline_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = studio.admin.access_token
    # Given a complete that crashed after the pipeline execution had started
    calls = _fail_once(monkeypatch, after_starting=True)
    upload_id, etags = _crashed_complete(api, studio, file_bytes(1000))
    assert len(executions(pipeline_machine)) == 1

    # When the client completes again
    again = api.post(_path(studio, upload_id) + "/complete", json=parts_body(etags), token=token)

    # Then 202 COMPLETED with the one execution there is; the log says completed once
    assert again.status == 202, again.body
    assert again.json()["status"] == "COMPLETED"
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]
    assert len(calls) == 2
    assert _upload_actions(api, studio, upload_id) == ["upload:started", "upload:completed"]


def test_a_stuck_completing_upload_is_finished_by_the_next_open_in_the_studio(
    api, studio: Studio, pipeline_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = studio.admin.access_token
    # Given a complete that crashed after S3, and a client that never comes back
    _fail_once(monkeypatch, after_starting=False)
    upload_id, _ = _crashed_complete(api, studio, file_bytes(2000))

    # When someone opens another upload within the stuck threshold (after the studio's housekeeping
    # interval, so that the open looks for stuck sessions) / Then the session is left alone
    soon = clock.now() + sessions.HOUSEKEEPING_INTERVAL + timedelta(seconds=5)
    assert soon < clock.now() + service.STUCK_AFTER
    monkeypatch.setattr(clock, "now", lambda: soon)
    assert api.post(_path(studio), json=open_body(file_bytes(10, seed=2)), token=token).status == 201
    assert executions(pipeline_machine) == []

    # When someone opens another upload once it has been untouched for more than STUCK_AFTER
    later = clock.now() + service.STUCK_AFTER + timedelta(seconds=5)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert api.post(_path(studio), json=open_body(file_bytes(10, seed=3)), token=token).status == 201

    # Then the stuck upload was driven to COMPLETED with one execution, logged as recovered
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]
    stuck = service.UploadSession.get(service.session_pk(studio.admin.studio_id, upload_id), "SESSION")
    assert stuck.status == "COMPLETED" and stuck.gsi1pk is None
    page = api.get(f"/activity?assetId={studio.asset_id}&limit=100", token=token).json()
    completed = [i for i in page["items"] if i["action"] == "upload:completed"]
    assert [(i["target"]["id"], i["actor"], i["details"].get("recovered")) for i in completed] == [
        (upload_id, studio.admin.user_id, True)
    ]


def test_a_complete_that_never_reached_s3_reopens_and_loses_no_part(
    api, studio: Studio, pipeline_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = studio.admin.access_token
    data = file_bytes(2 * PART + 5)
    opened = api.post(_path(studio), json=open_body(data), token=token).json()
    upload_id = opened["uploadId"]
    etags = put_parts(opened, data)
    # Given a complete that crashed after marking the session COMPLETING, before S3 completed it
    real_complete = multipart.complete
    monkeypatch.setattr(multipart, "complete", lambda *a, **kw: (_ for _ in ()).throw(TimeoutError()))
    assert api.post(_path(studio, upload_id) + "/complete", json=parts_body(etags), token=token).status == 500
    monkeypatch.setattr(multipart, "complete", real_complete)

    # When asked right away / Then it stays COMPLETING (a complete may still be on its way to S3)
    assert api.get(_path(studio, upload_id), token=token).json()["status"] == "COMPLETING"

    # When asked once nobody touched it for more than STUCK_AFTER
    later = clock.now() + service.STUCK_AFTER + timedelta(seconds=5)
    monkeypatch.setattr(clock, "now", lambda: later)
    status = api.get(_path(studio, upload_id), token=token).json()

    # Then it is OPEN again with every part still held, and completing it works
    assert status["status"] == "OPEN"
    assert status["missingParts"] == [] and len(status["uploadedParts"]) == 3
    done = api.post(_path(studio, upload_id) + "/complete", json=parts_body(etags), token=token)
    assert done.status == 202, done.body
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{upload_id}/shot_010.mov"
    assert s3_object(key) == data


def test_expiry_never_touches_a_session_that_is_not_open(
    api, studio: Studio, pipeline_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = studio.admin.access_token
    data = file_bytes(3000)

    # Given a COMPLETING upload whose pipeline cannot start (Step Functions down), and a COMPLETED one
    def down(upload: starter.PipelineInput) -> starter.PipelineStart:
        raise ConnectionError("Step Functions is down")

    monkeypatch.setattr(service, "start_pipeline", down)
    stuck_id, _ = _crashed_complete(api, studio, data)
    monkeypatch.setattr(service, "start_pipeline", starter.start_pipeline)
    done = api.post(_path(studio), json=open_body(file_bytes(50, seed=4)), token=token).json()
    etags = put_parts(done, file_bytes(50, seed=4))
    finished = api.post(_path(studio, done["uploadId"]) + "/complete", json=parts_body(etags), token=token)
    assert finished.status == 202, finished.body
    monkeypatch.setattr(service, "start_pipeline", down)

    # When both are far past their session expiry and the studio sweeps (open) and reads them
    later = clock.now() + timedelta(days=8)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert api.post(_path(studio), json=open_body(file_bytes(10, seed=5)), token=token).status == 201
    stuck = api.get(_path(studio, stuck_id), token=token).json()
    completed = api.get(_path(studio, done["uploadId"]), token=token).json()

    # Then neither was expired: the stuck one is still COMPLETING with its object, nothing aborted
    assert stuck["status"] == "COMPLETING" and stuck["failureReason"] is None
    assert completed["status"] == "COMPLETED"
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{stuck_id}/shot_010.mov"
    assert s3_object(key) == data
    assert "upload:aborted" not in _upload_actions(api, studio, stuck_id)
    # And the conditional expiry itself refuses a session that is not OPEN
    session = service.UploadSession.get(service.session_pk(studio.admin.studio_id, stuck_id), "SESSION")
    assert service._expire(session, due_by=clock.iso(later)) is False
    assert session.status == "COMPLETING"

    # When Step Functions is back / Then the next GET finishes it
    monkeypatch.setattr(service, "start_pipeline", starter.start_pipeline)
    assert api.get(_path(studio, stuck_id), token=token).json()["status"] == "COMPLETED"
    assert sorted(e["name"] for e in executions(pipeline_machine)) == sorted([stuck_id, done["uploadId"]])
