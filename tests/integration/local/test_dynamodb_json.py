"""The local stack's direct DynamoDB answers (:mod:`keyframe.local.dynamodb_json`) are the documents
moto's own serializer gives, for every item operation a studio's day sends."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

import pytest

from keyframe.local.dynamodb_json import wire_json
from tests.integration.catalog.conftest import publish
from tests.support.dynamodb_json_check import Checker
from tests.support.identity import register_studio


@pytest.fixture
def dynamodb_json_checker(monkeypatch: pytest.MonkeyPatch) -> Checker:
    """A :class:`Checker` installed for this test."""
    checker = Checker()
    checker.install(monkeypatch)
    return checker


def test_a_studios_requests_get_the_serializers_documents(api: Any, dynamodb_json_checker: Checker) -> None:
    # Given a studio with a project, a shot that depends on a rig, three versions and a comment
    admin = register_studio(api, studio_name="Json Studio")
    token = admin.access_token
    project = api.post("/projects", json={"name": "Pilot", "code": "JS"}, token=token).json()
    shot = api.post(
        "/assets", json={"projectId": project["id"], "name": "SH010", "type": "SHOT"}, token=token
    )
    rig = api.post("/assets", json={"projectId": project["id"], "name": "Rig", "type": "RIG"}, token=token)
    shot_id, rig_id = shot.json()["id"], rig.json()["id"]
    for _ in range(3):
        publish(admin, shot_id)
    publish(admin, rig_id)
    assert api.put(f"/assets/{shot_id}/dependencies/{rig_id}", json={}, token=token).status in (200, 201)
    comment = api.post(f"/assets/{shot_id}/versions/3/comments", json={"body": "frame 12 pops", "frame": 12},
                       token=token)  # fmt: skip
    assert comment.status == 201, comment.body

    # When the studio reads and changes them
    assert api.get("/assets?sort=name", token=token).status == 200
    assert api.get(f"/assets/{shot_id}/versions", token=token).status == 200
    assert api.get(f"/assets/{rig_id}/dependents?transitive=true", token=token).status == 200
    assert api.patch(f"/assets/{shot_id}/rollback", json={"version": 1}, token=token).status == 200
    assert api.get("/activity", token=token).status == 200
    # And one of them uploads a file declaring its part CRC32s (binary values in the session item)
    data = b"frame" * 200
    opened = api.post(
        f"/assets/{shot_id}/uploads",
        json={"fileName": "sh010.mov", "size": len(data), "contentType": "video/quicktime",
              "partCrc32": [f"{zlib.crc32(data):08x}"]},
        token=token,
    )  # fmt: skip
    assert opened.status == 201, opened.body
    assert api.get(f"/assets/{shot_id}/uploads/{opened.json()['uploadId']}", token=token).status == 200
    assert api.post("/auth/logout", json={"refreshToken": admin.refresh_token}, token=token).status < 300

    # Then every item operation was compared and none answered otherwise than the serializer
    assert not dynamodb_json_checker.mismatches, dynamodb_json_checker.mismatches[:3]
    assert dynamodb_json_checker.compared_binary > 0  # the upload session's part checksums
    for operation in ("GetItem", "PutItem", "UpdateItem", "Query", "TransactWriteItems", "BatchGetItem"):
        assert dynamodb_json_checker.compared.get(operation, 0) > 0, (
            operation,
            dynamodb_json_checker.compared,
        )


def test_values_json_cannot_carry_and_errors_are_left_to_the_serializer() -> None:
    assert wire_json({"Item": {"data": {"B": b"\x00\x01"}, "set": {"BS": [b"\xff"]}}}) == (
        '{"Item":{"data":{"B":"AAE="},"set":{"BS":["/w=="]}}}'
    )
    assert wire_json({"Item": {"when": {"S": datetime(2026, 1, 1)}}}) is None
    assert wire_json(ValueError("ConditionalCheckFailedException")) is None
    assert wire_json({"Count": float("nan")}) is None
    assert wire_json({"Attributes": None, "Count": 1}) == '{"Count":1}'
    # moto's legacy member of DeleteItem's result is not in the output shape
    assert wire_json({"ConsumedCapacityUnits": 0.5, "ConsumedCapacity": {"CapacityUnits": 1.0}}) == (
        '{"ConsumedCapacity":{"CapacityUnits":1.0}}'
    )
