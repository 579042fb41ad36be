"""The sample events in ``events/uploads`` run through the real ``uploads-api`` handler.

They carry the authorizer context the gateway adds (an ARTIST of the sample studio), so once the
sample asset exists they tell the whole story: open -> status -> (parts PUT to the presigned URLs)
-> complete, and abort (204 on an open upload; 409 once completed).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyframe import settings
from keyframe.catalog import assets, projects
from keyframe.catalog.schemas import AssetCreate, ProjectCreate
from keyframe.local import lambdas
from keyframe.registry import REPO_ROOT
from keyframe.uploads.sizing import MIB
from tests.integration.uploads.conftest import executions, file_bytes, put_parts, s3_object

SAMPLES = REPO_ROOT / "events" / "uploads"
STUDIO = "3f2c9a7e-1b4d-4c8e-9f10-2a6b7c8d9e01"
USER = "7a1e5c3b-9d2f-4e6a-8b0c-1d2e3f4a5b6c"
ASSET = "5b8d2f14-6c3a-4e9b-a7d1-0f2e4c6a8b10"
UPLOAD = "c0ffee00-1234-4abc-9def-0123456789ab"


@pytest.fixture
def sample_asset(aws: None, pipeline_machine: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sample studio's asset (its id replaces the sample's); the server's default 8 MiB parts."""
    monkeypatch.setenv("UPLOAD_MIN_PART_SIZE_BYTES", str(8 * MIB))
    settings.reset()
    project = projects.create_project(STUDIO, USER, ProjectCreate(name="Sample", code="SMP"))
    return assets.create_asset(STUDIO, USER, AssetCreate(project_id=project.id, name="sh020", type="SHOT")).id


def _sample(name: str, asset_id: str, upload_id: str = UPLOAD) -> dict[str, Any]:
    text = (SAMPLES / f"{name}.json").read_text().replace(ASSET, asset_id).replace(UPLOAD, upload_id)
    return json.loads(text)


def _invoke(event: dict[str, Any]) -> tuple[int, Any]:
    result = lambdas.invoke("uploads-api", event)
    return result["statusCode"], json.loads(result["body"]) if result.get("body") else None


def test_the_sample_events_open_resume_complete_and_abort(sample_asset: str, pipeline_machine: str) -> None:
    # Given the sample open event (a 20,000,000-byte .mov)
    status, opened = _invoke(_sample("open", sample_asset))

    # Then 201: three 8 MiB parts planned, as the sample complete event lists
    assert status == 201, opened
    assert (opened["size"], opened["partSize"], opened["partCount"]) == (20_000_000, 8 * MIB, 3)
    upload_id = opened["uploadId"]

    # When the sample status event asks for that upload / Then 200 OPEN, every part missing
    status, body = _invoke(_sample("status", sample_asset, upload_id))
    assert status == 200, body
    assert (body["status"], body["missingParts"]) == ("OPEN", [1, 2, 3])

    # When the parts are PUT to the fresh URLs and the sample complete event is sent with their ETags
    data = file_bytes(20_000_000)
    etags = put_parts(body, data)
    complete = _sample("complete", sample_asset, upload_id)
    sample_parts = json.loads(complete["body"])["parts"]
    assert [p["partNumber"] for p in sample_parts] == [1, 2, 3]
    complete["body"] = json.dumps({"parts": [{"partNumber": n, "etag": f'"{e}"'} for n, e in etags.items()]})
    status, completed = _invoke(complete)

    # Then 202 with one pipeline execution named by the upload, and the file stored whole
    assert status == 202, completed
    assert completed["status"] == "COMPLETED"
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]
    key = f"studios/{STUDIO}/assets/{sample_asset}/uploads/{upload_id}/sq010_sh020_anim_v012.mov"
    assert s3_object(key) == data

    # When the sample abort event targets the completed upload / Then 409: a version is never aborted
    status, body = _invoke(_sample("abort", sample_asset, upload_id))
    assert status == 409 and body["error"]["code"] == "UPLOAD_COMPLETED"

    # When it targets a freshly opened upload / Then 204, and the upload reads ABORTED
    _, second = _invoke(_sample("open", sample_asset))
    status, _ = _invoke(_sample("abort", sample_asset, second["uploadId"]))
    assert status == 204
    _, aborted = _invoke(_sample("status", sample_asset, second["uploadId"]))
    assert (aborted["status"], aborted["failureReason"]) == ("ABORTED", "ABORTED")


def test_the_sample_events_of_another_studio_find_nothing(sample_asset: str) -> None:
    # Given an upload opened with the sample open event
    _, opened = _invoke(_sample("open", sample_asset))
    for name in ("status", "abort"):
        event = _sample(name, sample_asset, opened["uploadId"])
        # And the sample event with the caller's studio swapped for another one
        event["requestContext"]["authorizer"]["studioId"] = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"

        # When invoked / Then 404 in the error shape: another studio's upload simply is not found
        status, body = _invoke(event)
        assert status == 404, body
        assert body["error"]["code"] == "UPLOAD_NOT_FOUND"
        assert body["error"]["correlationId"] == event["headers"]["X-Correlation-Id"]

    # And the upload is untouched for its own studio
    status, body = _invoke(_sample("status", sample_asset, opened["uploadId"]))
    assert (status, body["status"]) == (200, "OPEN")
