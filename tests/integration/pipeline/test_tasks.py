"""The pipeline's task handlers, called as Step Functions calls them, on moto.

Each test drives the real ``functions/pipeline_tasks/*/handler.py`` with an event from ``events/pipeline/``
and checks what a user would see: the version's status, the pipeline's steps, the stored objects.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from keyframe.catalog.versions import get_version
from keyframe.errors import Conflict
from keyframe.events.publisher import room_events
from keyframe.local import lambdas
from keyframe.media import derive as derive_module
from keyframe.media.errors import ChecksumMismatchError, InvalidMediaError, TypeMismatchError
from keyframe.media.ffmpeg import MediaToolError
from keyframe.media.worker import EXIT_INVALID_INPUT, EXIT_OK
from keyframe.pipeline import status, tasks
from keyframe.pipeline.derive_step import LAMBDA_DERIVE_MAX_BYTES, DeriveHandedToBatch, run_derive
from tests.integration.pipeline.conftest import Place, Uploader, object_exists, sample_event
from tests.support.environment import MEDIA_BUCKET
from tests.unit.media.samples import truncate, video_clip


def _steps(place: Place, upload_id: str) -> dict[str, dict[str, Any]]:
    found = status.for_upload(place.studio_id, upload_id)
    assert found is not None
    return {step["name"]: step for step in found["steps"]}


class _LocalFileS3:
    """boto3 S3 whose presigned GET is a local copy: FFmpeg (a subprocess) cannot reach in-process moto."""

    def __init__(self, folder: Path) -> None:
        self.client = boto3.client("s3")
        self.folder = folder

    def generate_presigned_url(self, _operation: str, Params: dict[str, str], ExpiresIn: int) -> str:
        target = self.folder / Path(Params["Key"]).name
        self.client.download_file(Params["Bucket"], Params["Key"], str(target))
        return str(target)

    def upload_file(self, *args: Any, **kwargs: Any) -> None:
        self.client.upload_file(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # Validate's reads, when it was imported after the patch
        return getattr(self.client, name)


@pytest.fixture
def local_ffmpeg_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(derive_module, "s3_client", lambda: _LocalFileS3(tmp_path))


def _validated_and_published(stored_upload: Uploader, source: Path | bytes, name: str, ctype: str) -> dict:
    event = stored_upload(source, name, ctype)
    event["validation"] = lambdas.invoke("pipeline-validate", event)
    event["published"] = lambdas.invoke("pipeline-publish", event)
    return event


def test_validate_accepts_a_real_mp4(place: Place, stored_upload: Uploader, samples: dict[str, Path]) -> None:
    # Given a real MP4 uploaded with its SHA-256
    event = stored_upload(samples["mp4"], "shot_010.mp4", "video/mp4")

    # When Validate runs
    result = lambdas.invoke("pipeline-validate", event)

    # Then it is a video/mp4, the step SUCCEEDED and clients were told
    assert result == {
        "kind": "video",
        "format": "mp4",
        "contentType": "video/mp4",
        "size": samples["mp4"].stat().st_size,
    }
    validate = _steps(place, event["uploadId"])["validate"]
    assert validate["status"] == "SUCCEEDED" and validate["attempts"] == 1
    updates = [
        e for e in room_events(place.studio_id, f"asset:{place.asset_id}") if e["type"] == "pipeline:update"
    ]
    assert [u["data"].get("changedStep") for u in updates][-2:] == ["validate", "validate"]
    assert updates[-1]["data"]["steps"][0]["status"] == "SUCCEEDED"


def test_validate_rejects_a_zip_renamed_mp4(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    event = stored_upload(samples["zip"], "shot_010.mp4", "video/mp4")

    with pytest.raises(TypeMismatchError) as raised:
        lambdas.invoke("pipeline-validate", event)

    assert "archive (zip)" in raised.value.message
    validate = _steps(place, event["uploadId"])["validate"]
    assert validate["status"] == "FAILED"
    assert validate["error"]["code"] == "TYPE_MISMATCH"


def test_validate_rejects_a_truncated_mp4(place: Place, stored_upload: Uploader, tmp_path: Path) -> None:
    clip = video_clip(tmp_path / "whole.mp4", seconds=1, size="320x240")
    event = stored_upload(truncate(clip, tmp_path / "cut.mp4"), "cut.mp4", "video/mp4")

    with pytest.raises(InvalidMediaError, match="truncated"):
        lambdas.invoke("pipeline-validate", event)

    assert _steps(place, event["uploadId"])["validate"]["error"]["code"] == "INVALID_MEDIA"


def test_validate_checks_the_declared_sha256(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    event = stored_upload(samples["wav"], "dialogue.wav", "audio/wav", sha256="0" * 64)

    with pytest.raises(ChecksumMismatchError):
        lambdas.invoke("pipeline-validate", event)

    assert _steps(place, event["uploadId"])["validate"]["error"]["code"] == "CHECKSUM_MISMATCH"


def test_publish_creates_consecutive_versions_once_per_upload(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    # Given two validated uploads of the same asset
    first = stored_upload(samples["png"], "frame.png", "image/png")
    second = stored_upload(samples["jpeg"], "frame.jpg", "image/jpeg")
    for event in (first, second):
        event["validation"] = lambdas.invoke("pipeline-validate", event)

    # When each is published (the first one twice, as a Step Functions retry would)
    one = lambdas.invoke("pipeline-publish", first)
    again = lambdas.invoke("pipeline-publish", first)
    two = lambdas.invoke("pipeline-publish", second)

    # Then they are versions 1 and 2, PROCESSING, with the real content type, and findable by version
    assert (one, again, two) == ({"version": 1}, {"version": 1}, {"version": 2})
    version = get_version(place.studio_id, place.asset_id, 1)
    assert version.status == "PROCESSING"
    assert version.file.content_type == "image/png"
    assert version.upload_id == first["uploadId"]
    assert status.for_version(place.studio_id, place.asset_id, 2)["uploadId"] == second["uploadId"]


def test_derive_then_finalize_makes_the_version_ready(
    place: Place, stored_upload: Uploader, tmp_path: Path, local_ffmpeg_s3: None
) -> None:
    # Given a published 2 s 640x360 video with sound
    clip = video_clip(tmp_path / "clip.mp4", seconds=2, size="640x360")
    event = _validated_and_published(stored_upload, clip, "shot_010.mp4", "video/mp4")

    # When the media worker derives it and Finalize runs
    assert run_derive(place.studio_id, event["uploadId"]) == EXIT_OK
    result = lambdas.invoke("pipeline-finalize", sample_event("finalize", **event))

    # Then version 1 is READY and current, with the probed metadata and its derivatives in the bucket
    assert result == {"version": 1, "status": "READY"}
    version = get_version(place.studio_id, place.asset_id, 1)
    assert version.status == "READY"
    assert version.media["kind"] == "video" and version.media["format"] == "mp4"
    assert abs(version.media["duration"] - 2.0) < 0.1
    assert (version.media["width"], version.media["height"], version.media["fps"]) == (640, 360, 24.0)
    prefix = f"studios/{place.studio_id}/assets/{place.asset_id}/versions/1/derived/"
    assert version.derived == {"thumbnail": prefix + "thumbnail.jpg", "proxy": prefix + "proxy.mp4"}
    thumbnail = boto3.client("s3").get_object(Bucket=MEDIA_BUCKET, Key=version.derived["thumbnail"])
    assert thumbnail["ContentType"] == "image/jpeg"
    assert thumbnail["Body"].read()[:3] == b"\xff\xd8\xff"
    pipeline = status.for_version(place.studio_id, place.asset_id, 1)
    assert pipeline["status"] == "SUCCEEDED"
    assert [s["status"] for s in pipeline["steps"]] == ["SUCCEEDED"] * 4


def test_a_scene_file_skips_derive(place: Place, stored_upload: Uploader, samples: dict[str, Path]) -> None:
    event = _validated_and_published(stored_upload, samples["usdz"], "set.usdz", "model/vnd.usdz+zip")

    lambdas.invoke("pipeline-finalize", event)

    version = get_version(place.studio_id, place.asset_id, 1)
    assert version.status == "READY"
    assert version.media == {"kind": "scene", "format": "usdz", "contentType": "model/vnd.usdz+zip"}
    assert _steps(place, event["uploadId"])["derive"]["status"] == "SKIPPED"


def test_derive_refuses_an_undecodable_file_with_exit_code_3(
    place: Place, stored_upload: Uploader, local_ffmpeg_s3: None
) -> None:
    # Given bytes that pass the header checks but hold no decodable stream
    garbage = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + b"\x00\xff" * 4000
    event = _validated_and_published(stored_upload, garbage, "broken.mkv", "video/x-matroska")

    # When the worker runs, Then it exits 3 (Batch does not retry) and records why
    assert run_derive(place.studio_id, event["uploadId"]) == EXIT_INVALID_INPUT
    derive_step = _steps(place, event["uploadId"])["derive"]
    assert derive_step["status"] == "FAILED"
    assert derive_step["error"]["code"] == "INVALID_MEDIA"


def test_mark_failed_fails_the_version_and_keeps_the_original(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    # Given a published upload whose Batch job refused it
    event = _validated_and_published(stored_upload, samples["wav"], "dialogue.wav", "audio/wav")
    failed = sample_event(
        "mark_failed_batch_error", **{k: event[k] for k in ("studioId", "assetId", "uploadId")}
    )

    # When MarkFailed runs
    result = lambdas.invoke("pipeline-mark-failed", failed)

    # Then the pipeline and version 1 are FAILED with the same code and message, and the file is kept
    assert result["code"] == "INVALID_MEDIA" and result["failedStep"] == "derive"
    version = get_version(place.studio_id, place.asset_id, 1)
    assert version.status == "FAILED"
    assert (version.error.code, version.error.message) == (result["code"], result["message"])
    pipeline = status.for_upload(place.studio_id, event["uploadId"])
    assert pipeline["status"] == "FAILED"
    assert pipeline["error"] == {"code": "INVALID_MEDIA", "message": result["message"]}
    assert [s["status"] for s in pipeline["steps"]] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED"]
    assert object_exists(event["key"])


def test_mark_failed_after_validation_keeps_the_step_error(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    # Given an upload Validate refused (no version was published)
    event = stored_upload(samples["zip"], "clip.mp4", "video/mp4")
    with pytest.raises(TypeMismatchError) as raised:
        lambdas.invoke("pipeline-validate", event)
    failed = sample_event(
        "mark_failed_lambda_error", **{k: event[k] for k in ("studioId", "assetId", "uploadId")}
    )

    # When MarkFailed runs
    lambdas.invoke("pipeline-mark-failed", failed)

    # Then the pipeline says exactly what Validate said, the rest was skipped, the file stays
    pipeline = status.for_upload(place.studio_id, event["uploadId"])
    assert pipeline["status"] == "FAILED"
    assert pipeline["error"] == {"code": "TYPE_MISMATCH", "message": raised.value.message}
    assert "version" not in pipeline
    assert [s["status"] for s in pipeline["steps"]] == ["FAILED", "SKIPPED", "SKIPPED", "SKIPPED"]
    assert object_exists(event["key"])


def test_another_studio_cannot_see_a_pipeline(
    place: Place, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    event = stored_upload(samples["png"], "frame.png", "image/png")
    assert status.for_upload(place.studio_id, event["uploadId"]) is not None
    assert status.for_upload("another-studio", event["uploadId"]) is None


def test_temporary_folders_are_cleaned_up(
    place: Place,
    stored_upload: Uploader,
    samples: dict[str, Path],
    local_ffmpeg_s3: None,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a private temporary folder: other processes (the e2e stack's derives) share the system one
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(Path(tempfile.gettempdir()).glob("keyframe-derive-*"))
    event = _validated_and_published(stored_upload, samples["png"], "frame.png", "image/png")
    assert run_derive(place.studio_id, event["uploadId"]) == EXIT_OK
    assert set(Path(tempfile.gettempdir()).glob("keyframe-derive-*")) == before


def test_the_lambda_derive_makes_the_same_version_ready(
    place: Place, stored_upload: Uploader, tmp_path: Path, local_ffmpeg_s3: None
) -> None:
    # Given a published 2 s 640x360 video with sound (under the fast path's size threshold)
    clip = video_clip(tmp_path / "clip.mp4", seconds=2, size="640x360")
    event = _validated_and_published(stored_upload, clip, "shot_011.mp4", "video/mp4")
    assert event["size"] <= LAMBDA_DERIVE_MAX_BYTES

    # When the DeriveInLambda task's function runs, then Finalize
    assert lambdas.invoke("pipeline-derive", event) == {"derivedIn": "lambda", "version": 1}
    result = lambdas.invoke("pipeline-finalize", sample_event("finalize", **event))

    # Then the version is READY with its thumbnail and proxy, the derive step recorded once
    assert result == {"version": 1, "status": "READY"}
    version = get_version(place.studio_id, place.asset_id, 1)
    prefix = f"studios/{place.studio_id}/assets/{place.asset_id}/versions/1/derived/"
    assert version.derived == {"thumbnail": prefix + "thumbnail.jpg", "proxy": prefix + "proxy.mp4"}
    derive_step = _steps(place, event["uploadId"])["derive"]
    assert derive_step["status"] == "SUCCEEDED" and derive_step["attempts"] == 1


def test_the_lambda_derive_fails_an_undecodable_file_without_handing_it_to_batch(
    place: Place, stored_upload: Uploader, local_ffmpeg_s3: None
) -> None:
    # Given bytes that pass the header checks but hold no decodable stream
    garbage = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + b"\x00\xff" * 4000
    event = _validated_and_published(stored_upload, garbage, "broken.mkv", "video/x-matroska")

    # When the fast path runs, Then it raises InvalidMediaError (the state machine's MarkFailed catch,
    # not its Batch catch) and the step is recorded FAILED with INVALID_MEDIA
    with pytest.raises(InvalidMediaError):
        lambdas.invoke("pipeline-derive", event)
    assert _steps(place, event["uploadId"])["derive"]["error"]["code"] == "INVALID_MEDIA"


def test_a_lambda_derive_failure_that_is_not_the_file_hands_the_step_to_batch(
    place: Place,
    stored_upload: Uploader,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    local_ffmpeg_s3: None,
) -> None:
    # Given FFmpeg that fails for a machine reason (killed)
    clip = video_clip(tmp_path / "clip.mp4", seconds=1, size="320x240")
    event = _validated_and_published(stored_upload, clip, "shot_012.mp4", "video/mp4")

    def killed(*_args: Any, **_kwargs: Any) -> None:
        raise MediaToolError("FFmpeg failed making the proxy: killed")

    # When the fast path runs, Then it raises DeriveHandedToBatch (caught into Derive on Batch),
    # and the Batch worker then derives it: the same step SUCCEEDED on its second attempt
    with monkeypatch.context() as patched:
        patched.setattr(derive_module.ffmpeg, "run", killed)
        with pytest.raises(DeriveHandedToBatch):
            lambdas.invoke("pipeline-derive", event)
    assert run_derive(place.studio_id, event["uploadId"]) == EXIT_OK
    derive_step = _steps(place, event["uploadId"])["derive"]
    assert derive_step["status"] == "SUCCEEDED" and derive_step["attempts"] == 2


def test_the_lambda_derive_makes_what_the_record_says_when_the_input_disagrees(
    place: Place, stored_upload: Uploader, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a published clip whose execution input names another kind than the record holds
    clip = video_clip(tmp_path / "clip.mp4", seconds=1, size="320x240")
    event = _validated_and_published(stored_upload, clip, "shot_013.mp4", "video/mp4")
    event["validation"] = {**event["validation"], "kind": "image"}
    monkeypatch.setattr(derive_module, "s3_client", lambda: _LocalFileS3(tmp_path))

    # When the fast path runs (FFmpeg starts on the input's source before the record is read)
    assert lambdas.invoke("pipeline-derive", event) == {"derivedIn": "lambda", "version": 1}

    # Then the derivatives recorded are the record's (a video's: thumbnail and proxy), made once
    # more after the read
    prefix = f"studios/{place.studio_id}/assets/{place.asset_id}/versions/1/derived/"
    found = status.for_upload(place.studio_id, event["uploadId"])
    assert found is not None and found["steps"][2]["status"] == "SUCCEEDED"
    assert object_exists(prefix + "proxy.mp4")
    assert object_exists(prefix + "thumbnail.jpg")


def test_the_lambda_derive_publishes_a_validated_upload_while_ffmpeg_runs(
    place: Place, stored_upload: Uploader, tmp_path: Path, local_ffmpeg_s3: None
) -> None:
    # Given a validated clip not yet published (the execution state DeriveInLambda gets in a full run)
    clip = video_clip(tmp_path / "clip.mp4", seconds=1, size="320x240")
    event = stored_upload(clip, "shot_014.mp4", "video/mp4")
    event["validation"] = lambdas.invoke("pipeline-validate", event)

    # When the DeriveInLambda task's function runs, then Finalize
    assert lambdas.invoke("pipeline-derive", event) == {"derivedIn": "lambda", "version": 1}
    assert lambdas.invoke("pipeline-finalize", sample_event("finalize", **event)) == {
        "version": 1,
        "status": "READY",
    }

    # Then version 1 was published once and is READY with its derivatives; every step ran once
    version = get_version(place.studio_id, place.asset_id, 1)
    assert version.status == "READY" and set(version.derived or {}) == {"thumbnail", "proxy"}
    steps = _steps(place, event["uploadId"])
    assert [steps[name]["attempts"] for name in ("validate", "publish", "derive", "finalize")] == [1, 1, 1, 1]
    assert all(step["status"] == "SUCCEEDED" for step in steps.values())
    # a failed fast path publishes again in the Publish task: the same version, not a second one
    assert lambdas.invoke("pipeline-publish", event) == {"version": 1}


def test_a_refused_publish_in_the_lambda_derive_fails_the_run_not_batch(
    place: Place,
    stored_upload: Uploader,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    local_ffmpeg_s3: None,
) -> None:
    # Given a validated clip whose asset refuses a new version (archived meanwhile, say)
    clip = video_clip(tmp_path / "clip.mp4", seconds=1, size="320x240")
    event = stored_upload(clip, "shot_015.mp4", "video/mp4")
    event["validation"] = lambdas.invoke("pipeline-validate", event)

    def refused(*_args: Any, **_kwargs: Any) -> None:
        raise Conflict("The asset is archived")

    monkeypatch.setattr(tasks, "publish_version", refused)

    # When the DeriveInLambda task's function runs
    with pytest.raises(Exception) as raised:
        lambdas.invoke("pipeline-derive", event)

    # Then it raises PublishFailed (the state machine's MarkFailed catch) and nothing was derived
    assert type(raised.value).__name__ == "PublishFailed"
    steps = _steps(place, event["uploadId"])
    assert steps["publish"]["status"] == "FAILED"
    assert steps["derive"]["status"] == "PENDING"
