"""Reprocessing a READY version: it stays READY (and current) while the rerun runs; a successful rerun
replaces its media and derived files, a failed one leaves them and records the failure on the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyframe.catalog.activity import list_activity
from keyframe.catalog.versions import get_version
from keyframe.events.publisher import room_events
from keyframe.local import lambdas
from keyframe.pipeline import service, starter, status
from tests.integration.pipeline.conftest import Place, Uploader, sample_event

OLD = {"thumbnail": "old/thumbnail.jpg"}


@pytest.fixture
def reprocessing(place: Place, stored_upload: Uploader, samples: dict[str, Path], state_machine: str) -> dict:
    """Version 1 READY (derived ``OLD``), then a reprocess asked by ``reviewer-1`` and its Derive done."""
    event = stored_upload(samples["usdz"], "set.usdz", "model/vnd.usdz+zip")
    event["validation"] = lambdas.invoke("pipeline-validate", event)
    event["published"] = lambdas.invoke("pipeline-publish", event)
    service.step_succeeded(place.studio_id, event["uploadId"], "derive", *service.set_derived({}, OLD))
    lambdas.invoke("pipeline-finalize", event)
    assert get_version(place.studio_id, place.asset_id, 1).derived == OLD
    starter.start_reprocess(place.studio_id, place.asset_id, 1, "reviewer-1")
    return {**event, "mode": "reprocess", "run": 2}


def test_a_successful_reprocess_replaces_the_derived_files_and_keeps_the_version_ready(
    place: Place, reprocessing: dict
) -> None:
    # Given a rerun whose Derive made new files, while the version stayed READY
    assert get_version(place.studio_id, place.asset_id, 1).status == "READY"
    new = {"thumbnail": "new/run-2/thumbnail.jpg"}
    upload_id = reprocessing["uploadId"]
    service.step_started(place.studio_id, upload_id, "derive")
    service.step_succeeded(place.studio_id, upload_id, "derive", *service.set_derived({"width": 64}, new))

    # When Finalize runs
    result = lambdas.invoke("pipeline-finalize", sample_event("finalize", **reprocessing))

    # Then the version is READY with the new files and metadata, the run SUCCEEDED, and the
    # activity names the user who asked
    assert result == {"version": 1, "status": "READY"}
    version = get_version(place.studio_id, place.asset_id, 1)
    assert (version.status, version.derived, version.media["width"]) == ("READY", new, 64)
    assert status.for_upload(place.studio_id, upload_id)["status"] == "SUCCEEDED"
    entries = list_activity(place.studio_id, asset_id=place.asset_id).items
    assert [(e.action, e.actor) for e in entries if e.action.startswith("version:reprocess")] == [
        ("version:reprocessed", "reviewer-1"),
        ("version:reprocessing", "reviewer-1"),
    ]


def test_a_failed_reprocess_keeps_the_version_ready_with_its_previous_files(
    place: Place, reprocessing: dict
) -> None:
    # Given a rerun whose Batch job failed
    upload_id = reprocessing["uploadId"]
    service.step_started(place.studio_id, upload_id, "derive")
    failed = sample_event(
        "mark_failed_batch_error", **{k: reprocessing[k] for k in ("studioId", "assetId", "uploadId")}
    )

    # When MarkFailed runs
    result = lambdas.invoke("pipeline-mark-failed", failed)

    # Then the version is still READY and current with its previous files; the failure is on the run
    version = get_version(place.studio_id, place.asset_id, 1)
    assert (version.status, version.derived, version.error) == ("READY", OLD, None)
    pipeline = status.for_upload(place.studio_id, upload_id)
    assert pipeline["status"] == "FAILED" and pipeline["run"] == 2
    assert pipeline["error"] == {"code": result["code"], "message": result["message"]}
    updates = [
        e for e in room_events(place.studio_id, f"asset:{place.asset_id}") if e["type"] == "pipeline:update"
    ]
    assert updates[-1]["data"]["status"] == "FAILED" and updates[-1]["data"]["run"] == 2
