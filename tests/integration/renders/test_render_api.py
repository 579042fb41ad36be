"""The render REST API on moto: request, idempotent replay, limits, cancel, retry, list, bad input."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from keyframe.renders import service, worker_writes
from keyframe.renders.jobs import PRESET_TIMEOUT_SECONDS
from keyframe.renders.models import RenderStatus
from tests.integration.renders.conftest import (
    Spy,
    Target,
    executions,
    invoke_task,
    set_env,
    task_event,
)
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import Session, add_member, register_studio


def _request(api: Any, session: Session, asset_id: str, body: dict[str, Any] | None = None, **kw: Any):
    return api.post(
        f"/assets/{asset_id}/renders", json=body or {"preset": "hls"}, token=session.access_token, **kw
    )


def test_a_render_request_answers_202_with_the_queued_job_and_starts_one_execution(
    api: Any, artist: Session, target: Target, runs: Spy
) -> None:
    # Given an ARTIST and a READY version
    # When they request an HLS render without naming the version
    response = _request(api, artist, target.asset_id, {"preset": "hls", "priority": "HIGH"})
    # Then the job is QUEUED, on the current version, with the exact source in its lineage
    assert response.status == 202, response.body
    job = response.json()
    assert job["status"] == "QUEUED" and job["progress"] == 0 and job["attempts"] == 1
    assert (job["assetId"], job["version"], job["preset"], job["priority"]) == (
        target.asset_id,
        1,
        "hls",
        "HIGH",
    )
    assert {k: v for k, v in job["lineage"].items() if v is not None} == {
        "assetId": target.asset_id,
        "version": 1,
        "key": target.key,
        "sha256": target.sha256,
        "sha256Verified": False,
        "size": job["lineage"]["size"],
    }
    assert job["frames"] == {"startFrame": 0, "endFrame": 48}
    assert job["createdBy"] == artist.user_id
    assert response.headers["Location"] == f"/renders/{job['renderJobId']}"
    # And one execution of attempt 1 was started with the job's ids
    started = executions()
    assert [e["name"] for e in started] == [f"{job['renderJobId']}-attempt-1"]
    assert set(started[0]["input"]) == set(task_event("start")), (
        "events/renders/start.json is the input's shape"
    )
    assert started[0]["input"] == {
        "studioId": artist.studio_id,
        "renderJobId": job["renderJobId"],
        "attempt": 1,
        "priority": "HIGH",
        "timeoutSeconds": PRESET_TIMEOUT_SECONDS[job["preset"]],
        "kind": "video",
    }
    # And reading it back gives the same job
    read = api.get(f"/renders/{job['renderJobId']}", token=artist.access_token).json()
    assert read["renderJobId"] == job["renderJobId"] and read["status"] == "QUEUED"


def test_the_lineage_records_the_s3_version_id_when_the_bucket_is_versioned(
    api: Any, admin: Session, publish_clip: Any, runs: Spy
) -> None:
    # Given a versioned bucket and a version stored in it
    boto3.client("s3").put_bucket_versioning(
        Bucket=MEDIA_BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    target = publish_clip(admin)
    # When a render is requested
    job = _request(api, admin, target.asset_id).json()
    # Then the lineage names the object's VersionId
    head = boto3.client("s3").head_object(Bucket=MEDIA_BUCKET, Key=target.key)
    assert job["lineage"]["s3VersionId"] == head["VersionId"]


def test_a_named_version_that_is_not_ready_answers_409(
    api: Any, admin: Session, target: Target, publish_clip: Any, runs: Spy
) -> None:
    # Given version 2 still PROCESSING
    publish_clip(admin, asset_id=target.asset_id, ready=False)
    # When it is asked for / Then 409 VERSION_NOT_READY; the current version 1 still renders
    response = _request(api, admin, target.asset_id, {"preset": "hls", "version": 2})
    assert response.status == 409 and response.json()["error"]["code"] == "VERSION_NOT_READY"
    assert _request(api, admin, target.asset_id, {"preset": "hls", "version": 1}).status == 202


def test_another_studios_asset_and_an_unknown_version_answer_404(
    api: Any, target: Target, admin: Session, runs: Spy
) -> None:
    stranger = register_studio(api, studio_name="Other")
    assert _request(api, stranger, target.asset_id).status == 404
    assert _request(api, admin, target.asset_id, {"preset": "hls", "version": 9}).status == 404
    assert executions() == []


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"preset": "gif"}, "VALIDATION_ERROR"),
    ({"preset": "hls", "options": {"sepia": True}}, "VALIDATION_ERROR"),
    ({"preset": "hls", "priority": "URGENT"}, "VALIDATION_ERROR"),
    ({"preset": "hls", "options": {"watermark": True}}, "UNSUPPORTED_OPTION"),
    ({"preset": "review-mp4", "options": {"frames": 4}}, "UNSUPPORTED_OPTION"),
    ({"preset": "hls", "options": {"startFrame": 10, "endFrame": 49}}, "TRIM_OUT_OF_RANGE"),
    ({"preset": "hls", "options": {"startTimecode": "00:00:02:00"}}, "TRIM_OUT_OF_RANGE"),
    ({"preset": "hls", "options": {"endTimecode": "00:00:01:30"}}, "INVALID_TIMECODE"),
    ({"preset": "filmstrip", "options": {"startFrame": 40, "frames": 10}}, "TOO_FEW_FRAMES"),
]


def test_bad_requests_answer_400_and_start_nothing(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a 48-frame READY version / When each bad request is sent / Then 400 with its code
    answers = []
    for body, _ in BAD_REQUESTS:
        response = _request(api, admin, target.asset_id, body)
        answers.append((response.status, response.json()["error"]["code"]))
    assert answers == [(400, code) for _, code in BAD_REQUESTS]
    # And nothing was queued or started
    assert executions() == [] and service.active_renders(admin.studio_id) == 0


def test_a_trim_inside_the_source_is_kept_as_frames(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    body = {"preset": "review-mp4", "options": {"startTimecode": "00:00:00:12", "endTimecode": "00:00:01:12"}}
    job = _request(api, admin, target.asset_id, body).json()
    assert job["frames"] == {"startFrame": 12, "endFrame": 36}
    assert job["options"] == {"startTimecode": "00:00:00:12", "endTimecode": "00:00:01:12"}


def test_viewers_read_renders_but_cannot_request_them(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    viewer = add_member(api, admin, "VIEWER")
    job = _request(api, admin, target.asset_id).json()
    assert _request(api, viewer, target.asset_id).status == 403
    assert api.get(f"/renders/{job['renderJobId']}", token=viewer.access_token).status == 200
    assert api.delete(f"/renders/{job['renderJobId']}", token=viewer.access_token).status == 403


def test_an_idempotent_replay_returns_the_same_job_and_starts_nothing_new(
    api: Any, artist: Session, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a request with an Idempotency-Key
    headers = {"Idempotency-Key": "render-abc-123"}
    first = _request(api, artist, target.asset_id, {"preset": "hls"}, headers=headers)
    assert first.status == 202 and first.headers["Idempotency-Replayed"] == "false"
    # When it is replayed with the same body
    again = _request(api, artist, target.asset_id, {"preset": "hls"}, headers=headers)
    # Then the same job comes back and only one execution exists
    assert again.status == 202 and again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["renderJobId"] == first.json()["renderJobId"]
    assert len(executions()) == 1
    # And the same key with another body is refused
    other = _request(api, artist, target.asset_id, {"preset": "review-mp4"}, headers=headers)
    assert other.status == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # And the same key from another user is another request
    mine = _request(api, admin, target.asset_id, {"preset": "hls"}, headers=headers)
    assert mine.status == 202 and mine.json()["renderJobId"] != first.json()["renderJobId"]


def test_a_failed_first_request_does_not_bind_its_idempotency_key(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    assert (
        _request(api, admin, target.asset_id, {"preset": "hls", "version": 7}, headers=headers).status == 404
    )
    assert (
        _request(api, admin, target.asset_id, {"preset": "hls", "version": 7}, headers=headers).status == 404
    )
    assert (
        _request(api, admin, "nope", {"preset": "hls"}, headers={"Idempotency-Key": "bad key"}).status == 400
    )


def test_the_concurrency_limit_answers_429_and_a_finished_job_frees_its_slot(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit of 2 renders in flight per studio, and 2 in flight
    set_env(monkeypatch, MAX_CONCURRENT_RENDERS_PER_STUDIO=2, RENDER_RETRY_AFTER_SECONDS=7)
    jobs = [_request(api, admin, target.asset_id).json() for _ in range(2)]
    # When a third is requested / Then 429 with Retry-After
    refused = _request(api, admin, target.asset_id)
    assert refused.status == 429 and refused.headers["Retry-After"] == "7"
    assert refused.json()["error"]["code"] == "CONCURRENT_RENDERS_QUOTA_EXCEEDED"
    # When one is cancelled (twice: the second is 409 and gives nothing back)
    assert api.delete(f"/renders/{jobs[0]['renderJobId']}", token=admin.access_token).status == 200
    assert api.delete(f"/renders/{jobs[0]['renderJobId']}", token=admin.access_token).status == 409
    # Then exactly one slot is free again
    assert service.active_renders(admin.studio_id) == 1
    assert _request(api, admin, target.asset_id).status == 202
    assert _request(api, admin, target.asset_id).status == 429


def test_cancel_stops_the_attempt_and_removes_partial_outputs(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a RUNNING job (its container started) with a partial output in the bucket
    job = _request(api, admin, target.asset_id).json()
    job_id = job["renderJobId"]
    assert (
        worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id="batch-42", batch_attempt=1)
        is not None
    )
    prefix = f"studios/{admin.studio_id}/renders/{job_id}/attempt-1/"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=MEDIA_BUCKET, Key=prefix + "720p/segment_000.ts", Body=b"partial")
    # When it is cancelled
    response = api.delete(f"/renders/{job_id}", token=admin.access_token)
    # Then it is CANCELLED, the execution stopped, the Batch job terminated, the partial output gone
    assert response.status == 200 and response.json()["status"] == "CANCELLED"
    assert response.json()["endedAt"]
    assert [t[0] for t in runs.terminated] == ["batch-42"]
    assert runs.stopped and str(runs.stopped[0][0]).endswith(f"{job_id}-attempt-1")
    assert s3.list_objects_v2(Bucket=MEDIA_BUCKET, Prefix=prefix).get("KeyCount") == 0
    # And a late progress update from the container cannot bring it back
    from keyframe.renders.progress import ProgressUpdate

    assert worker_writes.report_progress(admin.studio_id, job_id, 1, ProgressUpdate(50, 30.0, 2)) is False
    assert api.get(f"/renders/{job_id}", token=admin.access_token).json()["status"] == "CANCELLED"
    # And the activity log tells who asked for it and who cancelled it
    activity = api.get(f"/activity?assetId={target.asset_id}", token=admin.access_token).json()["items"]
    assert [(e["action"], e["actor"]) for e in activity if e["target"]["id"] == job_id] == [
        ("render:cancelled", admin.user_id),
        ("render:requested", admin.user_id),
    ]


def test_retry_runs_a_failed_job_again_as_attempt_two(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a job that failed
    job_id = _request(api, admin, target.asset_id).json()["renderJobId"]
    invoke_task(
        "render-mark-failed", task_event("mark_failed_timeout", studioId=admin.studio_id, renderJobId=job_id)
    )
    failed = api.get(f"/renders/{job_id}", token=admin.access_token).json()
    assert failed["status"] == "FAILED" and failed["error"]["code"] == "RENDER_TIMEOUT"
    # When it is retried
    response = api.post(f"/renders/{job_id}/retry", token=admin.access_token)
    # Then the same job is QUEUED again as attempt 2, error cleared, and attempt 2 is started
    assert response.status == 202
    retried = response.json()
    assert (retried["renderJobId"], retried["status"], retried["attempts"]) == (job_id, "QUEUED", 2)
    assert retried.get("error") is None and retried["progress"] == 0
    assert [e["name"] for e in executions()] == [f"{job_id}-attempt-1", f"{job_id}-attempt-2"]
    # And retrying a job that is queued is a conflict
    assert api.post(f"/renders/{job_id}/retry", token=admin.access_token).status == 409


def test_retry_of_a_succeeded_job_is_409_and_cancel_of_a_finished_job_is_409(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    job_id = _request(api, admin, target.asset_id).json()["renderJobId"]
    worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id=None, batch_attempt=None)
    worker_writes.record_outputs(
        admin.studio_id, job_id, 1, {"prefix": "p/", "keys": ["p/x"], "primary": "p/x"}
    )
    assert invoke_task(
        "render-finalize", task_event("finalize", studioId=admin.studio_id, renderJobId=job_id)
    ) == {"status": "SUCCEEDED"}
    retry = api.post(f"/renders/{job_id}/retry", token=admin.access_token)
    assert retry.status == 409 and retry.json()["error"]["code"] == "RENDER_SUCCEEDED"
    cancel = api.delete(f"/renders/{job_id}", token=admin.access_token)
    assert cancel.status == 409 and cancel.json()["error"]["code"] == "RENDER_FINISHED"


def test_a_start_failure_ends_the_job_failed_and_frees_its_slot(
    api: Any, admin: Session, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no state machine can be started (no RENDER_STATE_MACHINE_ARN)
    monkeypatch.delenv("RENDER_STATE_MACHINE_ARN", raising=False)
    # When a render is requested / Then it is answered FAILED START_FAILED and holds no slot
    job = _request(api, admin, target.asset_id).json()
    assert job["status"] == "FAILED" and job["error"]["code"] == "START_FAILED"
    assert service.active_renders(admin.studio_id) == 0


def test_list_is_newest_first_filters_and_pages(
    api: Any, admin: Session, target: Target, runs: Spy, publish_clip: Any
) -> None:
    # Given three jobs on one asset and one on another, one of them cancelled
    other = publish_clip(admin, name="Shot 020")
    ids = [_request(api, admin, target.asset_id).json()["renderJobId"] for _ in range(3)]
    other_id = _request(api, admin, other.asset_id).json()["renderJobId"]
    api.delete(f"/renders/{ids[1]}", token=admin.access_token)
    token = admin.access_token
    # When listing the studio's jobs two at a time
    first = api.get("/renders?limit=2", token=token).json()
    second = api.get(f"/renders?limit=2&cursor={first['nextCursor']}", token=token).json()
    # Then they come newest first across pages
    assert [j["renderJobId"] for j in first["items"] + second["items"]] == [other_id, ids[2], ids[1], ids[0]]
    assert second.get("nextCursor") is None
    # And the asset and status filters work
    of_asset = api.get(f"/renders?assetId={target.asset_id}", token=token).json()["items"]
    assert [j["renderJobId"] for j in of_asset] == [ids[2], ids[1], ids[0]]
    cancelled = api.get(f"/renders?assetId={target.asset_id}&status=CANCELLED", token=token).json()["items"]
    assert [j["renderJobId"] for j in cancelled] == [ids[1]]
    # And a cursor of another query, or a tampered one, is refused
    assert api.get(f"/renders?limit=2&status=QUEUED&cursor={first['nextCursor']}", token=token).status == 400
    assert api.get("/renders?cursor=abc.def", token=token).status == 400


def test_another_studio_sees_none_of_the_jobs(api: Any, admin: Session, target: Target, runs: Spy) -> None:
    job_id = _request(api, admin, target.asset_id).json()["renderJobId"]
    stranger = register_studio(api, studio_name="Other")
    assert api.get(f"/renders/{job_id}", token=stranger.access_token).status == 404
    assert api.delete(f"/renders/{job_id}", token=stranger.access_token).status == 404
    assert api.post(f"/renders/{job_id}/retry", token=stranger.access_token).status == 404
    assert api.get("/renders", token=stranger.access_token).json()["items"] == []


def test_listing_by_an_asset_that_is_not_in_your_studio_answers_404(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a studio with a render on its asset, and another studio
    _request(api, admin, target.asset_id)
    stranger = register_studio(api, studio_name="Other")
    # When the other studio lists renders of that asset / Then 404, as for the asset itself
    foreign = api.get(f"/renders?assetId={target.asset_id}", token=stranger.access_token)
    assert foreign.status == 404 and foreign.json()["error"]["code"] == "ASSET_NOT_FOUND"
    assert api.get(f"/assets/{target.asset_id}", token=stranger.access_token).status == 404
    # And an asset id that does not exist anywhere is 404 too, with or without a status filter
    for query in ("assetId=no-such-asset", "assetId=no-such-asset&status=QUEUED"):
        missing = api.get(f"/renders?{query}", token=admin.access_token)
        assert missing.status == 404 and missing.json()["error"]["code"] == "ASSET_NOT_FOUND"
    # And the owner still lists it
    assert len(api.get(f"/renders?assetId={target.asset_id}", token=admin.access_token).json()["items"]) == 1


def test_playback_and_download_need_a_succeeded_job(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    job_id = _request(api, admin, target.asset_id).json()["renderJobId"]
    for route in ("playback", "download"):
        response = api.get(f"/renders/{job_id}/{route}", token=admin.access_token)
        assert response.status == 409 and response.json()["error"]["code"] == "RENDER_NOT_READY"
    assert service.load_job(admin.studio_id, job_id).state is RenderStatus.QUEUED


# ------------------------------------------------------------------------------------------ activity
def _render_activity(api: Any, session: Session, asset_id: str, job_id: str) -> list[tuple[str, Any, Any]]:
    """``(action, actor, attempt)`` of the job's activity entries, oldest first."""
    items = api.get(f"/activity?assetId={asset_id}&limit=100", token=session.access_token).json()["items"]
    return [
        (e["action"], e["actor"], e["details"].get("attempt"))
        for e in reversed(items)
        if e["target"] == {"type": "render", "id": job_id}
    ]


def test_every_status_change_of_a_job_has_its_activity_entry(
    api: Any, admin: Session, artist: Session, target: Target, runs: Spy
) -> None:
    # Given a job requested by an artist, failed by the state machine, retried by the admin,
    # then finished by the state machine, and a second job cancelled by the artist
    job_id = _request(api, artist, target.asset_id).json()["renderJobId"]
    failed = task_event("mark_failed_timeout", studioId=admin.studio_id, renderJobId=job_id)
    assert invoke_task("render-mark-failed", failed) == {"status": "FAILED"}
    assert api.post(f"/renders/{job_id}/retry", token=admin.access_token).status == 202
    worker_writes.begin_try(admin.studio_id, job_id, 2, batch_job_id=None, batch_attempt=None)
    worker_writes.record_outputs(
        admin.studio_id, job_id, 2, {"prefix": "p/", "keys": ["p/x"], "primary": "p/x"}
    )
    finalize = task_event("finalize", studioId=admin.studio_id, renderJobId=job_id, attempt=2)
    assert invoke_task("render-finalize", finalize) == {"status": "SUCCEEDED"}
    other_id = _request(api, artist, target.asset_id).json()["renderJobId"]
    assert api.delete(f"/renders/{other_id}", token=artist.access_token).status == 200
    # When the asset's activity is read
    # Then each change is there once, with who made it (None: the workflow) and the attempt
    assert _render_activity(api, admin, target.asset_id, job_id) == [
        ("render:requested", artist.user_id, 1),
        ("render:failed", None, 1),
        ("render:retried", admin.user_id, 2),
        ("render:succeeded", None, 2),
    ]
    assert _render_activity(api, admin, target.asset_id, other_id) == [
        ("render:requested", artist.user_id, 1),
        ("render:cancelled", artist.user_id, 1),
    ]


def refuse_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on no activity entry can be written: its transaction gets a condition that never holds."""
    from keyframe.storage import activity
    from keyframe.storage.activity import ActivityItem

    record = activity.record

    def refuse(*args: Any, transaction: Any, **kwargs: Any) -> Any:
        transaction.check("entry", ActivityItem, "NO#SUCH", "ITEM", ActivityItem.pk.exists())
        return record(*args, transaction=transaction, **kwargs)

    monkeypatch.setattr(activity, "record", refuse)


def test_without_its_activity_entry_no_status_change_is_stored(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a QUEUED job, then an activity log that refuses every entry
    job_id = _request(api, admin, target.asset_id).json()["renderJobId"]
    refuse_activity(monkeypatch)
    # When a render is requested, the job cancelled, or the state machine fails it
    requested = _request(api, admin, target.asset_id)
    cancelled = api.delete(f"/renders/{job_id}", token=admin.access_token)
    failed = task_event("mark_failed_timeout", studioId=admin.studio_id, renderJobId=job_id)
    with pytest.raises(Exception, match="cancelled"):
        invoke_task("render-mark-failed", failed)
    # Then none of it is stored: no new job, the first still QUEUED holding its one slot
    assert (requested.status, cancelled.status) == (500, 500)
    jobs = api.get("/renders", token=admin.access_token).json()["items"]
    assert [(j["renderJobId"], j["status"]) for j in jobs] == [(job_id, "QUEUED")]
    assert service.active_renders(admin.studio_id) == 1
    assert [e["name"] for e in executions()] == [f"{job_id}-attempt-1"]
    # And the activity log holds only the request that was stored
    assert _render_activity(api, admin, target.asset_id, job_id) == [("render:requested", admin.user_id, 1)]


# ------------------------------------------------------------------------------------------ watermark
def _succeed(session: Session, job_id: str, primary: str) -> None:
    """Run the job's attempt 1 to SUCCEEDED with ``primary`` as its output (no FFmpeg needed here)."""
    worker_writes.begin_try(session.studio_id, job_id, 1, batch_job_id=None, batch_attempt=None)
    outputs = {"prefix": "p/", "keys": [primary], "primary": primary}
    assert worker_writes.record_outputs(session.studio_id, job_id, 1, outputs)
    finalize = task_event("finalize", studioId=session.studio_id, renderJobId=job_id)
    assert invoke_task("render-finalize", finalize) == {"status": "SUCCEEDED"}


def test_a_watermarked_copy_downloads_only_for_the_member_it_names_and_admins(
    api: Any, admin: Session, artist: Session, target: Target, runs: Spy
) -> None:
    # Given a watermarked review copy requested by an artist, and a plain one
    director = add_member(api, admin, "DIRECTOR")
    viewer = add_member(api, admin, "VIEWER")
    body = {"preset": "review-mp4", "options": {"watermark": True}}
    marked = _request(api, artist, target.asset_id, body).json()["renderJobId"]
    plain = _request(api, artist, target.asset_id, {"preset": "review-mp4"}).json()["renderJobId"]
    for job_id in (marked, plain):
        _succeed(admin, job_id, f"studios/{admin.studio_id}/renders/{job_id}/attempt-1/review.mp4")
    # Then its watermark names the artist who asked for it
    assert artist.email in service.load_job(admin.studio_id, marked).texts["watermark"]
    # When each member asks for the download
    answers = {
        who: api.get(f"/renders/{marked}/download", token=session.access_token)
        for who, session in (("artist", artist), ("admin", admin), ("director", director), ("viewer", viewer))
    }
    # Then the artist and the admin get the link; any other member 403 with the reason
    assert answers["artist"].status == 200 and answers["admin"].status == 200
    for who in ("director", "viewer"):
        refused = answers[who]
        assert refused.status == 403, who
        assert refused.json()["error"]["code"] == "WATERMARKED_FOR_ANOTHER_MEMBER"
        assert "watermark" in refused.json()["error"]["message"]
    # And the job itself stays readable by everyone; a copy without watermark downloads for anyone
    assert api.get(f"/renders/{marked}", token=director.access_token).status == 200
    assert api.get(f"/renders/{plain}/download", token=director.access_token).status == 200
    assert api.get(f"/renders/{plain}/download", token=viewer.access_token).status == 200
