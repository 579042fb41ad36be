"""The pipeline routes through the real gateway and authorizer, and starting executions on moto."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from keyframe.catalog.activity import list_activity
from keyframe.catalog.versions import get_version
from keyframe.local import lambdas
from keyframe.outbox.records import OutboxItem, outbox_pk
from keyframe.pipeline import service as pipeline_service
from keyframe.pipeline import starter, status
from keyframe.pipeline.starter import PipelineInput, PipelineStart, start_pipeline
from tests.integration.pipeline.conftest import Place, Uploader, make_place
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import Session, add_member, register_studio


@pytest.fixture
def admin(api) -> Session:
    return register_studio(api)


@pytest.fixture
def studio_place(admin: Session) -> Place:
    return make_place(admin.studio_id, admin.user_id)


@pytest.fixture
def ready_version(stored_upload: Uploader, studio_place: Place, samples: dict[str, Path]) -> dict:
    """Version 1 of the studio's asset, made READY by the pipeline's tasks (a USDZ: no derive)."""
    event = stored_upload(samples["usdz"], "set.usdz", "model/vnd.usdz+zip", where=studio_place)
    event["validation"] = lambdas.invoke("pipeline-validate", event)
    event["published"] = lambdas.invoke("pipeline-publish", event)
    lambdas.invoke("pipeline-finalize", event)
    return event


def test_get_pipeline_shows_the_steps(api, admin: Session, studio_place: Place, ready_version: dict) -> None:
    # Given a version made by the pipeline
    event = ready_version

    # When a VIEWER of the studio asks for its pipeline
    viewer = add_member(api, admin, "VIEWER")
    response = api.get(f"/assets/{studio_place.asset_id}/versions/1/pipeline", token=viewer.access_token)

    # Then the steps are listed in order with their times
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "SUCCEEDED"
    assert body["uploadId"] == event["uploadId"]
    assert (body["kind"], body["format"], body["version"], body["run"]) == ("scene", "usdz", 1, 1)
    assert [(s["name"], s["status"]) for s in body["steps"]] == [
        ("validate", "SUCCEEDED"),
        ("publish", "SUCCEEDED"),
        ("derive", "SKIPPED"),
        ("finalize", "SUCCEEDED"),
    ]
    assert (
        body["steps"][0]["startedAt"].endswith("Z")
        and body["steps"][0]["endedAt"] >= body["steps"][0]["startedAt"]
    )
    assert body.get("error") is None
    # And its revision counts its changes: one per pipeline:update stored with them, the last one's
    updates = [
        item.data
        for item in OutboxItem.query(outbox_pk(studio_place.studio_id))
        if item.event_type == "pipeline:update" and item.data["uploadId"] == event["uploadId"]
    ]
    assert sorted(u["revision"] for u in updates) == list(range(1, len(updates) + 1))
    assert body["revision"] == len(updates) >= 7


def test_pipelines_of_other_studios_and_unknown_versions_are_404(
    api, admin: Session, studio_place: Place, ready_version: dict
) -> None:
    stranger = register_studio(api)

    for token, version in ((stranger.access_token, 1), (admin.access_token, 2)):
        response = api.get(f"/assets/{studio_place.asset_id}/versions/{version}/pipeline", token=token)
        assert response.status == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert api.get(f"/assets/{studio_place.asset_id}/versions/1/pipeline").status == 401


def test_reprocess_starts_a_new_run_at_derive(
    api, admin: Session, studio_place: Place, ready_version: dict, state_machine: str
) -> None:
    # Given a READY version
    event = ready_version
    path = f"/assets/{studio_place.asset_id}/versions/1/reprocess"

    # When an ARTIST asks to reprocess it
    artist = add_member(api, admin, "ARTIST")
    response = api.post(path, token=artist.access_token)

    # Then 202 names execution {uploadId}-reprocess-1, the version stays READY (the rerun is on the
    # pipeline record), the new run shows Validate and Publish skipped, and the artist is the actor
    assert response.status == 202, response.body
    body = response.json()
    assert body["executionArn"].endswith(f":{event['uploadId']}-reprocess-1")
    assert (body["run"], body["version"], body["uploadId"]) == (2, 1, event["uploadId"])
    assert get_version(studio_place.studio_id, studio_place.asset_id, 1).status == "READY"
    entries = list_activity(studio_place.studio_id, asset_id=studio_place.asset_id).items
    reprocessing = [e for e in entries if e.action == "version:reprocessing"]
    assert [e.actor for e in reprocessing] == [artist.user_id]
    run = status.for_version(studio_place.studio_id, studio_place.asset_id, 1)
    assert run["run"] == 2 and run["status"] == "RUNNING"
    assert [s["status"] for s in run["steps"]] == ["SKIPPED", "SKIPPED", "PENDING", "PENDING"]
    execution = boto3.client("stepfunctions").describe_execution(executionArn=body["executionArn"])
    assert '"mode": "reprocess"' in execution["input"]

    # And a second request while it runs is refused
    again = api.post(path, token=artist.access_token)
    assert again.status == 409


def test_viewers_cannot_reprocess(
    api, admin: Session, studio_place: Place, ready_version: dict, state_machine: str
) -> None:
    viewer = add_member(api, admin, "VIEWER")
    response = api.post(f"/assets/{studio_place.asset_id}/versions/1/reprocess", token=viewer.access_token)
    assert response.status == 403


def _upload_of(place: Place, upload_id: str) -> PipelineInput:
    key = f"studios/{place.studio_id}/assets/{place.asset_id}/uploads/{upload_id}/a.png"
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=b"\x89PNG\r\n\x1a\n")
    return PipelineInput(
        studio_id=place.studio_id,
        asset_id=place.asset_id,
        upload_id=upload_id,
        bucket=MEDIA_BUCKET,
        key=key,
        size=8,
        file_name="a.png",
        declared_content_type="image/png",
        created_by=place.user_id,
    )


def test_start_pipeline_runs_one_execution_per_upload(place: Place, state_machine: str) -> None:
    # Given a completed upload
    upload = _upload_of(place, "u-1")

    # When the uploads API starts its pipeline twice (a retried complete)
    first = start_pipeline(upload)
    second = start_pipeline(upload)

    # Then both name the same execution, and one pipeline record exists
    assert first.execution_arn == second.execution_arn
    assert first.execution_arn.endswith(":u-1")
    assert first.started_at.endswith("Z") or "T" in first.started_at
    found = status.for_upload(place.studio_id, "u-1")
    assert found["executionArn"] == first.execution_arn
    assert found["run"] == 1
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine)["executions"]
    assert [e["name"] for e in executions] == ["u-1"]


def test_a_start_that_step_functions_refused_is_started_by_the_retry(
    place: Place, state_machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload = _upload_of(place, "u-2")
    # Given Step Functions refuses the first start (the record is created first, holding the ARN the
    # execution will have)
    real_start = starter._start

    def refused(name: str, payload: dict) -> PipelineStart:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "StartExecution")

    monkeypatch.setattr(starter, "_start", refused)
    with pytest.raises(ClientError):
        start_pipeline(upload)
    pending = status.for_upload(place.studio_id, "u-2")
    assert pending["status"] == "PENDING" and pending["executionArn"].endswith(":u-2")

    # When the complete is retried / Then the same execution starts, once, and the record names it
    monkeypatch.setattr(starter, "_start", real_start)
    started = start_pipeline(upload)
    assert started.execution_arn == pending["executionArn"]
    assert status.for_upload(place.studio_id, "u-2")["executionArn"] == started.execution_arn
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine)["executions"]
    assert [e["name"] for e in executions] == ["u-2"]


def test_a_record_made_without_its_execution_arn_is_given_it_at_the_start(
    place: Place, state_machine: str
) -> None:
    # Given a pipeline record created without the execution's ARN (as releases before this one did)
    upload = _upload_of(place, "u-3")
    pipeline_service.create(upload)

    # When its pipeline is started / Then the record takes the execution and is RUNNING
    started = start_pipeline(upload)
    found = status.for_upload(place.studio_id, "u-3")
    assert found["executionArn"] == started.execution_arn and found["status"] == "RUNNING"


def test_a_reprocess_that_cannot_start_leaves_nothing_stuck(
    api, admin: Session, studio_place: Place, ready_version: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a READY version and a state machine that does not exist (Step Functions refuses)
    from keyframe import settings

    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:keyframe-test-missing"
    monkeypatch.setenv("ASSET_PIPELINE_STATE_MACHINE_ARN", missing)
    settings.reset()
    path = f"/assets/{studio_place.asset_id}/versions/1/reprocess"

    # When reprocess is asked, it fails ...
    assert api.post(path, token=admin.access_token).status == 500

    # ... and the run says so, so that asking again is allowed (not a 409); the version stays READY
    run = status.for_version(studio_place.studio_id, studio_place.asset_id, 1)
    assert run["status"] == "FAILED" and run["error"]["code"] == "PIPELINE_START_FAILED"
    assert get_version(studio_place.studio_id, studio_place.asset_id, 1).status == "READY"
    assert api.post(path, token=admin.access_token).status == 500
