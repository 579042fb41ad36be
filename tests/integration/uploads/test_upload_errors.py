"""Bad input, each a clear error in the one error shape; nothing published when parts are wrong."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from keyframe import clock
from keyframe.uploads import multipart, service, sessions
from keyframe.uploads.sizing import MIB, S3_MAX_OBJECT_SIZE
from tests.integration.uploads.conftest import (
    PART,
    Studio,
    executions,
    file_bytes,
    open_body,
    open_multipart_uploads,
    parts_body,
    put_part,
    put_parts,
    s3_object,
)


def _uploads(studio: Studio) -> str:
    return f"/assets/{studio.asset_id}/uploads"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.body
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"] and error["correlationId"]
    return error


def test_bad_open_requests_and_unusable_assets_open_nothing(api, studio: Studio) -> None:
    token = studio.admin.access_token
    data = file_bytes(10)
    cases: list[tuple[dict[str, Any], str]] = [
        (open_body(data) | {"size": 0}, "VALIDATION_ERROR"),
        (open_body(data) | {"size": -5}, "VALIDATION_ERROR"),
        (open_body(data, name="../../escape.mov"), "INVALID_FILE_NAME"),
        (open_body(data, name="renders/shot.mov"), "INVALID_FILE_NAME"),
        (open_body(data, name="renders\\shot.mov"), "INVALID_FILE_NAME"),
        (open_body(data, name="shot\x07.mov"), "INVALID_FILE_NAME"),
        (open_body(data, name=".."), "INVALID_FILE_NAME"),
        (open_body(data, name="x" * 256), "INVALID_FILE_NAME"),
        (open_body(data) | {"contentType": "not a type"}, "VALIDATION_ERROR"),
        (open_body(data) | {"sha256": "xyz"}, "VALIDATION_ERROR"),
        (open_body(data) | {"studioId": "someone-else"}, "VALIDATION_ERROR"),
    ]
    for body, code in cases:
        # When the request is sent / Then 400 with the code naming the rule, and no upload is opened
        error = _error(api.post(_uploads(studio), json=body, token=token), 400, code)
        if code == "INVALID_FILE_NAME":
            assert error["details"]["fields"][0]["field"] == "fileName"
    assert open_multipart_uploads() == []

    body = open_body(data)
    # Given an asset id that does not exist / Then 404
    _error(api.post("/assets/does-not-exist/uploads", json=body, token=token), 404, "ASSET_NOT_FOUND")
    # Given the studio's asset archived / Then 409
    assert api.delete(f"/assets/{studio.asset_id}", token=token).status == 200
    _error(api.post(_uploads(studio), json=body, token=token), 409, "ASSET_ARCHIVED")
    assert open_multipart_uploads() == []


def test_a_refused_open_answers_its_own_error_even_when_storage_fails_to_abort(
    api, studio: Studio, monkeypatch
) -> None:
    token = studio.admin.access_token

    # Given S3 failing to abort the multipart upload the open began while it checked the asset
    def abort_fails(*args: Any) -> None:
        raise ConnectionError("storage is unreachable")

    monkeypatch.setattr(multipart, "abort", abort_fails)
    # When an upload is opened for an asset that does not exist / Then the 404, not a 500
    body = open_body(file_bytes(10))
    _error(api.post("/assets/does-not-exist/uploads", json=body, token=token), 404, "ASSET_NOT_FOUND")


def test_the_studio_quota_counts_open_and_completed_uploads(api, studio: Studio, quota) -> None:
    token = studio.admin.access_token
    quota(12 * MIB)
    # Given a 7 MiB upload open
    first = api.post(_uploads(studio), json=open_body(file_bytes(7 * MIB)), token=token)
    assert first.status == 201

    # When 6 MiB more are asked / Then 413 with the numbers
    six = file_bytes(6 * MIB, seed=2)
    error = _error(
        api.post(_uploads(studio), json=open_body(six), token=token), 413, "STORAGE_QUOTA_EXCEEDED"
    )
    assert error["details"] == {
        "quota": "storageBytes",
        "limit": 12 * MIB,
        "used": 7 * MIB,
        "requested": 6 * MIB,
    }
    # And a file over S3's 5 TiB limit is refused as too large
    huge = open_body(b"x") | {"size": S3_MAX_OBJECT_SIZE + 1}
    _error(api.post(_uploads(studio), json=huge, token=token), 413, "FILE_TOO_LARGE")

    # When the first upload is aborted / Then its bytes are released and the 6 MiB upload fits
    assert api.delete(f"{_uploads(studio)}/{first.json()['uploadId']}", token=token).status == 204
    second = api.post(_uploads(studio), json=open_body(six), token=token)
    assert second.status == 201, second.body

    # When the 6 MiB upload completes / Then its bytes stay counted: 7 MiB more no longer fit
    etags = put_parts(second.json(), six)
    done = api.post(
        f"{_uploads(studio)}/{second.json()['uploadId']}/complete", json=parts_body(etags), token=token
    )
    assert done.status == 202, done.body
    _error(
        api.post(_uploads(studio), json=open_body(file_bytes(7 * MIB)), token=token),
        413,
        "STORAGE_QUOTA_EXCEEDED",
    )
    # And the refused opens left no multipart upload behind (the open creates it while it checks,
    # and the reservation's refusal aborts it)
    assert open_multipart_uploads() == []


def _left_past_its_expiry(api: Any, studio: Studio, monkeypatch: Any) -> dict[str, Any]:
    """A 6 MiB upload opened now, the clock then moved past its 7 days: its open answer."""
    stale = api.post(_uploads(studio), json=open_body(file_bytes(6 * MIB)), token=studio.admin.access_token)
    later = clock.now() + timedelta(days=7, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    return stale.json()


def _fits_once_the_stale_one_is_swept(api: Any, studio: Studio, stale: dict[str, Any]) -> None:
    """Another 6 MiB upload opens (201), and ``stale`` is ABORTED for EXPIRED."""
    token = studio.admin.access_token
    fresh = api.post(_uploads(studio), json=open_body(file_bytes(6 * MIB, seed=3)), token=token)
    assert fresh.status == 201, fresh.body
    status = api.get(f"{_uploads(studio)}/{stale['uploadId']}", token=token).json()
    assert (status["status"], status["failureReason"]) == ("ABORTED", "EXPIRED")


def test_an_expired_session_is_aborted_and_its_quota_released(
    api, studio: Studio, quota, monkeypatch
) -> None:
    token = studio.admin.access_token
    quota(10 * MIB)
    # Given a 6 MiB upload opened and then left alone past its 7 days
    stale = _left_past_its_expiry(api, studio, monkeypatch)

    # When the studio opens another 6 MiB upload / Then it fits: the stale one was swept
    _fits_once_the_stale_one_is_swept(api, studio, stale)
    assert len(open_multipart_uploads()) == 1
    # And completing the stale one is refused
    late = api.post(
        f"{_uploads(studio)}/{stale['uploadId']}/complete", json=parts_body({1: "e"}), token=token
    )
    _error(late, 409, "UPLOAD_ABORTED")


def test_an_open_that_skipped_the_housekeeping_is_not_refused_for_bytes_expired_sessions_hold(
    api, studio: Studio, quota, monkeypatch
) -> None:
    token = studio.admin.access_token
    quota(10 * MIB)
    # Given a 6 MiB upload left alone past its 7 days, and the studio's housekeeping not due (this
    # environment ran it a moment ago), so the open does not sweep before its reservation
    stale = _left_past_its_expiry(api, studio, monkeypatch)
    monkeypatch.setattr(sessions, "_housekeeping_due", lambda studio_id: False)

    # When the studio opens another 6 MiB upload / Then the reservation finds no room, the expired
    # upload is swept, and the reservation is tried again: 201
    _fits_once_the_stale_one_is_swept(api, studio, stale)
    # And a request that does not fit even so is refused, leaving no multipart upload behind
    too_big = open_body(file_bytes(5 * MIB))
    _error(api.post(_uploads(studio), json=too_big, token=token), 413, "STORAGE_QUOTA_EXCEEDED")
    assert len(open_multipart_uploads()) == 1

    # And so it is when that sweep fails: the refusal answers, and the upload it began is aborted
    def sweep_fails(studio_id: str) -> int:
        raise ConnectionError("the uploads table is unreachable")

    monkeypatch.setattr(service, "sweep_expired", sweep_fails)
    _error(api.post(_uploads(studio), json=too_big, token=token), 413, "STORAGE_QUOTA_EXCEEDED")
    assert len(open_multipart_uploads()) == 1


def test_wrong_part_lists_publish_nothing_and_leave_the_upload_open(
    api, studio: Studio, pipeline_machine
) -> None:
    token = studio.admin.access_token
    data = file_bytes(2 * PART + 99)
    # Given a three-part upload with every part sent
    body = api.post(_uploads(studio), json=open_body(data), token=token).json()
    etags = put_parts(body, data)
    complete = f"{_uploads(studio)}/{body['uploadId']}/complete"
    wrong: list[tuple[list[dict[str, Any]], dict[str, Any]]] = [
        ([{"partNumber": 1, "etag": etags[1]}, {"partNumber": 3, "etag": etags[3]}], {"missingParts": [2]}),
        ([*parts_body(etags)["parts"], {"partNumber": 4, "etag": "e4"}], {"extraParts": [4]}),
        ([*parts_body(etags)["parts"], {"partNumber": 2, "etag": etags[2]}], {"duplicateParts": [2]}),
        (
            [
                {"partNumber": 1, "etag": etags[1]},
                {"partNumber": 2, "etag": "0" * 32},
                {"partNumber": 3, "etag": etags[3]},
            ],
            {"etagMismatches": [{"partNumber": 2, "expected": etags[2], "given": "0" * 32}]},
        ),
    ]
    for parts, details in wrong:
        # When completed with a wrong list / Then 400 naming the parts
        error = _error(api.post(complete, json={"parts": parts}, token=token), 400, "UPLOAD_PARTS_INVALID")
        assert error["details"] == details
    # And nothing was published: no object, no execution, the multipart upload still open
    assert (
        s3_object(
            f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{body['uploadId']}/shot_010.mov"
        )
        is None
    )
    assert executions(pipeline_machine) == []
    assert len(open_multipart_uploads()) == 1
    assert api.get(f"{_uploads(studio)}/{body['uploadId']}", token=token).json()["status"] == "OPEN"

    # When the client sends the right list / Then it completes
    assert api.post(complete, json=parts_body(etags), token=token).status == 202


def test_a_last_part_longer_than_declared_is_refused_until_resent(api, studio: Studio) -> None:
    token = studio.admin.access_token
    data = file_bytes(PART + 100)
    # Given a two-part upload whose last part was sent with 50 bytes too many
    body = api.post(_uploads(studio), json=open_body(data), token=token).json()
    etags = put_parts(body, data, [1])
    etags[2] = put_part(body["parts"][1]["url"], data + b"z" * 50, 2, PART)

    # When completed / Then 400 names the size mismatch; no object, the upload stays open
    complete = f"{_uploads(studio)}/{body['uploadId']}/complete"
    error = _error(api.post(complete, json=parts_body(etags), token=token), 400, "UPLOAD_PARTS_INVALID")
    assert error["details"] == {"sizeMismatches": [{"partNumber": 2, "expectedSize": 100, "size": 150}]}
    status = api.get(f"{_uploads(studio)}/{body['uploadId']}", token=token).json()
    assert status["missingParts"] == [2] and [p["partNumber"] for p in status["parts"]] == [2]

    # When the right bytes are sent with the fresh URL / Then it completes
    etags[2] = put_part(status["parts"][0]["url"], data, 2, PART)
    assert api.post(complete, json=parts_body(etags), token=token).status == 202


def test_a_completed_object_of_another_size_is_deleted_and_refused(api, studio: Studio, monkeypatch) -> None:
    token = studio.admin.access_token
    data = file_bytes(1000)
    body = api.post(_uploads(studio), json=open_body(data), token=token).json()
    etags = put_parts(body, data)
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{body['uploadId']}/shot_010.mov"
    # Given a complete that crashed right after S3 completed the object, and the object at the key
    # then replaced (another writer)
    real_complete = multipart.complete

    def complete_then_crash(*args: Any, **kwargs: Any) -> bool:
        real_complete(*args, **kwargs)
        boto3.client("s3").put_object(Bucket="keyframe-test-media", Key=key, Body=b"other bytes")
        raise ConnectionError("the function stopped here")

    monkeypatch.setattr(multipart, "complete", complete_then_crash)
    complete = f"{_uploads(studio)}/{body['uploadId']}/complete"
    assert api.post(complete, json=parts_body(etags), token=token).status == 500
    monkeypatch.setattr(multipart, "complete", real_complete)

    # When the complete is retried (it finds the object, not the parts, so it checks the size)
    # Then 400 SIZE_MISMATCH, the object is removed and the session aborted
    error = _error(api.post(complete, json=parts_body(etags), token=token), 400, "SIZE_MISMATCH")
    assert error["details"] == {"declaredSize": 1000, "size": len(b"other bytes")}
    assert s3_object(key) is None
    status = api.get(f"{_uploads(studio)}/{body['uploadId']}", token=token).json()
    assert (status["status"], status["failureReason"]) == ("ABORTED", "SIZE_MISMATCH")
