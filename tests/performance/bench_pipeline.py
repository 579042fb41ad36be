"""Derive step cost: the pipeline's derive (probe + thumbnail + proxy, read by presigned URL from an
S3 emulator, outputs uploaded) against plain FFmpeg doing the same two encodes on a local file.

The ratio is what the pipeline adds around FFmpeg: probing, HTTP reads with Range seeks, uploads.
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
from keyframe.media.derive import DeriveJob, derive
from keyframe.media.probe import probe
from tests.unit.media.samples import video_clip

CLIP_SECONDS = 5
CLIP_SIZE = "1280x720"
ROUNDS = 3
BUCKET = "keyframe-bench-media"


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
            plain, piped, steps = [], [], []
            for _ in range(ROUNDS):
                plain.append(_plain_ffmpeg(clip, folder))
                seconds, detail = _pipeline_derive(s3, key)
                piped.append(seconds)
                steps.append(detail)
        baseline, measured = statistics.median(plain), statistics.median(piped)
        print(f"clip: {CLIP_SECONDS} s {CLIP_SIZE} H.264+AAC, {ROUNDS} rounds (median)")
        print(f"plain ffmpeg (thumbnail + proxy, local file): {baseline:.2f} s")
        print(f"pipeline derive (probe + thumbnail + proxy via presigned URL + uploads): {measured:.2f} s")
        print(f"  last round by step: {steps[-1]}")
        print(f"ratio derive / plain ffmpeg: {measured / baseline:.2f}")
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
