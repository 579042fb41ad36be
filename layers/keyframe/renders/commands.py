"""The FFmpeg command line of a render plan (:func:`keyframe.renders.presets.plan`): the HLS ladder,
the review MP4 and the filmstrip, with trims, burn-ins and watermarks as filters (pure: no I/O).

:func:`build_command` turns a plan into an FFmpeg argument list; what each preset makes and which
options it takes is :mod:`keyframe.renders.presets`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from keyframe.renders.presets import (
    AUDIO_BITRATE_KBPS,
    FILMSTRIP_COLUMNS,
    FILMSTRIP_THUMB_HEIGHT,
    LADDER,
    MAX_TEXT_CHARS,
    REVIEW_CRF,
    REVIEW_MAX_HEIGHT,
    SEGMENT_SECONDS,
    SMALL_RUNG_KBPS,
    X264_PRESET,
    RenderPlan,
    Rung,
    SourceMedia,
)


# --------------------------------------------------------------------------------------------- ffmpeg
def even(value: float) -> int:
    """``value`` rounded to the nearest even integer, at least 2 (H.264 with 4:2:0 needs even sizes)."""
    return max(2, round(value / 2) * 2)


def ladder_for(height: int) -> list[Rung]:
    """The rungs of :data:`LADDER` no taller than ``height``; one rung of the source height if none.

    Examples
    --------
    >>> [r.name for r in ladder_for(720)]
    ['720p', '480p']
    >>> [r.name for r in ladder_for(360)]
    ['360p']
    """
    rungs = [rung for rung in LADDER if rung.height <= height]
    if rungs:
        return rungs
    small = height - height % 2
    return [Rung(f"{small}p", small, SMALL_RUNG_KBPS)]


def scaled_width(source: SourceMedia, height: int) -> int:
    """The even width that keeps the source's aspect ratio at ``height`` (square pixels)."""
    return even(source.width * height / source.height)


def gop_frames(fps: float) -> int:
    """Frames per GOP: one keyframe every :data:`SEGMENT_SECONDS` at ``fps``."""
    return max(1, round(fps * SEGMENT_SECONDS))


@dataclass(frozen=True)
class Rendition:
    """One output picture size: ``name``, ``width``/``height`` (px), ``bandwidth`` (bit/s, video+audio)."""

    name: str
    width: int
    height: int
    bandwidth: int

    def to_json(self) -> dict[str, Any]:
        """``{"name", "width", "height", "bandwidth"}``."""
        return {"name": self.name, "width": self.width, "height": self.height, "bandwidth": self.bandwidth}


@dataclass(frozen=True)
class FfmpegCommand:
    """What the worker runs.

    Attributes
    ----------
    args:
        The full argument list (``args[0]`` is the ffmpeg executable), with ``-progress pipe:1``.
    output_dir:
        Folder every output file is written under.
    primary:
        The file clients open, relative to ``output_dir``.
    renditions:
        The picture sizes made (HLS: one per rung).
    text_files:
        ``{absolute path: text}`` files ``drawtext`` reads; write them before running.
    duration:
        Seconds of output (for progress).
    """

    args: list[str]
    output_dir: str
    primary: str
    renditions: list[Rendition]
    text_files: dict[str, str]
    duration: float

    def without_progress(self) -> list[str]:
        """``args`` without ``-progress pipe:1 -nostats`` (the plain FFmpeg run benchmarks compare to)."""
        out, skip = [], 0
        for arg in self.args:
            if skip:
                skip -= 1
                continue
            if arg == "-progress":
                skip = 1
                continue
            if arg != "-nostats":
                out.append(arg)
        return out


_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


def _filter_path(path: str) -> str:
    """A path quoted for a filter option; refuses characters the filtergraph syntax would mangle."""
    if not _SAFE_PATH.match(path):
        raise ValueError(f"unsafe path for a filter argument: {path!r}")
    return f"'{path}'"


def clean_text(text: str) -> str:
    """One printable line of at most :data:`MAX_TEXT_CHARS` characters (what ``drawtext`` is given)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line[:MAX_TEXT_CHARS]


def _text_style(font_file: str | None, size: str, color: str = "white", box: bool = True) -> str:
    style = f"fontsize={size}:fontcolor={color}"
    if box:
        style += ":box=1:boxcolor=black@0.5:boxborderw=6"
    if font_file:
        style += f":fontfile={_filter_path(font_file)}"
    return style


def _text_filters(
    plan_: RenderPlan, work_dir: str, font_file: str | None
) -> tuple[list[str], dict[str, str]]:
    """drawtext filters for the burn-in and watermark, and the text files they read."""
    filters: list[str] = []
    files: dict[str, str] = {}
    margin = "h/40"
    burn = plan_.burn_in
    if burn and burn.frame_number:
        # %{eif:n+START:d}: the SOURCE frame number (n counts from 0 at the trim's first frame)
        filters.append(
            f"drawtext=text='%{{eif\\:n+{plan_.frames.start}\\:d}}':x=w-tw-{margin}:y=h-th-{margin}:"
            + _text_style(font_file, "h/24")
        )
    for wanted, name, text, position in (
        (burn and burn.asset_name, "asset-name.txt", plan_.texts.asset_name, f"x={margin}:y={margin}"),
        (burn and burn.version, "version.txt", plan_.texts.version_label, f"x=w-tw-{margin}:y={margin}"),
    ):
        if wanted:
            path = f"{work_dir}/{name}"
            files[path] = clean_text(text) or " "
            filters.append(
                f"drawtext=textfile={_filter_path(path)}:expansion=none:{position}:"
                + _text_style(font_file, "h/24")
            )
    if plan_.watermark:
        path = f"{work_dir}/watermark.txt"
        files[path] = clean_text(plan_.texts.watermark) or " "
        filters.append(
            f"drawtext=textfile={_filter_path(path)}:expansion=none:x=(w-tw)/2:y=(h-th)/2:"
            + _text_style(font_file, "h/18", color="white@0.4", box=False)
        )
    return filters, files


def _input_args(plan_: RenderPlan, input_path: str) -> list[str]:
    args: list[str] = []
    if plan_.trimmed:
        fps = plan_.source.fps
        args += ["-ss", f"{plan_.frames.start / fps:.6f}", "-t", f"{plan_.frames.count / fps:.6f}"]
    return [*args, "-i", input_path]


def _keyframe_args(fps: float) -> list[str]:
    gop = str(gop_frames(fps))
    return [
        "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
    ]  # fmt: skip


def _hls(plan_: RenderPlan, out: str, pre: list[str]) -> tuple[list[str], list[Rendition]]:
    source = plan_.source
    rungs = ladder_for(source.height)
    count = len(rungs)
    labels = "".join(f"[s{i}]" for i in range(count))
    chains = [f"[0:v]{''.join(f + ',' for f in pre)}split={count}{labels}"]
    renditions: list[Rendition] = []
    maps: list[str] = []
    rates: list[str] = []
    stream_map: list[str] = []
    audio_bps = AUDIO_BITRATE_KBPS * 1000 if source.has_audio else 0
    for i, rung in enumerate(rungs):
        width = scaled_width(source, rung.height)
        chains.append(f"[s{i}]scale={width}:{rung.height},setsar=1[v{i}]")
        maps += ["-map", f"[v{i}]"] + (["-map", "0:a:0"] if source.has_audio else [])
        kbps = rung.video_kbps
        rates += [f"-b:v:{i}", f"{kbps}k", f"-maxrate:v:{i}", f"{int(kbps * 1.07)}k"]
        rates += [f"-bufsize:v:{i}", f"{kbps * 3 // 2}k"]
        stream_map.append(f"v:{i}" + (f",a:{i}" if source.has_audio else "") + f",name:{rung.name}")
        renditions.append(Rendition(rung.name, width, rung.height, kbps * 1000 + audio_bps))
    audio = ["-c:a", "aac", "-b:a", f"{AUDIO_BITRATE_KBPS}k", "-ac", "2"] if source.has_audio else []
    args = [
        "-filter_complex", ";".join(chains), *maps,
        "-c:v", "libx264", "-preset", X264_PRESET, "-pix_fmt", "yuv420p", *rates,
        *_keyframe_args(source.fps), *audio,
        "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
        "-hls_segment_filename", f"{out}/%v/segment_%03d.ts",
        "-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(stream_map),
    ]  # fmt: skip
    return args, renditions


def _review(plan_: RenderPlan, pre: list[str]) -> tuple[list[str], list[Rendition]]:
    source = plan_.source
    height = min(REVIEW_MAX_HEIGHT, source.height - source.height % 2)
    width = scaled_width(source, height)
    audio = (
        ["-map", "0:a:0", "-c:a", "aac", "-b:a", f"{AUDIO_BITRATE_KBPS}k", "-ac", "2"]
        if source.has_audio
        else ["-an"]
    )
    args = [
        "-vf", ",".join([*pre, f"scale={width}:{height}", "setsar=1"]), "-map", "0:v:0",
        "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(REVIEW_CRF), "-pix_fmt", "yuv420p",
        *_keyframe_args(source.fps), *audio, "-movflags", "+faststart",
    ]  # fmt: skip
    return args, [Rendition("review", width, height, 0)]


def _filmstrip(plan_: RenderPlan, pre: list[str]) -> tuple[list[str], list[Rendition]]:
    source = plan_.source
    count = plan_.filmstrip_frames
    step = max(1, plan_.frames.count // count)
    columns = min(count, FILMSTRIP_COLUMNS)
    rows = math.ceil(count / columns)
    thumb_h = min(FILMSTRIP_THUMB_HEIGHT, source.height - source.height % 2)
    thumb_w = scaled_width(source, thumb_h)
    chain = [
        *pre,
        f"select='not(mod(n\\,{step}))*lt(n\\,{step * count})'",
        f"scale={thumb_w}:{thumb_h}",
        "setsar=1",
        f"tile={columns}x{rows}",
    ]
    args = ["-vf", ",".join(chain), "-map", "0:v:0", "-an", "-fps_mode", "vfr", "-frames:v", "1", "-q:v", "3",
            "-update", "1"]  # fmt: skip
    return args, [Rendition("filmstrip", thumb_w * columns, thumb_h * rows, 0)]


def build_command(
    plan_: RenderPlan,
    input_path: str,
    output_dir: str,
    *,
    work_dir: str | None = None,
    ffmpeg: str = "ffmpeg",
    font_file: str | None = None,
) -> FfmpegCommand:
    """The FFmpeg command that renders ``plan_`` from ``input_path`` into ``output_dir``.

    Parameters
    ----------
    plan_:
        From :func:`plan`.
    input_path:
        Local path of the source file.
    output_dir:
        Existing folder for the outputs (HLS: ``master.m3u8`` and ``{rendition}/index.m3u8`` +
        ``{rendition}/segment_NNN.ts``).
    work_dir:
        Folder for the drawtext text files (default ``output_dir``'s parent).
    ffmpeg:
        The ffmpeg executable.
    font_file:
        A TrueType font for ``drawtext`` (default: fontconfig's choice).

    Returns
    -------
    FfmpegCommand
        Arguments with ``-progress pipe:1 -nostats`` (key=value progress on stdout).
    """
    work = work_dir or output_dir.rsplit("/", 1)[0]
    pre, text_files = _text_filters(plan_, work, font_file)
    name = plan_.preset.name
    if name == "hls":
        body, renditions = _hls(plan_, output_dir, pre)
        target = f"{output_dir}/%v/index.m3u8"
    elif name == "review-mp4":
        body, renditions = _review(plan_, pre)
        target = f"{output_dir}/{plan_.preset.primary}"
    else:
        body, renditions = _filmstrip(plan_, pre)
        target = f"{output_dir}/{plan_.preset.primary}"
    args = [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        *_input_args(plan_, input_path), *body, "-progress", "pipe:1", "-nostats", target,
    ]  # fmt: skip
    return FfmpegCommand(args, output_dir, plan_.preset.primary, renditions, text_files, plan_.duration)
