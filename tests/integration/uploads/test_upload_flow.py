"""Open -> PUT parts to presigned URLs -> status (uploaded/missing) -> complete -> one pipeline."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import boto3

from keyframe import settings
from keyframe.events.publisher import room_events
from keyframe.pipeline import service as pipeline_service
from tests.integration.uploads.conftest import (
    PART,
    Studio,
    deliver_outbox,
    executions,
    file_bytes,
    open_body,
    open_multipart_uploads,
    parts_body,
    put_parts,
    s3_object,
)


def _path(studio: Studio, upload_id: str = "") -> str:
    base = f"/assets/{studio.asset_id}/uploads"
    return f"{base}/{upload_id}" if upload_id else base


def test_a_file_goes_up_in_parts_and_starts_exactly_one_pipeline(
    api, studio: Studio, pipeline_machine
) -> None:
    token = studio.admin.access_token
    data = file_bytes(2 * PART + 1234)

    # Given an upload opened for a three-part file
    opened = api.post(_path(studio), json=open_body(data, changeNote="blocking pass"), token=token)
    assert opened.status == 201, opened.body
    body = opened.json()
    upload_id = body["uploadId"]
    assert (body["partSize"], body["partCount"], body["status"]) == (PART, 3, "OPEN")
    assert [p["partNumber"] for p in body["parts"]] == [1, 2, 3]
    assert all("X-Amz-Signature=" in p["url"] and "X-Amz-Expires=3600" in p["url"] for p in body["parts"])
    assert opened.headers["Location"] == _path(studio, upload_id)
    assert body["expiresAt"].endswith("Z") and body["sessionExpiresAt"] > body["expiresAt"]

    # When parts 1 and 3 are PUT to their presigned URLs
    etags = put_parts(body, data, [1, 3])

    # Then the status shows them uploaded and part 2 missing, with a fresh URL for part 2 only
    status = api.get(_path(studio, upload_id), token=token).json()
    assert status["status"] == "OPEN"
    assert [(p["partNumber"], p["size"], p["etag"]) for p in status["uploadedParts"]] == [
        (1, PART, etags[1]),
        (3, 1234, etags[3]),
    ]
    assert status["missingParts"] == [2]
    assert [p["partNumber"] for p in status["parts"]] == [2]
    assert status["version"] is None

    # When the missing part is sent with the fresh URL and the upload completed
    etags |= put_parts(status, data)
    completed = api.post(_path(studio, upload_id) + "/complete", json=parts_body(etags), token=token)

    # Then 202 with the pipeline execution named by the upload id
    assert completed.status == 202, completed.body
    first = completed.json()
    assert first["uploadId"] == upload_id and first["status"] == "COMPLETED"
    assert first["pipeline"]["executionArn"].endswith(f":{upload_id}")
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]

    # And the object holds exactly the file's bytes under the studio's key
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{upload_id}/shot_010.mov"
    stored = s3_object(key)
    assert stored is not None and hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
    assert open_multipart_uploads() == []

    # When the client retries the complete (lost response)
    again = api.post(_path(studio, upload_id) + "/complete", json=parts_body(etags), token=token)

    # Then it gets the same 202 and no second execution starts
    assert again.status == 202
    assert again.json() == first
    assert len(executions(pipeline_machine)) == 1

    # And the session reads COMPLETED with the pipeline's view
    final = api.get(_path(studio, upload_id), token=token).json()
    assert final["status"] == "COMPLETED"
    assert final["uploadedParts"] == [] and final["missingParts"] == [] and final["parts"] == []
    assert final["pipeline"]["executionArn"] == first["pipeline"]["executionArn"]

    # When the completed upload is aborted / Then 409 and the bytes stay
    aborted = api.delete(_path(studio, upload_id), token=token)
    assert aborted.status == 409 and aborted.json()["error"]["code"] == "UPLOAD_COMPLETED"
    assert s3_object(key) == data


def test_the_studio_and_the_asset_room_hear_started_and_completed(api, studio: Studio) -> None:
    # Given an upload opened and completed
    token = studio.admin.access_token
    data = file_bytes(1000)
    body = api.post(_path(studio), json=open_body(data), token=token).json()
    etags = put_parts(body, data)
    assert (
        api.post(_path(studio, body["uploadId"]) + "/complete", json=parts_body(etags), token=token).status
        == 202
    )

    # Then both rooms got upload:started then upload:completed for it, once the outbox stream
    # delivered what complete left to it
    deliver_outbox(studio.admin.studio_id)
    for room in ("studio", f"asset:{studio.asset_id}"):
        events = [
            e
            for e in room_events(studio.admin.studio_id, room)
            if e["type"].startswith("upload:") and e["data"]["uploadId"] == body["uploadId"]
        ]
        assert [e["type"] for e in events] == ["upload:started", "upload:completed"]
        assert events[1]["data"]["actorId"] == studio.admin.user_id

    # And the activity log records both, filtered by the asset
    activity = api.get(f"/activity?assetId={studio.asset_id}", token=token)
    assert activity.status == 200, activity.body
    actions = [item["action"] for item in activity.json()["items"]]
    assert "upload:started" in actions and "upload:completed" in actions


def test_a_client_keeping_the_highest_revision_ends_on_the_pipeline_s_state_whatever_the_seq_order(
    api, studio: Studio
) -> None:
    # Given a completed upload: its pipeline was created holding its execution (revision 1), and that
    # pipeline:update event is left to the outbox stream
    token = studio.admin.access_token
    data = file_bytes(1000)
    body = api.post(_path(studio), json=open_body(data), token=token).json()
    etags = put_parts(body, data)
    complete = api.post(_path(studio, body["uploadId"]) + "/complete", json=parts_body(etags), token=token)
    assert complete.status == 202, complete.body
    studio_id, upload_id = studio.admin.studio_id, body["uploadId"]
    # When every step runs and the pipeline SUCCEEDED, each write announcing its update at once
    for step in pipeline_service.STEPS:
        pipeline_service.step_started(studio_id, upload_id, step)
        pipeline_service.step_succeeded(studio_id, upload_id, step)
    pipeline_service.finish_succeeded(pipeline_service.require(studio_id, upload_id))
    # And only then the stream hands on the complete's events (a slow stream, as under load)
    deliver_outbox(studio_id)

    # Then the asset room numbered the complete's update last: the seq order is not the order of the
    # changes
    updates = [
        e
        for e in room_events(studio_id, f"asset:{studio.asset_id}")
        if e["type"] == "pipeline:update" and e["data"]["uploadId"] == upload_id
    ]
    assert [e["data"]["status"] for e in updates][-1] == "PENDING"
    assert updates[-1]["data"]["revision"] == 1
    # But each update carries the revision of its change: 1, 2, ... one per write, none twice
    revisions = sorted(e["data"]["revision"] for e in updates)
    assert revisions == list(range(1, len(updates) + 1))
    # And a client that shows an update only when its revision is higher than the one shown ends on
    # what GET .../pipeline answers: SUCCEEDED with every step done, at the last revision
    shown: dict = {"revision": 0}
    for event in sorted(updates, key=lambda e: e["seq"]):
        if event["data"]["revision"] > shown["revision"]:
            shown = event["data"]
    stored = pipeline_service.view(pipeline_service.require(studio_id, upload_id))
    assert shown["status"] == stored["status"] == "SUCCEEDED"
    assert shown["revision"] == stored["revision"] == len(updates)
    assert shown["steps"] == stored["steps"]


def test_abort_drops_the_parts_and_a_second_abort_is_harmless(api, studio: Studio) -> None:
    # Given an open upload with one part sent
    token = studio.admin.access_token
    data = file_bytes(PART + 10)
    body = api.post(_path(studio), json=open_body(data), token=token).json()
    put_parts(body, data, [1])

    # When it is aborted, twice
    first = api.delete(_path(studio, body["uploadId"]), token=token)
    second = api.delete(_path(studio, body["uploadId"]), token=token)

    # Then both answer 204, S3 holds no multipart upload and the session reads ABORTED
    assert (first.status, second.status) == (204, 204)
    assert open_multipart_uploads() == []
    status = api.get(_path(studio, body["uploadId"]), token=token).json()
    assert (status["status"], status["failureReason"]) == ("ABORTED", "ABORTED")

    # And completing it now is a conflict
    late = api.post(_path(studio, body["uploadId"]) + "/complete", json=parts_body({1: "x"}), token=token)
    assert late.status == 409
    assert late.json()["error"]["code"] == "UPLOAD_ABORTED"


def test_per_part_checksums_are_signed_into_the_urls(api, studio: Studio) -> None:
    # Given an upload opened with the SHA-256 of each planned part
    token = studio.admin.access_token
    data = file_bytes(PART + 77)
    sums = [hashlib.sha256(data[:PART]).hexdigest(), hashlib.sha256(data[PART:]).hexdigest()]
    opened = api.post(_path(studio), json=open_body(data, partChecksums=sums), token=token)
    assert opened.status == 201, opened.body
    body = opened.json()

    # Then each URL signs the x-amz-checksum-sha256 header and tells the client to send it
    for part, digest in zip(body["parts"], sums, strict=True):
        assert "x-amz-checksum-sha256" in part["url"]
        assert part["headers"]["x-amz-checksum-sha256"] == base64.b64encode(bytes.fromhex(digest)).decode()
    upload = boto3.client("s3").list_multipart_uploads(Bucket="keyframe-test-media")["Uploads"][0]
    assert upload.get("ChecksumAlgorithm") == "SHA256"

    # When the parts are sent with those headers and the upload completed / Then it completes
    etags = put_parts(body, data)
    done = api.post(_path(studio, body["uploadId"]) + "/complete", json=parts_body(etags), token=token)
    assert done.status == 202, done.body


def _crc32(chunk: bytes) -> bytes:
    return zlib.crc32(chunk).to_bytes(4, "big")


def test_per_part_crc32_checksums_are_signed_into_the_urls_and_name_the_parts_at_complete(
    api, studio: Studio
) -> None:
    # Given an upload of a three-part file opened with the CRC32 of each planned part
    token = studio.admin.access_token
    data = file_bytes(2 * PART + 77)
    chunks = [data[:PART], data[PART : 2 * PART], data[2 * PART :]]
    sums = [_crc32(chunk).hex() for chunk in chunks]
    opened = api.post(_path(studio), json=open_body(data, partCrc32=sums), token=token)
    assert opened.status == 201, opened.body
    body = opened.json()

    # Then each URL signs the x-amz-checksum-crc32 header and tells the client to send it
    for part, digest in zip(body["parts"], sums, strict=True):
        assert "x-amz-checksum-crc32" in part["url"]
        assert part["headers"] == {"x-amz-checksum-crc32": base64.b64encode(bytes.fromhex(digest)).decode()}
    upload = boto3.client("s3").list_multipart_uploads(Bucket="keyframe-test-media")["Uploads"][0]
    assert upload.get("ChecksumAlgorithm") == "CRC32"

    # And a resume (GET) hands the same headers for the parts still missing
    etags = put_parts(body, data, [1])
    status = api.get(_path(studio, body["uploadId"]), token=token).json()
    assert [(p["partNumber"], p["headers"]) for p in status["parts"]] == [
        (n, {"x-amz-checksum-crc32": base64.b64encode(bytes.fromhex(sums[n - 1])).decode()}) for n in (2, 3)
    ]

    # When the rest is sent with those headers and the upload completed
    etags.update(put_parts(status, data, [2, 3]))
    done = api.post(_path(studio, body["uploadId"]) + "/complete", json=parts_body(etags), token=token)

    # Then 202, and the object carries the parts' composite CRC32 (the CRC32 of their CRC32s)
    assert done.status == 202, done.body
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{body['uploadId']}/shot_010.mov"
    head = boto3.client("s3").head_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key, ChecksumMode="ENABLED")
    composite = base64.b64encode(_crc32(b"".join(_crc32(chunk) for chunk in chunks))).decode()
    assert head["ChecksumCRC32"].split("-")[0] == composite  # S3 adds "-3" (the part count), moto not
    assert s3_object(key) == data


def test_crc32_and_sha256_part_checksums_together_are_refused(api, studio: Studio) -> None:
    # Given a one-part file / When opened with both kinds of part checksums / Then 400, nothing opened
    data = file_bytes(100)
    both = open_body(data, partChecksums=[hashlib.sha256(data).hexdigest()], partCrc32=[_crc32(data).hex()])
    answer = api.post(_path(studio), json=both, token=studio.admin.access_token)
    assert answer.status == 400
    assert answer.json()["error"]["code"] == "INVALID_INPUT"
    assert open_multipart_uploads() == []


def test_crc32_checksums_for_another_part_plan_are_refused_with_the_plan(api, studio: Studio) -> None:
    # Given a two-part file but one CRC32 / When opened / Then 400 names the server's plan
    data = file_bytes(PART + 1)
    answer = api.post(
        _path(studio), json=open_body(data, partCrc32=["0badcafe"]), token=studio.admin.access_token
    )
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == "PART_CHECKSUMS_MISMATCH"
    assert error["details"] == {"partSize": PART, "partCount": 2}
    assert "partCrc32 has 1 entries" in error["message"]
    assert open_multipart_uploads() == []


def test_checksums_for_another_part_plan_are_refused_with_the_plan(api, studio: Studio) -> None:
    # Given a two-part file but one checksum / When opened / Then 400 names the server's plan
    data = file_bytes(PART + 1)
    answer = api.post(
        _path(studio), json=open_body(data, partChecksums=["ab" * 32]), token=studio.admin.access_token
    )
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == "PART_CHECKSUMS_MISMATCH"
    assert error["details"] == {"partSize": PART, "partCount": 2}
    assert open_multipart_uploads() == []


def test_urls_beyond_one_answer_are_paged_with_from_part(api, studio: Studio, monkeypatch) -> None:
    # Given answers limited to 2 URLs and a three-part file
    monkeypatch.setenv("UPLOAD_URLS_PER_RESPONSE", "2")
    settings.reset()
    token = studio.admin.access_token
    data = file_bytes(2 * PART + 5)
    body = api.post(_path(studio), json=open_body(data), token=token).json()

    # Then the open answer has parts 1-2 and says where to continue
    assert [p["partNumber"] for p in body["parts"]] == [1, 2]
    assert body["nextPartNumber"] == 3

    # When the client asks from part 3 / Then it gets part 3's URL
    rest = api.get(_path(studio, body["uploadId"]) + "?fromPart=3", token=token).json()
    assert [p["partNumber"] for p in rest["parts"]] == [3]
    assert rest["nextPartNumber"] is None
    assert rest["missingParts"] == [1, 2, 3]


def test_the_sha256_may_come_with_the_complete_and_must_match_a_declared_one(
    api, studio: Studio, pipeline_machine
) -> None:
    token = studio.admin.access_token
    data = file_bytes(PART + 99)
    digest = hashlib.sha256(data).hexdigest()

    # Given an upload opened without a SHA-256 (the client hashes while it sends)
    body = open_body(data)
    del body["sha256"]
    opened = api.post(_path(studio), json=body, token=token).json()
    etags = put_parts(opened, data)

    # When it completes with the file's SHA-256
    completed = api.post(
        _path(studio, opened["uploadId"]) + "/complete",
        json={**parts_body(etags), "sha256": digest},
        token=token,
    )

    # Then 202, and the pipeline's record carries it (Validate checks the stored bytes against it)
    assert completed.status == 202, completed.body
    record = pipeline_service.require(studio.admin.studio_id, opened["uploadId"])
    assert record.sha256 == digest

    # Given an upload that declared its SHA-256 at the open
    declared = api.post(_path(studio), json=open_body(data), token=token).json()
    etags = put_parts(declared, data)

    # When it completes with another one / Then 400 CHECKSUM_MISMATCH and the upload stays open
    other = api.post(
        _path(studio, declared["uploadId"]) + "/complete",
        json={**parts_body(etags), "sha256": "0" * 64},
        token=token,
    )
    assert other.status == 400 and other.json()["error"]["code"] == "CHECKSUM_MISMATCH"
    assert api.get(_path(studio, declared["uploadId"]), token=token).json()["status"] == "OPEN"
    # And with the same one (any case) it completes
    same = api.post(
        _path(studio, declared["uploadId"]) + "/complete",
        json={**parts_body(etags), "sha256": digest.upper()},
        token=token,
    )
    assert same.status == 202, same.body
