"""Where the local stack finds FFmpeg: the system's if installed, else the ``imageio-ffmpeg`` wheel's.

The wheel's binary has a versioned file name (``ffmpeg-linux-x86_64-v9.0.2``) and no ``ffprobe``, so
:func:`tools_dir` makes a folder holding an ``ffmpeg`` link to it; the local stack puts that folder
first on ``PATH`` for itself and every Batch job it runs, so code can simply call ``ffmpeg``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from keyframe.media.ffmpeg import ffmpeg_exe, ffprobe_exe


def ffmpeg_path() -> str:
    """Absolute path of an ``ffmpeg`` executable: ``PATH``'s, else the ``imageio-ffmpeg`` wheel's.

    The one lookup is :func:`keyframe.media.ffmpeg.ffmpeg_exe` (what the media code runs).

    Raises
    ------
    keyframe.media.errors.MediaToolError
        Neither is available.
    """
    return str(ffmpeg_exe())


def ffprobe_path() -> str | None:
    """Absolute path of ``ffprobe`` if the system has one (the imageio-ffmpeg wheel has none)."""
    return ffprobe_exe()


def tools_dir(state_dir: Path) -> Path:
    """A folder with an executable named ``ffmpeg`` (a link to :func:`ffmpeg_path`), for ``PATH``.

    Parameters
    ----------
    state_dir:
        The local stack's state folder; the link lives in ``state_dir/bin``.
    """
    target = Path(ffmpeg_path())
    if target.name == "ffmpeg":
        return target.parent
    folder = state_dir / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "ffmpeg"
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return folder
        link.unlink()
    with contextlib.suppress(FileExistsError):  # another process made it meanwhile
        link.symlink_to(target)
    return folder


def path_with_tools(state_dir: Path, path: str | None = None) -> str:
    """``path`` (default ``$PATH``) with :func:`tools_dir` in front (once)."""
    folder = str(tools_dir(state_dir))
    current = [p for p in (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep) if p]
    return os.pathsep.join([folder, *[p for p in current if p != folder]])
