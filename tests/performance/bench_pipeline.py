"""Derive step cost: the pipeline's derive (probe + thumbnail + proxy, read by presigned URL from an
S3 emulator, outputs uploaded) against plain FFmpeg doing the same work on a local file.

Two baselines, measured in the same rounds, interleaved with the pipeline's runs so load hurts all alike:

- plain FFmpeg as one would write it: a thumbnail command and a proxy command (two reads of the file);
- plain FFmpeg in one pass (the same single command the pipeline runs, on the local file).

The second ratio is what the pipeline adds around FFmpeg: probing, HTTP reads, uploads.
Run: ``python -m tests.performance.bench_pipeline`` (or ``make bench ONLY=pipeline``).
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import boto3

from keyframe.media import ffmpeg
from keyframe.media.derive import DeriveJob, derive, single_pass_command
from keyframe.media.probe import probe
from tests.unit.media.samples import video_clip

CLIP_SECONDS = 5
CLIP_SIZE = "1280x720"
ROUNDS = int(os.environ.get("BENCH_PIPELINE_ROUNDS", "5"))
BUCKET = "keyframe-bench-media"


def _plain_single_pass(source: Path, folder: Path) -> float:
    info = probe(str(source))
    outputs = {"thumbnail": str(folder / "t1.jpg"), "proxy": str(folder / "p1.mp4")}
    started = time.perf_counter()
    ffmpeg.run(single_pass_command(str(source), outputs, info))
    return time.perf_counter() - started


def _plain_ffmpeg(source: Path, folder: Path) -> float:
    info = probe(str(source))
    width, height = ffmpeg.proxy_size(info.width or 2, info.height or 2)
    started = time.perf_counter()
    ffmpeg.run(
        ffmpeg.thumbnail_args(str(source), str(folder / "t.jpg"), seek=ffmpeg.poster_time(info.duration))
    )
    ffmpeg.run(
        ffmpeg.proxy_args(str(source), str(folder / "p.mp4"), width=width, height=height, has_audio=True)
    )
    return time.perf_counter() - started


def _pipeline_derive(s3: object, key: str) -> tuple[float, dict[str, float]]:
    job = DeriveJob("bench-studio", "bench-asset", 1, BUCKET, key, "video")
    started = time.perf_counter()
    output = derive(job, s3=s3)
    return time.perf_counter() - started, output.seconds


def main() -> None:
    """Print the median derive time, the median plain FFmpeg time and their ratio."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    previous = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL",)}
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        from botocore.config import Config

        s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
            folder = Path(tmp)
            clip = video_clip(folder / "clip.mp4", seconds=CLIP_SECONDS, size=CLIP_SIZE)
            key = "studios/bench-studio/assets/bench-asset/uploads/u/clip.mp4"
            s3.upload_file(str(clip), BUCKET, key)
            plain, single, piped, steps = [], [], [], []
            for _ in range(ROUNDS):
                plain.append(_plain_ffmpeg(clip, folder))
                seconds, detail = _pipeline_derive(s3, key)
                piped.append(seconds)
                steps.append(detail)
                single.append(_plain_single_pass(clip, folder))
        baseline, one_pass = statistics.median(plain), statistics.median(single)
        measured = statistics.median(piped)
        print(
            f"clip: {CLIP_SECONDS} s {CLIP_SIZE} H.264+AAC, {ROUNDS} interleaved rounds (median), "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(f"plain ffmpeg, thumbnail + proxy commands (local file): {baseline:.2f} s")
        print(f"plain ffmpeg, one pass (local file):                    {one_pass:.2f} s")
        print(f"pipeline derive (probe + one pass via presigned URL + uploads): {measured:.2f} s")
        print(f"  last round by step: {steps[-1]}")
        print(f"ratio derive / plain ffmpeg (two commands): {measured / baseline:.2f}")
        print(f"ratio derive / plain ffmpeg (one pass):     {measured / one_pass:.2f}")
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


if __name__ == "__main__":
    from tests.support import environment

    environment.apply()
    main()
