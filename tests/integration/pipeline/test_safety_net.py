"""The pipeline safety net: an execution that ends outside its Catch (timed out, aborted) still fails its
run and a version left PROCESSING, through the EventBridge "Step Functions Execution Status Change" event
sent to ``pipeline-mark-failed`` (``events/pipeline/execution_status_change.json``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from keyframe.catalog.versions import get_version
from keyframe.local import lambdas
from keyframe.pipeline import service, starter, status
from keyframe.pipeline.tasks import EXECUTION_EVENT
from tests.integration.pipeline.conftest import Place, Uploader, sample_event


def execution_ended(event: dict[str, Any], status_name: str, arn: str | None = None) -> dict[str, Any]:
    """The sample status change for the execution of ``event`` (a task input), ended ``status_name``."""
    ended = copy.deepcopy(sample_event("execution_status_change"))
    ended["detail"].update(status=status_name, input=json.dumps(event))
    if arn:
        ended["detail"]["executionArn"] = arn
    return ended


def _published(stored_upload: Uploader, samples: dict[str, Path]) -> dict[str, Any]:
    event = stored_upload(samples["wav"], "dialogue.wav", "audio/wav")
    event["validation"] = lambdas.invoke("pipeline-validate", event)
    event["published"] = lambdas.invoke("pipeline-publish", event)
    return event


def test_the_sample_event_carries_the_pipeline_input() -> None:
    event = sample_event("execution_status_change")
    assert (event["source"], event["detail-type"]) == ("aws.states", EXECUTION_EVENT)
    assert event["resources"] == [event["detail"]["executionArn"]]
    assert json.loads(event["detail"]["input"])["uploadId"] == event["detail"]["name"]


@pytest.mark.parametrize(("ended", "code"), [("TIMED_OUT", "TIMEOUT"), ("ABORTED", "PIPELINE_ABORTED")])
def test_an_execution_that_died_in_derive_fails_the_run_and_the_version(
    place: Place, stored_upload: Uploader, samples: dict[str, Path], ended: str, code: str
) -> None:
    # Given a published version whose Derive was running when the execution ended outside its Catch
    event = _published(stored_upload, samples)
    service.step_started(place.studio_id, event["uploadId"], "derive")

    # When the safety net's event reaches pipeline-mark-failed
    result = lambdas.invoke("pipeline-mark-failed", execution_ended(event, ended))

    # Then the run and version 1 are FAILED with the code, and a reprocess may be asked again
    assert (result["code"], result["failedStep"]) == (code, "derive")
    pipeline = status.for_upload(place.studio_id, event["uploadId"])
    assert pipeline["status"] == "FAILED" and pipeline["error"]["code"] == code
    assert [s["status"] for s in pipeline["steps"]] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED"]
    version = get_version(place.studio_id, place.asset_id, 1)
    assert (version.status, version.error.code) == ("FAILED", code)
    assert not service.is_active(service.require(place.studio_id, event["uploadId"]))


def test_a_pipeline_that_already_finished_is_untouched(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    # Given a pipeline that failed through its Catch (MarkFailed ran; the execution then FAILED)
    event = _published(stored_upload, samples)
    failed = sample_event(
        "mark_failed_batch_error", **{k: event[k] for k in ("studioId", "assetId", "uploadId")}
    )
    first = lambdas.invoke("pipeline-mark-failed", failed)
    before = status.for_upload(place.studio_id, event["uploadId"])

    # When the execution's FAILED status change arrives
    result = lambdas.invoke("pipeline-mark-failed", execution_ended(event, "FAILED"))

    # Then nothing changes: same error, same end time, same version error
    assert result["code"] is None
    assert status.for_upload(place.studio_id, event["uploadId"]) == before
    assert get_version(place.studio_id, place.asset_id, 1).error.code == first["code"]


def test_a_late_event_of_an_old_execution_leaves_a_newer_reprocess_run_alone(
    place: Place, stored_upload: Uploader, samples: dict[str, Path], state_machine: str
) -> None:
    # Given a READY version (a scene: no derive) whose reprocess run is RUNNING
    event = stored_upload(samples["usdz"], "set.usdz", "model/vnd.usdz+zip")
    event["validation"] = lambdas.invoke("pipeline-validate", event)
    event["published"] = lambdas.invoke("pipeline-publish", event)
    lambdas.invoke("pipeline-finalize", event)
    _, started = starter.start_reprocess(place.studio_id, place.asset_id, 1, place.user_id)
    old_arn = started.execution_arn.rsplit(":", 1)[0] + f":{event['uploadId']}"

    # When the first run's execution reports ABORTED late
    result = lambdas.invoke("pipeline-mark-failed", execution_ended(event, "ABORTED", old_arn))

    # Then the rerun keeps running and the version stays READY
    assert result["code"] is None
    assert status.for_upload(place.studio_id, event["uploadId"])["status"] == "RUNNING"
    assert get_version(place.studio_id, place.asset_id, 1).status == "READY"


def test_a_reprocess_run_that_timed_out_leaves_the_ready_version_alone(
    place: Place, stored_upload: Uploader, samples: dict[str, Path], state_machine: str
) -> None:
    # Given a READY version whose reprocess run is RUNNING
    event = stored_upload(samples["usdz"], "set.usdz", "model/vnd.usdz+zip")
    event["validation"] = lambdas.invoke("pipeline-validate", event)
    event["published"] = lambdas.invoke("pipeline-publish", event)
    lambdas.invoke("pipeline-finalize", event)
    _, started = starter.start_reprocess(place.studio_id, place.asset_id, 1, place.user_id)

    # When its execution times out
    result = lambdas.invoke(
        "pipeline-mark-failed", execution_ended({**event, "run": 2}, "TIMED_OUT", started.execution_arn)
    )

    # Then the run is FAILED (reprocess can be asked again) and the version is still READY
    assert result["code"] == "TIMEOUT"
    assert status.for_upload(place.studio_id, event["uploadId"])["status"] == "FAILED"
    assert get_version(place.studio_id, place.asset_id, 1).status == "READY"
