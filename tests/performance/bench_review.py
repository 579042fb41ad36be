"""Time to review on the local stack: from ``complete`` (202) to a READY version with its proxy, for a
10 s 1080p H.264 + AAC clip, against plain FFmpeg making the same probe, thumbnail and proxy from the
same file on the same machine.

The stack is ``python -m keyframe.local`` on free ports (as ``make dev``), spoken to over HTTP: upload
with presigned parts, then the clock starts at ``POST …/complete`` and stops at the ``endedAt`` that
Finalize recorded when it made the version READY with its derived files (read once
``GET /assets/{assetId}/uploads/{uploadId}`` says SUCCEEDED; polled every 0.5 s, so the polling's
own CPU on the stack stays small: at 50 ms it took about half a core from the FFmpeg it measures).
The path taken is the state machine's: the clip is under ``LAMBDA_DERIVE_MAX_BYTES``, so Derive runs
in the ``pipeline-derive`` function (in one of the stack's warm execution environments), not as a
Batch job.

The baseline is plain FFmpeg, interleaved with the pipeline's rounds so load hurts both alike: the
probe (:func:`keyframe.media.probe.probe`, as the pipeline probes here), the thumbnail command and the
proxy command on the local file. Printed: medians, their ratio and the median of each round's own
ratio (the two runs of a round are back to back, so that one cancels slower load swings) with its
quartiles and range, the load average before and after, and the last round's pipeline steps.

Run alone: ``python -m tests.performance.bench_review`` (``BENCH_REVIEW_ROUNDS``, default 7).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from keyframe.media import ffmpeg
from keyframe.media.probe import probe
from tests.e2e.test_pipeline import Studio
from tests.support.local_stack import BaseUrlSession, start_local_stack
from tests.unit.media.samples import video_clip

REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.5
"""Seconds between status polls: slow, so the polling (an API request, a handler, DynamoDB reads, all
on the stack) does not take CPU from the pipeline it measures; the time is read from Finalize's own
``endedAt``, not from when a poll noticed."""


def _plain(clip: Path, folder: Path) -> float:
    started = time.perf_counter()
    info = probe(str(clip))
    width, height = ffmpeg.proxy_size(info.width or 2, info.height or 2)
    ffmpeg.run(
        ffmpeg.thumbnail_args(str(clip), str(folder / "t.jpg"), seek=ffmpeg.poster_time(info.duration))
    )
    ffmpeg.run(
        ffmpeg.proxy_args(
            str(clip), str(folder / "p.mp4"), width=width, height=height, has_audio=info.has_audio
        )
    )
    return time.perf_counter() - started


_STEPS: list[str] = []


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _step_line(step: dict[str, Any]) -> str:
    started, ended = step.get("startedAt"), step.get("endedAt")
    if not started or not ended:
        return f"{step['name']} {step['status']}"
    seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    return f"{step['name']} {seconds:.2f} s (from {started[11:23]})"


def _time_to_review(studio: Studio, clip: Path, round_: int) -> float:
    asset_id = studio.new_asset(f"Review {round_}")
    data = clip.read_bytes()
    opened = studio.post(
        f"/assets/{asset_id}/uploads",
        {"fileName": "review.mp4", "size": len(data), "contentType": "video/mp4"},
    )
    parts = []
    for part in opened["parts"]:
        start = (part["partNumber"] - 1) * opened["partSize"]
        put = studio.http.put(
            part["url"], data=data[start : start + opened["partSize"]], headers=part.get("headers") or {}
        )
        parts.append({"partNumber": part["partNumber"], "etag": put.headers["ETag"]})
    upload_id = opened["uploadId"]
    started = time.time()  # wall clock: compared with the stack's own timestamps (same machine)
    studio.post(f"/assets/{asset_id}/uploads/{upload_id}/complete", {"parts": parts}, expect=202)
    deadline = started + 300
    while time.time() < deadline:
        time.sleep(POLL_SECONDS)
        pipeline = studio.get(f"/assets/{asset_id}/uploads/{upload_id}").get("pipeline") or {}
        if pipeline.get("status") == "SUCCEEDED":
            version = studio.get(f"/assets/{asset_id}/versions/1")
            assert version["status"] == "READY" and "proxy" in (version.get("derived") or {}), version
            steps = studio.get(f"/assets/{asset_id}/versions/1/pipeline")["steps"]
            _STEPS[:] = [_step_line(step) for step in steps]
            (finalize,) = [step for step in steps if step["name"] == "finalize"]
            # READY from the moment Finalize recorded it, not from when a poll noticed
            return _epoch(finalize["endedAt"]) - started
        if pipeline.get("status") == "FAILED":
            raise RuntimeError(f"the pipeline failed: {pipeline}")
    raise RuntimeError("the pipeline did not finish in 300 s")


def _rounded(values: list[float]) -> list[float]:
    return [round(value, 2) for value in values]


def main() -> None:
    """Start the stack, run the interleaved rounds, print medians and the ratio."""
    rounds = max(3, int(os.environ.get("BENCH_REVIEW_ROUNDS", "7")))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        folder = Path(tmp)
        clip = video_clip(folder / "clip.mp4", seconds=10, size="1920x1080")
        size = clip.stat().st_size
        started = time.perf_counter()
        stack = start_local_stack(folder, log_level=os.environ.get("BENCH_REVIEW_LOG_LEVEL", "WARNING"))
        start_seconds = time.perf_counter() - started
        try:
            with BaseUrlSession(stack.http_url) as http:
                studio = Studio(http, stack)
                _time_to_review(studio, clip, 0)  # warm-up: first imports in the stack's environments
                plain, review = [], []
                for round_ in range(1, rounds + 1):
                    plain.append(_plain(clip, folder))
                    review.append(_time_to_review(studio, clip, round_))
        finally:
            stack.stop()
    baseline, measured = statistics.median(plain), statistics.median(review)
    print(
        f"clip: 10 s 1920x1080 H.264+AAC ({size} bytes), "
        f"{rounds} interleaved rounds after a warm-up (median), load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; "
        f"stack start {start_seconds:.1f} s"
    )
    print(f"plain ffmpeg, probe + thumbnail + proxy (local file): {baseline:.2f} s {_rounded(plain)}")
    print(f"time to review, complete (202) to READY with proxy: {measured:.2f} s {_rounded(review)}")
    ratios = [r / p for r, p in zip(review, plain, strict=True)]
    low, _, high = statistics.quantiles(ratios, n=4, method="inclusive")
    print(
        f"ratio time to review / plain ffmpeg: {measured / baseline:.2f} (medians); "
        f"{statistics.median(ratios):.2f} (median of each round's ratio, its two runs back to back; "
        f"quartiles {low:.2f}-{high:.2f}, range {min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(f"last round's steps: {'; '.join(_STEPS)}")


if __name__ == "__main__":
    main()
