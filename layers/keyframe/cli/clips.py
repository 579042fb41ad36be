"""Short test clips made with FFmpeg, with nothing but the registries' packages.

FFmpeg is the machine's (``ffmpeg`` on ``PATH``) or the static build inside the ``imageio-ffmpeg``
wheel. :func:`make_clip` writes FFmpeg's ``testsrc2`` pattern with a 440 Hz tone: H.264 + AAC in MP4,
24 fps, a few hundred kilobytes per second at 720p.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DEFAULT_SECONDS = 3.0


class ClipError(Exception):
    """FFmpeg is missing or could not make the clip."""


def ffmpeg_exe() -> str:
    """``ffmpeg`` from ``PATH``, else the static build of the ``imageio-ffmpeg`` wheel.

    Raises
    ------
    ClipError
        Neither is there.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # noqa: PLC0415 - optional dev dependency, only when there is no FFmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise ClipError("FFmpeg is needed to make the demo clip: install ffmpeg or pass --file") from exc


def make_clip(path: Path, seconds: float = DEFAULT_SECONDS, size: str = "1280x720") -> Path:
    """An H.264 + AAC MP4 of FFmpeg's ``testsrc2`` pattern with a 440 Hz tone (24 fps).

    Raises
    ------
    ClipError
        FFmpeg is missing or failed.
    """
    args = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise ClipError(f"FFmpeg could not make the demo clip: {done.stderr.strip()[-300:]}")
    return path
