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

Everything here is pure (no I/O): :func:`plan` validates a request against the source media;
:func:`keyframe.renders.commands.build_command` turns a plan into an FFmpeg argument list.
"""

from __future__ import annotations

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
