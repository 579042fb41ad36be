"""What one ``complete`` costs the uploads domain: the session is read once and written twice.

``complete`` is on the upload's critical path (``make bench``'s upload ratio against boto3's transfer
manager), so its own storage work has a budget: one consistent read of the session, the COMPLETING
write (one conditional UpdateItem, which also stores a SHA-256 given at complete) and the COMPLETED
transaction; no other write and no read again of the session. ListParts and
CompleteMultipartUpload once each, and no HeadObject: the object is made of the parts just checked,
so its size is the declared one. The pipeline record it starts is written once (created holding its
execution), never read back.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import UpdateError

from keyframe import clock
from keyframe.events import publisher
from keyframe.events.publisher import room_events
from keyframe.identity.permissions import Principal, Role
from keyframe.outbox.records import OutboxItem, outbox_pk
from keyframe.pipeline import service as pipeline_service
from keyframe.pipeline.models import record_pk
from keyframe.uploads import multipart, sessions
from keyframe.uploads.models import UploadSession, session_pk
from tests.integration.uploads.conftest import (
    PART,
    Studio,
    deliver_outbox,
    file_bytes,
    open_body,
    parts_body,
    put_parts,
    s3_object,
)


def _open_without_hash(api: Any, studio: Studio, data: bytes) -> dict[str, Any]:
    """Open an upload of ``data`` that declares no SHA-256 (the CLI hashes while it sends)."""
    body = open_body(data)
    del body["sha256"]
    return api.post(_path(studio), json=body, token=studio.admin.access_token).json()


def _sent(api: Any, studio: Studio) -> tuple[dict[str, Any], dict[int, str]]:
    """A 1,000-byte upload opened by the studio's admin with its part sent: ``(open answer, etags)``."""
    data = file_bytes(1000)
    opened = api.post(_path(studio), json=open_body(data), token=studio.admin.access_token).json()
    return opened, put_parts(opened, data)


def _path(studio: Studio, upload_id: str = "") -> str:
    base = f"/assets/{studio.asset_id}/uploads"
    return f"{base}/{upload_id}" if upload_id else base


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every AWS API call made while the test runs, as ``(operation, params)``."""
    calls: list[tuple[str, dict[str, Any]]] = []
    real = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield calls


def _keyed(params: dict[str, Any], pk: str) -> bool:
    return params.get("Key", {}).get("pk", {}).get("S") == pk


def _session_writes(calls: list[tuple[str, dict[str, Any]]], pk: str) -> tuple[int, int, int]:
    """(reads, single-item writes, transactions) of the session item ``pk``."""
    reads = sum(1 for op, p in calls if op == "GetItem" and _keyed(p, pk))
    writes = sum(1 for op, p in calls if op in ("UpdateItem", "PutItem", "DeleteItem") and _keyed(p, pk))
    transactions = sum(
        1
        for op, p in calls
        if op == "TransactWriteItems"
        and any(_keyed(next(iter(item.values())), pk) for item in p["TransactItems"])
    )
    return reads, writes, transactions


def _puts(calls: list[tuple[str, dict[str, Any]]], pk: str) -> int:
    """Transactions that put (create) the item ``pk``."""
    return sum(
        1
        for op, p in calls
        if op == "TransactWriteItems"
        and any(
            item.get("Put", {}).get("Item", {}).get("pk", {}).get("S") == pk for item in p["TransactItems"]
        )
    )


def test_a_complete_reads_its_session_once_and_writes_it_twice(api, studio: Studio, aws_calls) -> None:
    token = studio.admin.access_token
    data = file_bytes(2 * PART + 10)
    digest = hashlib.sha256(data).hexdigest()
    # Given an upload opened without a SHA-256, its parts sent
    opened = _open_without_hash(api, studio, data)
    etags = put_parts(opened, data)
    aws_calls.clear()

    # When it completes with the file's SHA-256
    completed = api.post(
        _path(studio, opened["uploadId"]) + "/complete",
        json={**parts_body(etags), "sha256": digest},
        token=token,
    )

    # Then 202, the session was read once and written twice: COMPLETING alone, then COMPLETED with
    # its activity entry and event in a transaction
    assert completed.status == 202, completed.body
    pk = session_pk(studio.admin.studio_id, opened["uploadId"])
    assert _session_writes(aws_calls, pk) == (1, 1, 1)
    s3 = Counter(op for op, _ in aws_calls if op in ("ListParts", "CompleteMultipartUpload", "HeadObject"))
    assert s3 == {"ListParts": 1, "CompleteMultipartUpload": 1}  # the parts checked give the size
    # And the pipeline record it started was written once, created holding its execution, never
    # read back nor updated
    record_key = record_pk(studio.admin.studio_id, opened["uploadId"])
    assert _session_writes(aws_calls, record_key) == (0, 0, 0)
    assert _puts(aws_calls, record_key) == 1
    record = pipeline_service.require(studio.admin.studio_id, opened["uploadId"])
    assert record.execution_arn == completed.json()["pipeline"]["executionArn"]
    # And the hash went with the transition: the pipeline has it, the session answers COMPLETED
    assert pipeline_service.require(studio.admin.studio_id, opened["uploadId"]).sha256 == digest
    status = api.get(_path(studio, opened["uploadId"]), token=token).json()
    assert status["status"] == "COMPLETED"
    # And a retried complete answers the same 202 without writing anything
    aws_calls.clear()
    again = api.post(
        _path(studio, opened["uploadId"]) + "/complete",
        json={**parts_body(etags), "sha256": digest},
        token=token,
    )
    assert (again.status, again.json()) == (202, completed.json())
    assert _session_writes(aws_calls, pk) == (1, 0, 0)


def test_a_complete_refused_for_its_parts_stores_nothing_not_even_the_hash(api, studio: Studio) -> None:
    token = studio.admin.access_token
    data = file_bytes(2 * PART + 10)
    opened = _open_without_hash(api, studio, data)
    etags = put_parts(opened, data, [1, 2])
    complete = _path(studio, opened["uploadId"]) + "/complete"

    # When it completes with a part missing and some SHA-256 / Then 400 and the upload stays open
    refused = api.post(complete, json={**parts_body(etags), "sha256": "0" * 64}, token=token)
    assert refused.status == 400 and refused.json()["error"]["code"] == "UPLOAD_PARTS_INVALID"
    assert api.get(_path(studio, opened["uploadId"]), token=token).json()["status"] == "OPEN"

    # When the last part is sent and it completes with the file's real hash / Then 202 with that hash
    etags.update(put_parts(opened, data, [3]))
    digest = hashlib.sha256(data).hexdigest()
    completed = api.post(complete, json={**parts_body(etags), "sha256": digest}, token=token)
    assert completed.status == 202, completed.body
    assert pipeline_service.require(studio.admin.studio_id, opened["uploadId"]).sha256 == digest


def _upload_events_in_rooms(studio: Studio, upload_id: str) -> list[str]:
    """The types of the upload's events the studio's and the asset's rooms hold."""
    return [
        e["type"]
        for room in ("studio", f"asset:{studio.asset_id}")
        for e in room_events(studio.admin.studio_id, room)
        if e["data"].get("uploadId") == upload_id
    ]


def test_open_and_complete_leave_their_events_to_the_outbox_which_delivers_them_without_waiting(
    api, studio: Studio, monkeypatch
) -> None:
    token = studio.admin.access_token
    studio_id = studio.admin.studio_id
    data = file_bytes(1000)
    opened = api.post(_path(studio), json=open_body(data), token=token).json()
    # Then the open's upload:started is stored with the session, but no room has it yet
    stored = [item.event() for item in OutboxItem.query(outbox_pk(studio_id))]
    assert [(e.type, e.inline) for e in stored if e.data.get("uploadId") == opened["uploadId"]] == [
        ("upload:started", False)
    ]
    assert _upload_events_in_rooms(studio, opened["uploadId"]) == []
    etags = put_parts(opened, data)

    # When it completes
    completed = api.post(_path(studio, opened["uploadId"]) + "/complete", json=parts_body(etags), token=token)

    # Then 202, and its events are stored (with their changes) but no room has them yet
    assert completed.status == 202, completed.body
    stored = [item.event() for item in OutboxItem.query(outbox_pk(studio_id))]
    left = [e for e in stored if not e.inline]
    assert sorted(e.type for e in left) == ["pipeline:update", "upload:completed", "upload:started"]
    assert all(e.data["uploadId"] == opened["uploadId"] for e in left)
    assert _upload_events_in_rooms(studio, opened["uploadId"]) == []

    # When the outbox stream hands them on / Then each room numbers them in order, at once (the
    # stream waits for no inline attempt of these)
    waited: list[str] = []
    monkeypatch.setattr(publisher, "_let_the_inline_attempt_finish", lambda event: waited.append(event.type))
    deliver_outbox(studio_id)
    assert not {"upload:started", "pipeline:update", "upload:completed"} & set(waited)
    for room in ("studio", f"asset:{studio.asset_id}"):
        events = [e for e in room_events(studio_id, room) if e["data"].get("uploadId") == opened["uploadId"]]
        assert [e["type"] for e in events] == ["upload:started", "pipeline:update", "upload:completed"]
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    # And handing them again numbers nothing twice
    before = room_events(studio_id, "studio")
    deliver_outbox(studio_id)
    assert room_events(studio_id, "studio") == before


def test_a_complete_that_an_abort_overtakes_before_its_first_write_answers_409_and_completes_nothing(
    api, studio: Studio, monkeypatch
) -> None:
    token = studio.admin.access_token
    opened, etags = _sent(api, studio)
    actor = Principal(studio.admin.studio_id, studio.admin.user_id, Role.ADMIN)
    # Given an abort that lands after the complete read the session OPEN and listed its parts, before
    # the complete's COMPLETING write
    real_list_parts = multipart.list_parts

    def list_then_abort(*args: Any) -> Any:
        listed = real_list_parts(*args)
        sessions.abort_upload(actor, studio.asset_id, opened["uploadId"])
        return listed

    monkeypatch.setattr(multipart, "list_parts", list_then_abort)

    # When the complete goes on / Then 409: its conditional write found the session ABORTED
    completed = api.post(_path(studio, opened["uploadId"]) + "/complete", json=parts_body(etags), token=token)
    assert completed.status == 409 and completed.json()["error"]["code"] == "UPLOAD_ABORTED"
    # And nothing was completed: the session stays ABORTED, no object, no pipeline
    monkeypatch.setattr(multipart, "list_parts", real_list_parts)
    assert api.get(_path(studio, opened["uploadId"]), token=token).json()["status"] == "ABORTED"
    key = (
        f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{opened['uploadId']}/shot_010.mov"
    )
    assert s3_object(key) is None
    assert pipeline_service.get(studio.admin.studio_id, opened["uploadId"]) is None


def test_a_complete_whose_first_write_meets_another_transaction_tries_it_again(
    api, studio: Studio, monkeypatch
) -> None:
    token = studio.admin.access_token
    opened, etags = _sent(api, studio)
    # Given DynamoDB refuses the COMPLETING write once because a transaction is writing the session
    real_update = UploadSession.update
    refused: list[str] = []

    def conflicting_once(self: UploadSession, *args: Any, **kwargs: Any) -> Any:
        if not refused:
            refused.append(self.upload_id)
            error = {"Error": {"Code": "TransactionConflictException", "Message": "in a transaction"}}
            raise UpdateError("Failed to update item", cause=ClientError(error, "UpdateItem"))
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(UploadSession, "update", conflicting_once)

    # When it completes / Then the write is sent again and the upload completes once
    completed = api.post(_path(studio, opened["uploadId"]) + "/complete", json=parts_body(etags), token=token)
    assert refused == [opened["uploadId"]]
    assert completed.status == 202, completed.body
    assert api.get(_path(studio, opened["uploadId"]), token=token).json()["status"] == "COMPLETED"


def _index_queries(calls: list[tuple[str, dict[str, Any]]]) -> int:
    return sum(1 for op, p in calls if op == "Query" and p.get("IndexName") == "gsi1")


def test_an_open_runs_the_studios_housekeeping_at_most_once_a_minute(api, studio: Studio, aws_calls) -> None:
    token = studio.admin.access_token
    # When the studio's first upload is opened / Then it looks for expired and stuck sessions
    assert api.post(_path(studio), json=open_body(file_bytes(10)), token=token).status == 201
    assert _index_queries(aws_calls) == 2
    # When another is opened within the minute / Then it does not look again
    aws_calls.clear()
    assert api.post(_path(studio), json=open_body(file_bytes(10, seed=2)), token=token).status == 201
    assert _index_queries(aws_calls) == 0
    # When one is opened a minute later / Then it does
    later = clock.now() + sessions.HOUSEKEEPING_INTERVAL
    aws_calls.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: later)
        assert api.post(_path(studio), json=open_body(file_bytes(10, seed=3)), token=token).status == 201
    assert _index_queries(aws_calls) == 2
