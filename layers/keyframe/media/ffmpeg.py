"""FFmpeg: where it is, the argument lists Keyframe runs, and how its failures are told apart.

The builders return complete ``argv`` lists (no shell), so tests can check them and the benchmark can
run the very same commands outside the pipeline. Sources are usually presigned HTTPS GET URLs: FFmpeg
streams them (seeking with Range requests) and never holds the whole file in memory.

Where FFmpeg comes from:

- the media container: the static build of the ``imageio-ffmpeg`` wheel (the ``media`` extra of
  ``pyproject.toml``) linked as ``/usr/local/bin/ffmpeg``; no ``ffprobe``, so
  :mod:`keyframe.media.probe` uses PyAV;
- the Lambda derive: the same wheel (an older release) from its layer, found through the import;
- a developer machine and the local stack: ``ffmpeg`` on ``PATH`` if installed, else the wheel's
  (the ``media`` extra again: the image's version).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from keyframe.media.errors import InvalidMediaError

THUMBNAIL_MAX_WIDTH = 640
"""Thumbnails are at most this wide (pixels); never upscaled."""
PROXY_MAX_LONG_SIDE = 1280
PROXY_MAX_SHORT_SIDE = 720
"""Review proxies fit in 1280x720 (landscape) or 720x1280 (portrait): at most 720p; never upscaled."""
WAVEFORM_SIZE = (1200, 240)
WAVEFORM_COLOR = "0x4fc3f7"
POSTER_MAX_SECONDS = 1.0
"""The poster frame is taken at a quarter of the duration, but no later than this (seconds)."""

_COMMON = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")
_NETWORK_HINTS = (
    "connection refused",
    "connection reset",
    "connection timed out",
    "server returned",
    "http error",
    "i/o error",
    "network is unreachable",
    "failed to resolve",
    "timed out",
    "no space left",
    "cannot allocate memory",
)


@cache
def ffmpeg_exe() -> str:
    """Absolute path of ``ffmpeg``: from ``PATH``, else the ``imageio-ffmpeg`` wheel's static build.

    Raises
    ------
    MediaToolError
        Neither is available.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # noqa: PLC0415 - optional (media extra); the image links it on PATH
    except ImportError as exc:
        raise MediaToolError("No ffmpeg on PATH and the imageio-ffmpeg wheel is not installed") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffprobe_exe() -> str | None:
    """Absolute path of ``ffprobe`` when the system has one (a developer's FFmpeg; not the media image)."""
    return shutil.which("ffprobe")


class MediaToolError(RuntimeError):
    """FFmpeg, the network or the machine failed for a reason that is not the file (worth a retry)."""


@dataclass(frozen=True)
class FFmpegFailure:
    """A finished FFmpeg run that failed: exit ``returncode`` and the tail of its ``stderr``."""

    returncode: int
    stderr: str

    @property
    def is_input_problem(self) -> bool:
        """True when the file itself is at fault (undecodable), False for network/machine trouble."""
        if self.returncode < 0:  # killed by a signal (out of memory, timeout)
            return False
        text = self.stderr.lower()
        return not any(hint in text for hint in _NETWORK_HINTS)


def run(args: Sequence[str], *, timeout: float = 3600.0, what: str = "FFmpeg") -> None:
    """Run an FFmpeg command line.

    Parameters
    ----------
    args:
        The full ``argv`` (from one of the builders).
    timeout:
        Seconds before the process is killed.
    what:
        What the command makes, for messages ("the review proxy").

    Raises
    ------
    InvalidMediaError
        FFmpeg could not decode the input (a corrupt or unsupported file): never worth a retry.
    MediaToolError
        Network, signal, timeout or a missing binary: worth a retry.
    """
    try:
        completed = subprocess.run(list(args), capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaToolError(f"{what} took longer than {timeout:.0f} s") from exc
    except OSError as exc:
        raise MediaToolError(f"Cannot run {args[0]}: {exc}") from exc
    if completed.returncode == 0:
        return
    failure = FFmpegFailure(completed.returncode, completed.stderr.decode("utf-8", "replace")[-2000:])
    reason = (
        failure.stderr.strip().splitlines()[-1] if failure.stderr.strip() else f"exit {failure.returncode}"
    )
    if failure.is_input_problem:
        raise InvalidMediaError(f"FFmpeg could not make {what}: {reason}", details={"stderr": failure.stderr})
    raise MediaToolError(f"FFmpeg failed making {what}: {reason}")


def even(value: float) -> int:
    """``value`` rounded down to an even integer, at least 2 (H.264 with 4:2:0 needs even sizes)."""
    return max(2, int(value) // 2 * 2)


def proxy_size(width: int, height: int) -> tuple[int, int]:
    """The review proxy's size for a ``width`` x ``height`` source: fits 1280x720 (or 720x1280 for
    portrait), keeps the aspect ratio, never upscales, even numbers.

    Examples
    --------
    >>> proxy_size(1920, 1080)
    (1280, 720)
    >>> proxy_size(1080, 1920)
    (720, 1280)
    >>> proxy_size(640, 361)
    (640, 360)
    """
    long_max, short_max = PROXY_MAX_LONG_SIDE, PROXY_MAX_SHORT_SIDE
    box_w, box_h = (long_max, short_max) if width >= height else (short_max, long_max)
    scale = min(1.0, box_w / width, box_h / height)
    return even(round(width * scale)), even(round(height * scale))


def poster_time(duration: float | None) -> float:
    """Seconds into the source at which the poster frame (thumbnail) is taken."""
    if not duration or duration <= 0:
        return 0.0
    return round(min(POSTER_MAX_SECONDS, duration / 4), 3)


def thumbnail_args(
    source: str, output: str, *, seek: float = 0.0, max_width: int = THUMBNAIL_MAX_WIDTH
) -> list[str]:
    """A JPEG poster frame of ``source`` (video or image) at ``seek`` seconds, at most ``max_width`` wide.

    The seek is an input option, so FFmpeg jumps there with Range requests instead of decoding the start.
    """
    args = [ffmpeg_exe(), *_COMMON]
    if seek > 0:
        args += ["-ss", f"{seek:.3f}"]
    # fmt: off
    return [
        *args,
        "-i", source,
        "-map", "0:v:0",
        "-frames:v", "1",
        "-vf", f"scale=w='min({max_width},iw)':h=-2:flags=bicubic,format=yuvj420p",
        "-q:v", "3",
        "-update", "1",
        "-f", "image2",
        output,
    ]
    # fmt: on


def proxy_args(source: str, output: str, *, width: int, height: int, has_audio: bool) -> list[str]:
    """A review proxy of ``source``: H.264 (yuv420p) + AAC stereo MP4 of ``width`` x ``height``
    (see :func:`proxy_size`), ``+faststart`` so a browser can play it while it downloads."""
    args = [ffmpeg_exe(), *_COMMON, "-i", source, "-map", "0:v:0"]
    if has_audio:
        args += ["-map", "0:a:0"]
    # fmt: off
    args += [
        "-sn", "-dn",
        "-vf", f"scale={width}:{height}:flags=bicubic,format=yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
    ]
    # fmt: on
    if has_audio:
        args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    return [*args, "-movflags", "+faststart", "-f", "mp4", output]


def video_derivatives_args(
    source: str,
    thumbnail: str,
    proxy: str,
    *,
    seek: float,
    width: int,
    height: int,
    has_audio: bool,
    max_width: int = THUMBNAIL_MAX_WIDTH,
) -> list[str]:
    """The poster frame and the review proxy of a video in one FFmpeg run: the source is read and
    decoded once, its picture split in two.

    The thumbnail branch drops the frames before ``seek`` seconds (``trim``) and keeps the first one
    after (a second ``trim`` ends the branch there, so the frames after it are neither scaled nor
    converted: about 10 % of the run's CPU for a 10 s 1080p clip), scaled as in :func:`thumbnail_args`
    (at most ``max_width`` wide, JPEG); the proxy branch is
    :func:`proxy_args`'s (``width`` x ``height`` H.264 + AAC, ``+faststart``). Same outputs as the two
    commands, one demux and one decode instead of two.
    """
    graph = (
        "[0:v:0]split=2[poster][review];"
        f"[poster]trim=start={seek:.3f},trim=end_frame=1,"
        f"scale=w='min({max_width},iw)':h=-2:flags=bicubic,format=yuvj420p[t];"
        f"[review]scale={width}:{height}:flags=bicubic,format=yuv420p[p]"
    )
    # fmt: off
    args = [
        ffmpeg_exe(), *_COMMON,
        "-i", source,
        "-filter_complex", graph,
        "-map", "[t]", "-frames:v", "1", "-q:v", "3", "-update", "1", "-f", "image2", thumbnail,
        "-map", "[p]",
    ]
    if has_audio:
        args += ["-map", "0:a:0"]
    args += [
        "-sn", "-dn",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
    ]
    # fmt: on
    if has_audio:
        args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2"]
    return [*args, "-movflags", "+faststart", "-f", "mp4", proxy]


def waveform_args(
    source: str, output: str, *, size: tuple[int, int] = WAVEFORM_SIZE, color: str = WAVEFORM_COLOR
) -> list[str]:
    """A PNG waveform of the first audio stream of ``source`` (``showwavespic``, mono mix)."""
    width, height = size
    graph = f"[0:a:0]aformat=channel_layouts=mono,showwavespic=s={width}x{height}:colors={color}[w]"
    # fmt: off
    return [
        ffmpeg_exe(), *_COMMON,
        "-i", source,
        "-filter_complex", graph,
        "-map", "[w]",
        "-frames:v", "1",
        "-update", "1",
        "-f", "image2",
        output,
    ]
    # fmt: on
