"""Every render preset in one place: what it makes, which options it takes, and the FFmpeg it runs.

Presets
-------
``hls``
    An adaptive HLS ladder (1080p, 720p, 480p; never above the source height, and at least one rung:
    the source height when it is below 480), H.264 + AAC in MPEG-TS segments of
    :data:`SEGMENT_SECONDS` seconds with keyframes aligned across renditions (GOP = fps x segment,
    ``-sc_threshold 0`` and ``-force_key_frames``), and a master playlist. The source is decoded ONCE:
    ``-filter_complex split=N`` feeds every rendition and ``-var_stream_map`` names them.
``review-mp4``
    One H.264 + AAC MP4 no taller than 1080 lines, ``+faststart`` so it plays while downloading.
``filmstrip``
    One JPEG of ``frames`` (default 10) evenly spaced frames, tiled (``select`` + ``tile``).

Options (``RenderOptions``; camelCase on the wire, unknown keys are refused)
--------------------------------------------------------------------------
``startFrame`` / ``endFrame``
    Trim by frame numbers: 0-based, ``startFrame`` included, ``endFrame`` excluded (the out point).
``startTimecode`` / ``endTimecode``
    The same in SMPTE timecode at the source frame rate (``00:00:00:00`` is frame 0): non-drop
    ``HH:MM:SS:FF``, or drop-frame ``HH:MM:SS;FF`` at 29.97 / 59.94 fps, parsed by the studio's one
    timecode module :mod:`keyframe.timecode` (so a review comment's timecode is a valid trim
    point as it is).
``burnIn``
    ``{frameNumber, assetName, version}``: text drawn on the frames (``drawtext``).
``watermark``
    ``review-mp4`` only: a visible watermark across the picture naming the member who requested the
    copy (e-mail, user id, request time). It identifies the viewer because **only that member (and a
    studio ADMIN) may download the copy**: ``/download`` answers 403 ``WATERMARKED_FOR_ANOTHER_MEMBER``
    to anyone else, who requests their own watermarked copy.
``frames``
    ``filmstrip`` only: how many frames the strip holds (1-60).

Everything here is pure (no I/O): :func:`plan` validates a request against the source media and
:func:`build_command` turns a plan into an FFmpeg argument list.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator

from keyframe import timecode
from keyframe.errors import InvalidInput
from keyframe.schemas import RequestModel

PresetName = Literal["hls", "review-mp4", "filmstrip", "scene-frames", "scene-review"]
"""Every preset's wire name; the two ``scene-*`` presets are declared in :mod:`keyframe.renders.scenes`."""

SEGMENT_SECONDS = 4
"""HLS segment length (seconds); every rendition has a keyframe at each multiple of it."""

X264_PRESET = "veryfast"
AUDIO_BITRATE_KBPS = 128
REVIEW_MAX_HEIGHT = 1080
REVIEW_CRF = 20
FILMSTRIP_DEFAULT_FRAMES = 10
FILMSTRIP_MAX_FRAMES = 60
FILMSTRIP_COLUMNS = 5
FILMSTRIP_THUMB_HEIGHT = 180
MAX_TEXT_CHARS = 120
TIMECODE_PATTERN = timecode.TIMECODE_PATTERN.pattern
"""``HH:MM:SS:FF`` or drop-frame ``HH:MM:SS;FF`` (the shape :mod:`keyframe.timecode` parses)."""


def timecode_frame(text: str, fps: float) -> int:
    """The source frame (0-based) a trim timecode names at ``fps``.

    Raises
    ------
    InvalidInput
        (``INVALID_TIMECODE``) malformed, a frame label not below the nominal rate, drop-frame at a
        rate without one (only 29.97 and 59.94 have it), or a drop-frame label that is skipped.

    Examples
    --------
    >>> timecode_frame("00:00:01:12", 24)
    36
    >>> timecode_frame("00:01:00;02", 29.97)
    1800
    """
    try:
        return timecode.to_frames(timecode.parse_timecode(text), fps)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a usable timecode: {exc}", code="INVALID_TIMECODE") from exc


@dataclass(frozen=True)
class Rung:
    """One rendition of the HLS ladder: ``name`` (e.g. ``720p``), height (pixels), video bitrate (kbit/s)."""

    name: str
    height: int
    video_kbps: int


LADDER: tuple[Rung, ...] = (
    Rung("1080p", 1080, 5000),
    Rung("720p", 720, 2800),
    Rung("480p", 480, 1400),
)
"""The HLS ladder, tallest first."""

SMALL_RUNG_KBPS = 800
"""Video bitrate of the single rung made when the source is shorter than 480 lines (kbit/s)."""


# --------------------------------------------------------------------------------------------- options
class BurnIn(RequestModel):
    """What to draw on every frame."""

    frame_number: bool = False
    asset_name: bool = False
    version: bool = False

    @property
    def any(self) -> bool:
        """True when at least one text is asked for."""
        return self.frame_number or self.asset_name or self.version


class RenderOptions(RequestModel):
    """The ``options`` of a render request (every field optional; unknown fields are refused)."""

    start_frame: int | None = Field(default=None, ge=0, description="First frame (0-based, included)")
    end_frame: int | None = Field(default=None, ge=1, description="Out point (frame number, excluded)")
    start_timecode: str | None = Field(
        default=None,
        pattern=TIMECODE_PATTERN,
        description="First frame as HH:MM:SS:FF (drop-frame HH:MM:SS;FF)",
    )
    end_timecode: str | None = Field(
        default=None,
        pattern=TIMECODE_PATTERN,
        description="Out point as HH:MM:SS:FF (drop-frame HH:MM:SS;FF)",
    )
    burn_in: BurnIn | None = None
    watermark: bool | None = Field(
        default=None,
        description="review-mp4 only: a visible watermark naming the requester; only the requester (and "
        "ADMINs) may then download the copy",
    )
    frames: int | None = Field(default=None, ge=1, le=FILMSTRIP_MAX_FRAMES, description="filmstrip only")

    @model_validator(mode="after")
    def _one_way_to_trim(self) -> RenderOptions:
        by_frames = self.start_frame is not None or self.end_frame is not None
        by_timecode = self.start_timecode is not None or self.end_timecode is not None
        if by_frames and by_timecode:
            raise ValueError("trim by frames or by timecode, not both")
        if self.start_frame is not None and self.end_frame is not None and self.end_frame <= self.start_frame:
            raise ValueError("endFrame must be greater than startFrame")
        return self

    def given(self) -> set[str]:
        """The camelCase names of the options the request actually set to something."""
        dumped = self.model_dump(by_alias=True, exclude_none=True, exclude_unset=True)
        return {name for name, value in dumped.items() if value is not False}


# --------------------------------------------------------------------------------------------- presets
@dataclass(frozen=True)
class Preset:
    """A preset's declaration.

    Attributes
    ----------
    name:
        The wire name (``hls``...).
    description:
        One line for the API docs.
    options:
        camelCase option names this preset accepts.
    primary:
        The output file a client opens (relative to the attempt's output folder).
    content_type:
        MIME type of ``primary``.
    playable:
        True when the output is played through ``/playback`` (HLS), False when it is downloaded.
    """

    name: str
    description: str
    options: frozenset[str]
    primary: str
    content_type: str
    playable: bool


_TRIM = frozenset({"startFrame", "endFrame", "startTimecode", "endTimecode"})
_SCENE = frozenset({"frameStart", "frameEnd", "frameStep", "chunkSize", "resolutionPercent", "engine",
                    "samples", "camera", "format"})  # fmt: skip

PRESETS: dict[str, Preset] = {
    "hls": Preset(
        "hls",
        "Adaptive HLS ladder (1080p/720p/480p, never above the source), H.264 + AAC, 4 s segments",
        _TRIM | {"burnIn"},
        "master.m3u8",
        "application/vnd.apple.mpegurl",
        playable=True,
    ),
    "review-mp4": Preset(
        "review-mp4",
        "H.264 + AAC review copy, at most 1080 lines, faststart; with options.watermark it names the "
        "requester, who alone (with ADMINs) may download it",
        _TRIM | {"burnIn", "watermark"},
        "review.mp4",
        "video/mp4",
        playable=False,
    ),
    "filmstrip": Preset(
        "filmstrip",
        "One JPEG of N evenly spaced frames (options.frames, default 10)",
        _TRIM | {"burnIn", "frames"},
        "filmstrip.jpg",
        "image/jpeg",
        playable=False,
    ),
    "scene-frames": Preset(
        "scene-frames",
        "A Blender or Synfig scene rendered in chunks on a Batch array job to numbered PNG (or EXR) frames",
        _SCENE,
        "frames.json",
        "application/json",
        playable=False,
    ),
    "scene-review": Preset(
        "scene-review",
        "A Blender or Synfig scene rendered to frames, then a review MP4 and an HLS ladder of them",
        _SCENE,
        "hls/master.m3u8",
        "application/vnd.apple.mpegurl",
        playable=True,
    ),
}
"""Every preset by name: the one declaration the API, the worker and the docs read (the scene presets'
options and steps: :mod:`keyframe.renders.scenes`)."""

CONTENT_TYPES: dict[str, str] = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".exr": "image/x-exr",
    ".json": "application/json",
}
"""Content type of each output file by suffix (set on upload so browsers and players accept them)."""


def preset(name: str) -> Preset:
    """The preset called ``name``.

    Raises
    ------
    InvalidInput
        (``UNKNOWN_PRESET``) no such preset.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInput(
            f"Unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}",
            code="UNKNOWN_PRESET",
            details={"presets": sorted(PRESETS)},
        ) from None


# --------------------------------------------------------------------------------------------- planning
@dataclass(frozen=True)
class SourceMedia:
    """What the render reads: display size (pixels), frame rate (fps), duration (s), frames, audio."""

    width: int
    height: int
    fps: float
    duration: float
    frame_count: int
    has_audio: bool

    @classmethod
    def from_media(cls, media: dict[str, Any]) -> SourceMedia:
        """Build from a version's ``media`` (``width``, ``height``, ``fps``, ``duration``, ``frameCount``,
        ``codecs: {video, audio}``), as the pipeline's probe stores it.

        Raises
        ------
        InvalidInput
            (``SOURCE_NOT_VIDEO``) the version has no video size or frame rate.
        """
        try:
            width, height = int(media["width"]), int(media["height"])
            fps = float(media["fps"])
            duration = float(media.get("duration") or 0)
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                "This version is not a video that can be rendered", code="SOURCE_NOT_VIDEO"
            ) from None
        if width <= 0 or height <= 0 or fps <= 0:
            raise InvalidInput("This version is not a video that can be rendered", code="SOURCE_NOT_VIDEO")
        frames = media.get("frameCount") or media.get("frames")
        frame_count = int(frames) if frames else max(1, round(duration * fps))
        codecs = media.get("codecs")
        has_audio = bool(media.get("hasAudio") or (isinstance(codecs, dict) and "audio" in codecs))
        return cls(width, height, fps, duration or frame_count / fps, frame_count, has_audio)


@dataclass(frozen=True)
class FrameRange:
    """Frames ``[start, end)`` of the source (0-based; ``end`` excluded)."""

    start: int
    end: int

    @property
    def count(self) -> int:
        """How many frames the range holds."""
        return self.end - self.start

    def to_json(self) -> dict[str, int]:
        """``{"startFrame", "endFrame"}``."""
        return {"startFrame": self.start, "endFrame": self.end}


@dataclass(frozen=True)
class RenderTexts:
    """The words the burn-in and the watermark draw (captured when the job is requested)."""

    asset_name: str = ""
    version_label: str = ""
    watermark: str = ""


@dataclass(frozen=True)
class RenderPlan:
    """A validated render: preset, source, frame range and what to draw."""

    preset: Preset
    source: SourceMedia
    frames: FrameRange
    burn_in: BurnIn | None = None
    watermark: bool = False
    filmstrip_frames: int = FILMSTRIP_DEFAULT_FRAMES
    texts: RenderTexts = field(default_factory=RenderTexts)

    @property
    def trimmed(self) -> bool:
        """True unless the range is the whole source."""
        return self.frames.start > 0 or self.frames.end < self.source.frame_count

    @property
    def duration(self) -> float:
        """Seconds of output (the frame range at the source rate)."""
        return self.frames.count / self.source.fps

    @property
    def draws_text(self) -> bool:
        """True when the render needs ``drawtext`` (burn-in or watermark)."""
        return bool(self.watermark or (self.burn_in and self.burn_in.any))


def resolve_frames(options: RenderOptions, source: SourceMedia) -> FrameRange:
    """The frame range the options ask for, checked against the source.

    Raises
    ------
    InvalidInput
        (``INVALID_TIMECODE``) a malformed timecode; (``TRIM_OUT_OF_RANGE``) a range that is empty
        or reaches past the last frame.
    """
    start, end = options.start_frame, options.end_frame
    if options.start_timecode is not None:
        start = timecode_frame(options.start_timecode, source.fps)
    if options.end_timecode is not None:
        end = timecode_frame(options.end_timecode, source.fps)
    start = 0 if start is None else start
    end = source.frame_count if end is None else end
    if not 0 <= start < end <= source.frame_count:
        raise InvalidInput(
            f"The trim [{start}, {end}) is outside the source's {source.frame_count} frames "
            f"({source.duration:.3f} s at {source.fps:g} fps)",
            code="TRIM_OUT_OF_RANGE",
            details={"startFrame": start, "endFrame": end, "frameCount": source.frame_count},
        )
    return FrameRange(start, end)


def plan(
    preset_name: str, options: RenderOptions | None, source: SourceMedia, texts: RenderTexts | None = None
) -> RenderPlan:
    """Validate a render request against its preset and source media.

    Parameters
    ----------
    preset_name:
        A key of :data:`PRESETS`.
    options:
        The request's options (``None``: defaults).
    source:
        The source version's media (from the catalog at request time, from a probe in the worker).
    texts:
        Burn-in and watermark words.

    Raises
    ------
    InvalidInput
        ``UNKNOWN_PRESET``; ``UNSUPPORTED_OPTION`` (an option this preset does not take);
        ``TRIM_OUT_OF_RANGE`` / ``INVALID_TIMECODE``; ``TOO_FEW_FRAMES`` (a filmstrip of more
        frames than the range holds).
    """
    spec = preset(preset_name)
    options = options or RenderOptions()
    unsupported = sorted(options.given() - spec.options)
    if unsupported:
        raise InvalidInput(
            f"The {spec.name} preset does not take {', '.join(unsupported)}",
            code="UNSUPPORTED_OPTION",
            details={"preset": spec.name, "unsupported": unsupported, "supported": sorted(spec.options)},
        )
    frames = resolve_frames(options, source)
    strip = options.frames or FILMSTRIP_DEFAULT_FRAMES
    if spec.name == "filmstrip" and strip > frames.count:
        raise InvalidInput(
            f"A filmstrip of {strip} frames needs {strip} source frames; the range has {frames.count}",
            code="TOO_FEW_FRAMES",
        )
    return RenderPlan(
        preset=spec,
        source=source,
        frames=frames,
        burn_in=options.burn_in if options.burn_in and options.burn_in.any else None,
        watermark=bool(options.watermark),
        filmstrip_frames=strip,
        texts=texts or RenderTexts(),
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
