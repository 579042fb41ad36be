"""Derivatives of one version: probe the stored original, make a thumbnail, a review proxy or a
waveform with FFmpeg, upload them next to the version.

Nothing here holds a file in memory: FFmpeg reads the original through a presigned GET URL (seeking
with Range requests), writes its outputs to a temporary folder, and boto3's ``upload_file`` sends them
in multipart chunks.

=========  =========================  ======================================================
kind       outputs                    notes
=========  =========================  ======================================================
video      thumbnail.jpg, proxy.mp4   a "video" holding only sound gets waveform.png instead
image      thumbnail.jpg
audio      waveform.png
=========  =========================  ======================================================

Keys: ``studios/{studioId}/assets/{assetId}/versions/{version}/derived/{file}``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from boto3.s3.transfer import TransferConfig

from keyframe.media import ffmpeg
from keyframe.media.errors import InvalidMediaError
from keyframe.media.probe import MediaInfo, probe
from keyframe.storage import s3 as s3_clients

DERIVED_FILES: dict[str, tuple[str, str]] = {
    "thumbnail": ("thumbnail.jpg", "image/jpeg"),
    "proxy": ("proxy.mp4", "video/mp4"),
    "waveform": ("waveform.png", "image/png"),
}
"""Derivative name -> (file name, content type)."""

SOURCE_URL_TTL_SECONDS = 6 * 3600
"""How long the presigned source URL FFmpeg reads stays valid (long enough for a feature-length proxy)."""

_TRANSFER = TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024)


def derived_key(studio_id: str, asset_id: str, version: int, name: str, run: int = 1) -> str:
    """The S3 key of derivative ``name`` (``thumbnail``, ``proxy``, ``waveform``) of a version.

    A reprocess run (``run`` > 1) writes under ``derived/run-{run}/`` so the files the version
    currently points to stay untouched until its Finalize switches over (and stay if the run fails).
    """
    file_name = DERIVED_FILES[name][0]
    folder = f"studios/{studio_id}/assets/{asset_id}/versions/{version}/derived"
    return f"{folder}/{file_name}" if run <= 1 else f"{folder}/run-{run}/{file_name}"


@dataclass(frozen=True)
class DeriveJob:
    """What to derive: the stored original (``bucket``/``key``) of ``version`` of an asset, of ``kind``."""

    studio_id: str
    asset_id: str
    version: int
    bucket: str
    key: str
    kind: str
    run: int = 1


@dataclass
class DeriveOutput:
    """The probe result, the derivative keys by name, and the seconds each step took."""

    media: MediaInfo
    derived: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)


def plan(kind: str, info: MediaInfo) -> list[str]:
    """The derivatives to make for a source of ``kind`` whose probe gave ``info``.

    Raises
    ------
    InvalidMediaError
        The source lacks what its kind needs (a video with neither picture nor sound, an audio file
        with no audio stream, an image FFmpeg cannot see a picture in).
    """
    if kind == "video":
        if info.has_video:
            return ["thumbnail", "proxy"]
        if info.has_audio:
            return ["waveform"]
        raise InvalidMediaError("The video has neither a picture nor a sound stream")
    if kind == "image":
        if not info.has_video:
            raise InvalidMediaError("FFmpeg found no picture in the image")
        return ["thumbnail"]
    if kind == "audio":
        if not info.has_audio:
            raise InvalidMediaError("The audio file has no audio stream")
        return ["waveform"]
    return []


def command(name: str, source: str, output: str, info: MediaInfo) -> list[str]:
    """The FFmpeg ``argv`` that makes derivative ``name`` of ``source`` into ``output``."""
    if name == "thumbnail":
        return ffmpeg.thumbnail_args(source, output, seek=ffmpeg.poster_time(info.duration))
    if name == "proxy":
        width, height = ffmpeg.proxy_size(info.width or 2, info.height or 2)
        return ffmpeg.proxy_args(source, output, width=width, height=height, has_audio=info.has_audio)
    if name == "waveform":
        return ffmpeg.waveform_args(source, output)
    raise ValueError(f"unknown derivative {name!r}")


def single_pass_command(source: str, outputs: dict[str, str], info: MediaInfo) -> list[str]:
    """The one FFmpeg ``argv`` that makes a video's thumbnail and proxy (``outputs`` = name -> path)
    from a single read of ``source``: the same files as :func:`command` for each, one demux and decode."""
    width, height = ffmpeg.proxy_size(info.width or 2, info.height or 2)
    return ffmpeg.video_derivatives_args(
        source,
        outputs["thumbnail"],
        outputs["proxy"],
        seek=ffmpeg.poster_time(info.duration),
        width=width,
        height=height,
        has_audio=info.has_audio,
    )


def s3_client() -> Any:
    """A boto3 S3 client that signs with SigV4 (presigned URLs work in every region and on moto).

    One client per process and endpoint (creating one costs tens of milliseconds).
    """
    return _s3_client(os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION"))


@lru_cache(maxsize=4)
def _s3_client(endpoint: str | None, region: str | None) -> Any:
    return s3_clients.client(retries_mode="standard")


@dataclass
class Rendered:
    """Derivatives made in a local folder, not uploaded yet (:func:`render`): the probe, derivative
    name -> file path, the seconds each step took."""

    media: MediaInfo
    files: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)


def render(bucket: str, key: str, kind: str, folder: str, *, s3: Any = None) -> Rendered:
    """Probe the original ``bucket``/``key`` (of ``kind``) and make its derivatives in ``folder``.

    Reads the object by presigned URL; writes nothing to S3. The version the files belong to is not
    needed here (only :func:`upload` names their keys), so the Lambda derive starts this before the
    upload is published.

    Raises
    ------
    InvalidMediaError
        FFmpeg cannot read the source or it lacks the streams its kind needs.
    MediaToolError
        Network or machine failure (worth a retry).
    """
    s3 = s3 or s3_client()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    source = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=SOURCE_URL_TTL_SECONDS
    )
    info = probe(source)
    if kind == "image":
        info = info.model_copy(update={"duration": None, "fps": None, "frame_count": 1, "bit_rate": None})
    seconds["probe"] = round(time.perf_counter() - started, 3)
    outputs = {name: str(Path(folder) / DERIVED_FILES[name][0]) for name in plan(kind, info)}
    started = time.perf_counter()
    if set(outputs) == {"thumbnail", "proxy"}:  # one read and one decode of the source for both
        ffmpeg.run(single_pass_command(source, outputs, info), what="the thumbnail and the proxy")
    else:
        for name, output in outputs.items():
            ffmpeg.run(command(name, source, output, info), what=f"the {name}")
    seconds["ffmpeg"] = round(time.perf_counter() - started, 3)
    return Rendered(media=info, files=outputs, seconds=seconds)


def upload(rendered: Rendered, job: DeriveJob, *, s3: Any = None) -> DeriveOutput:
    """Upload the files of ``rendered`` as the derivatives of ``job``'s version
    (``studios/{studioId}/assets/{assetId}/versions/{version}/derived/*``, :func:`derived_key`, in
    ``job.bucket``; multipart above 16 MiB).

    Raises
    ------
    botocore.exceptions.ClientError, boto3.exceptions.S3UploadFailedError
        S3 refused or was unreachable.
    """
    s3 = s3 or s3_client()
    seconds = dict(rendered.seconds)
    derived: dict[str, str] = {}
    started = time.perf_counter()
    for name, output in rendered.files.items():
        key = derived_key(job.studio_id, job.asset_id, job.version, name, job.run)
        content_type = DERIVED_FILES[name][1]
        s3.upload_file(output, job.bucket, key, ExtraArgs={"ContentType": content_type}, Config=_TRANSFER)
        derived[name] = key
    seconds["upload"] = round(time.perf_counter() - started, 3)
    return DeriveOutput(media=rendered.media, derived=derived, seconds=seconds)


def derive(job: DeriveJob, *, s3: Any = None) -> DeriveOutput:
    """Probe the original of ``job`` and make and upload its derivatives (:func:`render` into a
    temporary folder, then :func:`upload`).

    Reads the object ``job.bucket``/``job.key`` (by presigned URL); writes
    ``studios/{studioId}/assets/{assetId}/versions/{version}/derived/*`` to the same bucket.

    Returns
    -------
    DeriveOutput
        ``media`` (for an image: size and codec, no duration), ``derived`` keys by name, timings.

    Raises
    ------
    InvalidMediaError
        FFmpeg cannot read the source or it lacks the streams its kind needs.
    MediaToolError
        Network or machine failure (worth a retry).
    """
    s3 = s3 or s3_client()
    with TemporaryDirectory(prefix="keyframe-derive-") as folder:
        return upload(render(job.bucket, job.key, job.kind, folder, s3=s3), job, s3=s3)
