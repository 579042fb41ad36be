"""Probe a media source: duration, frames, size, codecs, bit rate, timecode.

Two back ends give the same :class:`MediaInfo`:

- ``ffprobe`` run on the source URL, JSON output, where the machine has one (a developer's system
  FFmpeg);
- PyAV (``av``; its wheel bundles FFmpeg's libraries) where there is none: the media container, the
  Lambda derive, the local stack and developer machines with the ``imageio-ffmpeg`` binary only.

Both read the source by URL (a presigned GET): only the headers and index are fetched.
"""

from __future__ import annotations

import json
import math
import subprocess
from fractions import Fraction
from typing import Any

from keyframe.media.errors import InvalidMediaError
from keyframe.media.ffmpeg import MediaToolError, ffprobe_exe
from keyframe.schemas import ApiModel

PROBE_TIMEOUT_SECONDS = 120


class MediaInfo(ApiModel):
    """What a source holds (JSON: camelCase, ``None`` fields left out).

    Attributes
    ----------
    duration:
        Seconds (float), ``None`` for still images.
    frame_count:
        Video frames (int): from the container when it says, else ``round(duration * fps)``.
    fps:
        Average frames per second of the first video stream.
    width, height:
        Pixels of the first video stream (or the image).
    codecs:
        ``{"video": "h264", "audio": "aac"}`` (only the kinds present).
    bit_rate:
        Overall bits per second.
    start_timecode:
        ``HH:MM:SS:FF`` (``;`` for drop-frame) from the container or a ``tmcd`` track, if any.
    sample_rate, channels:
        Of the first audio stream.
    """

    duration: float | None = None
    frame_count: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    codecs: dict[str, str] = {}
    bit_rate: int | None = None
    start_timecode: str | None = None
    sample_rate: int | None = None
    channels: int | None = None

    @property
    def has_video(self) -> bool:
        """True when there is a picture (a video stream or a still image)."""
        return "video" in self.codecs

    @property
    def has_audio(self) -> bool:
        """True when there is an audio stream."""
        return "audio" in self.codecs


def _number(value: Any, cast: type = float) -> Any:
    try:
        result = cast(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if isinstance(result, float) and not math.isfinite(result):
        return None
    return result


def _rate(value: Any) -> float | None:
    if not value or value in ("0/0", "0"):
        return None
    try:
        rate = float(Fraction(str(value)))
    except (ValueError, ZeroDivisionError):
        return None
    return round(rate, 3) if rate > 0 else None


def _frame_count(declared: Any, duration: float | None, fps: float | None) -> int | None:
    frames = _number(declared, int)
    if frames and frames > 0:
        return frames
    if duration and fps:
        return round(duration * fps)
    return None


def _from_ffprobe(document: dict[str, Any]) -> MediaInfo:
    fmt = document.get("format") or {}
    streams = document.get("streams") or []
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = _number(fmt.get("duration")) or (video and _number(video.get("duration")))
    timecode = (fmt.get("tags") or {}).get("timecode") or next(
        (s["tags"]["timecode"] for s in streams if (s.get("tags") or {}).get("timecode")), None
    )
    info: dict[str, Any] = {"duration": duration, "bit_rate": _number(fmt.get("bit_rate"), int)}
    codecs: dict[str, str] = {}
    if video:
        fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
        codecs["video"] = video.get("codec_name") or "unknown"
        info |= {
            "width": video.get("width"),
            "height": video.get("height"),
            "fps": fps,
            "frame_count": _frame_count(video.get("nb_frames"), duration, fps),
        }
    if audio:
        codecs["audio"] = audio.get("codec_name") or "unknown"
        info |= {"sample_rate": _number(audio.get("sample_rate"), int), "channels": audio.get("channels")}
    return MediaInfo(codecs=codecs, start_timecode=timecode, **info)


def _probe_ffprobe(exe: str, source: str) -> MediaInfo:
    args = [exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", source]
    try:
        completed = subprocess.run(args, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaToolError(f"ffprobe took longer than {PROBE_TIMEOUT_SECONDS} s") from exc
    if completed.returncode != 0:
        reason = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        text = reason[-1] if reason else f"exit {completed.returncode}"
        if any(hint in text.lower() for hint in ("server returned", "connection", "timed out", "i/o error")):
            raise MediaToolError(f"ffprobe could not fetch the file: {text}")
        raise InvalidMediaError(f"FFmpeg cannot read the file: {text}")
    return _from_ffprobe(json.loads(completed.stdout or b"{}"))


def _probe_pyav(source: str) -> MediaInfo:
    import av  # noqa: PLC0415 - optional (dev extra): only where there is no ffprobe

    try:
        container = av.open(source, timeout=PROBE_TIMEOUT_SECONDS)
    except av.error.InvalidDataError as exc:
        raise InvalidMediaError(f"FFmpeg cannot read the file: {exc}") from exc
    except (OSError, av.error.FFmpegError) as exc:  # HTTP errors, refused connections, timeouts
        raise MediaToolError(f"Could not fetch the file to probe it: {exc}") from exc
    with container:
        duration = container.duration / 1_000_000 if container.duration else None
        video = next((s for s in container.streams.video if not _is_attached_picture(s)), None)
        audio = next(iter(container.streams.audio), None)
        timecode = container.metadata.get("timecode") or next(
            (s.metadata["timecode"] for s in container.streams if s.metadata.get("timecode")), None
        )
        info: dict[str, Any] = {"duration": duration, "bit_rate": container.bit_rate or None}
        codecs: dict[str, str] = {}
        if video is not None:
            fps = _rate(video.average_rate) or _rate(video.guessed_rate)
            codecs["video"] = video.codec_context.name
            info |= {
                "width": video.codec_context.width,
                "height": video.codec_context.height,
                "fps": fps,
                "frame_count": _frame_count(video.frames, duration, fps),
            }
        if audio is not None:
            codecs["audio"] = audio.codec_context.name
            info |= {
                "sample_rate": audio.codec_context.sample_rate or None,
                "channels": audio.codec_context.channels,
            }
    return MediaInfo(codecs=codecs, start_timecode=timecode, **info)


def _is_attached_picture(stream: Any) -> bool:
    return bool(getattr(stream, "disposition", 0) & 0x0400)  # AV_DISPOSITION_ATTACHED_PIC (cover art)


def probe(source: str) -> MediaInfo:
    """Probe ``source`` (a URL or a local path).

    Parameters
    ----------
    source:
        A presigned GET URL of the stored object, or a file path.

    Returns
    -------
    MediaInfo
        Duration (s), frame count, fps, width/height (px), codecs, bit rate (bit/s), start timecode.

    Raises
    ------
    InvalidMediaError
        FFmpeg cannot read it (corrupt, truncated, not media).
    MediaToolError
        The source could not be fetched, or no probing tool is available.
    """
    exe = ffprobe_exe()
    if exe:
        return _probe_ffprobe(exe, source)
    try:
        return _probe_pyav(source)
    except ImportError as exc:
        raise MediaToolError(
            "Neither ffprobe nor PyAV (the 'av' package) is available to probe media"
        ) from exc
