"""A pipeline whose execution was running when the local stack stopped fails with PIPELINE_ABORTED on
the next start (``keyframe.local.snapshot_restore.abort_interrupted``, the local safety net)."""

from __future__ import annotations

import json
from pathlib import Path

from keyframe.catalog.versions import get_version
from keyframe.local import lambdas, snapshot_restore
from keyframe.pipeline import service, status
from tests.integration.pipeline.conftest import Place, Uploader

ARN = "arn:aws:states:us-east-1:123456789012:{}:keyframe-local-asset-pipeline{}"


def test_an_execution_running_at_stop_fails_its_run_and_version_with_pipeline_aborted(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    # Given a published version whose Derive was running when the stack stopped
    event = stored_upload(samples["wav"], "dialogue.wav", "audio/wav")
    event["validation"] = lambdas.invoke("pipeline-validate", event)
    event["published"] = lambdas.invoke("pipeline-publish", event)
    service.step_started(place.studio_id, event["uploadId"], "derive")
    interrupted = {
        "executionArn": ARN.format("execution", f":{event['uploadId']}"),
        "stateMachineArn": ARN.format("stateMachine", ""),
        "name": event["uploadId"],
        "input": json.dumps(event),
    }

    # When the next start tells the workflow
    told = snapshot_restore.abort_interrupted([interrupted], "local", lambdas.invoke)

    # Then the run and the version are FAILED with PIPELINE_ABORTED, and nothing is left active
    assert told == 1
    pipeline = status.for_upload(place.studio_id, event["uploadId"])
    assert pipeline["status"] == "FAILED" and pipeline["error"]["code"] == "PIPELINE_ABORTED"
    version = get_version(place.studio_id, place.asset_id, 1)
    assert (version.status, version.error.code) == ("FAILED", "PIPELINE_ABORTED")
    assert not service.is_active(service.require(place.studio_id, event["uploadId"]))
