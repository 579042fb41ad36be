"""Every upload status change is logged in the same transaction: no path can skip the activity log.

``upload:started``, ``upload:completed`` and ``upload:aborted`` are written in one DynamoDB
transaction with the session's change (and the quota counter's). When the activity entry cannot be
written the change is not made either: nothing is half-written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from keyframe import clock
from keyframe.storage import activity
from keyframe.uploads import service
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota
from tests.integration.uploads.conftest import (
    Studio,
    executions,
    file_bytes,
    open_body,
    open_multipart_uploads,
    parts_body,
    put_parts,
)

MIB = 1024 * 1024


def _path(studio: Studio, upload_id: str = "") -> str:
    base = f"/assets/{studio.asset_id}/uploads"
    return f"{base}/{upload_id}" if upload_id else base


def _log(api: Any, studio: Studio) -> list[tuple[str, str, str | None, str | None]]:
    """``(action, uploadId, actor, reason)`` of every upload entry of the asset, oldest first."""
    page = api.get(f"/activity?assetId={studio.asset_id}&limit=100", token=studio.admin.access_token)
    assert page.status == 200, page.body
    return [
        (i["action"], i["target"]["id"], i["actor"], i["details"].get("reason"))
        for i in reversed(page.json()["items"])
        if i["target"]["type"] == "upload"
    ]


def _used_bytes(studio: Studio) -> int:
    return quotas.used(studio.admin.studio_id, Quota.STORAGE_BYTES)


@pytest.fixture
def activity_down(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``activity_down(True)`` makes every activity entry's write fail inside its transaction
    (its table is unavailable), ``activity_down(False)`` brings it back."""
    real = activity.entry_item

    def entry_to_a_missing_table(*args: Any, **kwargs: Any) -> Any:
        item = real(*args, **kwargs)
        save_kwargs = item.get_save_kwargs_from_instance

        def broken(**kw: Any) -> dict[str, Any]:
            return {**save_kwargs(**kw), "TableName": "keyframe-test-unavailable"}

        item.get_save_kwargs_from_instance = broken
        return item

    def switch(down: bool) -> None:
        monkeypatch.setattr(activity, "entry_item", entry_to_a_missing_table if down else real)

    return switch


def test_each_transition_is_logged_once_with_its_actor(api, studio: Studio, monkeypatch) -> None:
    token, me = studio.admin.access_token, studio.admin.user_id
    # Given an upload opened and completed, one opened and aborted, one opened and left to expire
    data = file_bytes(100)
    done = api.post(_path(studio), json=open_body(data), token=token).json()
    complete = _path(studio, done["uploadId"]) + "/complete"
    assert api.post(complete, json=parts_body(put_parts(done, data)), token=token).status == 202
    aborted = api.post(_path(studio), json=open_body(file_bytes(10, seed=2)), token=token).json()
    assert api.delete(_path(studio, aborted["uploadId"]), token=token).status == 204
    assert api.delete(_path(studio, aborted["uploadId"]), token=token).status == 204  # no second entry
    left = api.post(_path(studio), json=open_body(file_bytes(10, seed=3)), token=token).json()
    later = clock.now() + timedelta(days=7, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert api.get(_path(studio, left["uploadId"]), token=token).json()["status"] == "ABORTED"

    # Then the log holds exactly one entry per transition (the expiry by the system: no actor)
    assert _log(api, studio) == [
        ("upload:started", done["uploadId"], me, None),
        ("upload:completed", done["uploadId"], me, None),
        ("upload:started", aborted["uploadId"], me, None),
        ("upload:aborted", aborted["uploadId"], me, "ABORTED"),
        ("upload:started", left["uploadId"], me, None),
        ("upload:aborted", left["uploadId"], None, "EXPIRED"),
    ]


def test_an_open_whose_entry_cannot_be_written_opens_nothing(api, studio: Studio, activity_down) -> None:
    token = studio.admin.access_token
    used = _used_bytes(studio)
    # Given the activity log cannot be written
    activity_down(True)

    # When an upload is opened / Then it fails, and no session, reservation or S3 upload is left
    opened = api.post(_path(studio), json=open_body(file_bytes(3 * MIB)), token=token)
    assert opened.status == 500, opened.body
    assert _used_bytes(studio) == used
    assert open_multipart_uploads() == []
    sessions = list(service.UploadSession.gsi1.query(service.open_index_pk(studio.admin.studio_id)))
    assert sessions == []

    # When the log is back / Then the same open works and is logged
    activity_down(False)
    again = api.post(_path(studio), json=open_body(file_bytes(3 * MIB)), token=token)
    assert again.status == 201, again.body
    assert [a for a, *_ in _log(api, studio)] == ["upload:started"]


def test_an_abort_whose_entry_cannot_be_written_keeps_the_upload_whole(
    api, studio: Studio, activity_down
) -> None:
    token = studio.admin.access_token
    data = file_bytes(1000)
    opened = api.post(_path(studio), json=open_body(data), token=token).json()
    upload_id = opened["uploadId"]
    put_parts(opened, data)
    used = _used_bytes(studio)
    # Given the activity log cannot be written
    activity_down(True)

    # When the upload is aborted / Then it fails and the upload is untouched: OPEN, parts, quota
    assert api.delete(_path(studio, upload_id), token=token).status == 500
    status = api.get(_path(studio, upload_id), token=token).json()
    assert status["status"] == "OPEN" and status["missingParts"] == []
    assert _used_bytes(studio) == used

    # When the log is back / Then the abort goes through, logged, with the quota released
    activity_down(False)
    assert api.delete(_path(studio, upload_id), token=token).status == 204
    assert api.get(_path(studio, upload_id), token=token).json()["status"] == "ABORTED"
    assert _used_bytes(studio) == used - 1000
    assert open_multipart_uploads() == []
    assert [(a, r) for a, _, _, r in _log(api, studio)] == [
        ("upload:started", None),
        ("upload:aborted", "ABORTED"),
    ]


def test_a_complete_whose_entry_cannot_be_written_is_finished_once_the_log_is_back(
    api, studio: Studio, pipeline_machine: str, activity_down
) -> None:
    token = studio.admin.access_token
    data = file_bytes(1000)
    opened = api.post(_path(studio), json=open_body(data), token=token).json()
    upload_id = opened["uploadId"]
    etags = put_parts(opened, data)
    # Given the activity log cannot be written
    activity_down(True)

    # When completed / Then it fails, and the session is not COMPLETED without its entry
    assert api.post(_path(studio, upload_id) + "/complete", json=parts_body(etags), token=token).status == 500
    session = service.UploadSession.get(service.session_pk(studio.admin.studio_id, upload_id), "SESSION")
    assert session.status == "COMPLETING" and session.result is None
    assert [a for a, *_ in _log(api, studio)] == ["upload:started"]

    # When the log is back and the client asks for the upload
    activity_down(False)
    status = api.get(_path(studio, upload_id), token=token).json()

    # Then it is COMPLETED, logged once, with one pipeline execution
    assert status["status"] == "COMPLETED"
    assert [a for a, *_ in _log(api, studio)] == ["upload:started", "upload:completed"]
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]
