"""Fixtures of the uploads integration tests: a studio with an asset, a pipeline state machine,
file bytes, and helpers that PUT parts to the presigned URLs exactly as a client does.

Under ``mock_aws`` moto also answers ``requests`` calls to S3 URLs, so the presigned PUTs below are
real HTTP-shaped requests handled by moto in-process (no port needed); ``test_presigned_http``
additionally runs them over a real socket against ``ThreadedMotoServer``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from keyframe import settings
from keyframe.events import publisher
from keyframe.outbox import stream
from keyframe.outbox.records import OutboxItem, outbox_pk
from keyframe.storage.clients import client as aws_client
from keyframe.uploads.sizing import MIB
from tests.support.identity import Session, register_studio

PART = 5 * MIB
"""The test part size: S3's (and moto's) minimum for non-final parts."""


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plan 5 MiB parts so a two- or three-part file stays small."""
    monkeypatch.setenv("UPLOAD_MIN_PART_SIZE_BYTES", str(PART))
    settings.reset()


@pytest.fixture
def pipeline_machine(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A state machine standing in for the asset pipeline (one Succeed state), set as the pipeline's.

    The real ``keyframe.pipeline.starter.start_pipeline`` starts it, so the tests see the real
    execution naming (``name = uploadId``) and idempotency; the pipeline's own steps are tested by
    the pipeline's tests and the end-to-end tests.
    """
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    arn = aws_client("stepfunctions").create_state_machine(
        name="keyframe-test-asset-pipeline",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/keyframe-test-pipeline",
    )["stateMachineArn"]
    monkeypatch.setenv("ASSET_PIPELINE_STATE_MACHINE_ARN", arn)
    settings.reset()
    return arn


def executions(machine_arn: str) -> list[dict[str, Any]]:
    """Every execution of the state machine."""
    return aws_client("stepfunctions").list_executions(stateMachineArn=machine_arn)["executions"]


@dataclass
class Studio:
    """A signed-in ADMIN and one asset of their studio."""

    admin: Session
    asset_id: str
    project_id: str


def create_asset(api: Any, session: Session, code: str = "UPL") -> tuple[str, str]:
    """A project and an asset in ``session``'s studio through the catalog API: ``(project, asset)``."""
    project = api.post("/projects", json={"name": "Uploads", "code": code}, token=session.access_token)
    assert project.status == 201, project.body
    project_id = project.json()["id"]
    asset = api.post(
        "/assets", json={"projectId": project_id, "name": "Hero", "type": "SHOT"}, token=session.access_token
    )
    assert asset.status == 201, asset.body
    return project_id, asset.json()["id"]


@pytest.fixture
def studio(api: Any, pipeline_machine: str) -> Studio:
    """A new studio with one asset."""
    admin = register_studio(api)
    project_id, asset_id = create_asset(api, admin)
    return Studio(admin=admin, asset_id=asset_id, project_id=project_id)


def file_bytes(size: int, seed: int = 1) -> bytes:
    """``size`` deterministic pseudo-random bytes (different per ``seed``)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
    return (block * (size // len(block) + 1))[:size]


def open_body(data: bytes, name: str = "shot_010.mov", **extra: Any) -> dict[str, Any]:
    """The ``POST …/uploads`` body for ``data``."""
    return {
        "fileName": name,
        "size": len(data),
        "contentType": "video/quicktime",
        "sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def put_part(
    url: str, data: bytes, number: int, part_size: int, headers: dict[str, str] | None = None
) -> str:
    """PUT part ``number`` of ``data`` to its presigned URL; returns the ETag (unquoted)."""
    chunk = data[(number - 1) * part_size : number * part_size]
    response = requests.put(
        url, data=chunk, headers={"Content-Type": "application/octet-stream", **(headers or {})}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.headers["ETag"].strip('"')


def put_parts(opened: dict[str, Any], data: bytes, numbers: list[int] | None = None) -> dict[int, str]:
    """PUT the given parts (default: all listed) of an open/status answer; ``{partNumber: etag}``."""
    etags = {}
    for part in opened["parts"]:
        if numbers is None or part["partNumber"] in numbers:
            etags[part["partNumber"]] = put_part(
                part["url"], data, part["partNumber"], opened["partSize"], part.get("headers")
            )
    return etags


def parts_body(etags: dict[int, str]) -> dict[str, Any]:
    """The ``complete`` body for ``etags``."""
    return {"parts": [{"partNumber": n, "etag": e} for n, e in sorted(etags.items())]}


def s3_object(key: str) -> bytes | None:
    """The bytes stored under ``key`` in the media bucket, or ``None``."""
    s3 = aws_client("s3")
    try:
        return s3.get_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def open_multipart_uploads() -> list[dict[str, Any]]:
    """Multipart uploads S3 still holds open in the media bucket."""
    return aws_client("s3").list_multipart_uploads(Bucket=os.environ["MEDIA_BUCKET"]).get("Uploads", [])


@pytest.fixture
def quota(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set ``STUDIO_QUOTA_BYTES`` for the test: ``quota(bytes)``."""

    def set_quota(value: int) -> None:
        monkeypatch.setenv("STUDIO_QUOTA_BYTES", str(value))
        settings.reset()

    yield set_quota


def deliver_outbox(studio_id: str) -> None:
    """Hand the studio's stored events to the outbox stream's rooms consumer, oldest first, as the
    catalog table's stream does in the cloud and on the local stack (moto's in-process mode serves
    no stream reads). Events already delivered by the request that stored them are not posted again.
    """
    records = [
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n), "NewImage": item.serialize()}}
        for n, item in enumerate(OutboxItem.query(outbox_pk(studio_id)), start=1)
    ]
    grace = publisher.INLINE_GRACE_SECONDS
    publisher.INLINE_GRACE_SECONDS = 0.0  # the requests that announced theirs have answered already
    stream.register("rooms", publisher.publish)
    try:
        assert stream.handle({"Records": records}) == {"batchItemFailures": []}
    finally:
        stream.unregister("rooms")
        publisher.INLINE_GRACE_SECONDS = grace
