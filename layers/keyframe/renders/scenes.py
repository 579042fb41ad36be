"""Scene renders: the ``scene-frames`` and ``scene-review`` presets, their options, chunking and the
settings a render resolves (pure: no I/O). What Blender and Synfig are asked (probes, command lines)
and where a scene's referenced files go is :mod:`keyframe.renders.scene_renderers`.

Presets
-------
``scene-frames``
    A Blender (``.blend``) or Synfig (``.sif``/``.sifz``) scene rendered to an image sequence:
    PNG, or OpenEXR for Blender (``format: EXR``), one file per frame named by its frame number,
    ``studios/{s}/renders/{jobId}/frames/frame_000042.png``, plus a manifest ``frames.json`` in the
    attempt's output folder (its primary output).
``scene-review``
    The same frames, then the review copies through the existing presets: ``review.mp4``
    (:data:`keyframe.renders.presets.PRESETS` ``review-mp4``) and an HLS ladder under ``hls/``
    (``hls``), assembled with FFmpeg once every frame is present.

Options (``SceneOptions``, camelCase on the wire)
-------------------------------------------------
``frameStart`` / ``frameEnd`` / ``frameStep``
    Scene frame numbers, both ends included (Blender's convention; Synfig's frame 0 is its
    ``begin-time``). Defaults: the scene's own range, read by the probe step; step 1.
``chunkSize``
    Frames per Batch array child (default: :data:`DEFAULT_CHUNK_SECONDS` of work at the measured
    seconds per frame of the engine, at least 1); at most :data:`MAX_CHUNKS` children.
``resolutionPercent``
    1-100 % of the scene's resolution (default 100).
``engine``
    Blender only: ``WORKBENCH`` (the fastest CPU engine, the default), ``EEVEE`` (needs OpenGL;
    software EGL on a CPU-only host is about 60 s a frame at 320x240) or ``CYCLES`` with ``samples``.
``camera``
    Blender only: the camera object to render from (default: the scene's).

Bad input answers 400 before anything is queued: ``frameEnd < frameStart`` (``INVALID_FRAME_RANGE``),
``chunkSize: 0`` (validation), more than :data:`MAX_FRAMES` frames (``TOO_MANY_FRAMES``) or chunks
(``TOO_MANY_CHUNKS``), Blender-only options on a Synfig scene (``UNSUPPORTED_OPTION``).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from keyframe.errors import InvalidInput
from keyframe.schemas import RequestModel

SCENE_PRESETS = frozenset({"scene-frames", "scene-review"})
"""The presets that render a scene file (every other preset re-encodes a video)."""

SCENE_FORMATS: dict[str, str] = {"blend": "blender", "sif": "synfig", "sifz": "synfig"}
"""Scene formats the pipeline identifies (``media.format``) -> the renderer that renders them."""

MAX_FRAMES = 100_000
"""Frames one render may have (about 70 minutes at 24 fps)."""

MAX_CHUNKS = 10_000
"""AWS Batch's limit of children per array job."""

DEFAULT_CHUNK_SECONDS = 180
"""A default chunk holds about this much work (seconds), within the issue's 2-5 minutes."""

SECONDS_PER_FRAME: dict[str, float] = {"WORKBENCH": 0.5, "EEVEE": 60.0, "CYCLES": 30.0, "synfig": 0.2}
"""Seconds one frame takes per engine on one Batch vCPU pair, for the default chunk size (Workbench
and Synfig measured on this project's 2-core machine at 320x240, rounded up for real scenes; Cycles
assumes ~64 samples at 1080p)."""

FRAME_DIGITS = 6
FRAME_PATTERN = re.compile(r"frame_(\d{6})\.(png|exr)$")


class Engine(StrEnum):
    """Blender render engines a scene render may use."""

    WORKBENCH = "WORKBENCH"
    EEVEE = "EEVEE"
    CYCLES = "CYCLES"


class ImageFormat(StrEnum):
    """The frames' file format (EXR: Blender only)."""

    PNG = "PNG"
    EXR = "EXR"


class SceneOptions(RequestModel):
    """The ``options`` of a ``scene-frames`` / ``scene-review`` request (every field optional)."""

    frame_start: int | None = Field(default=None, ge=0, le=1_048_574, description="First frame (included)")
    frame_end: int | None = Field(default=None, ge=0, le=1_048_574, description="Last frame (included)")
    frame_step: int = Field(default=1, ge=1, le=1000, description="Render every n-th frame")
    chunk_size: int | None = Field(default=None, ge=1, le=MAX_FRAMES, description="Frames per Batch child")
    resolution_percent: int = Field(default=100, ge=1, le=100, description="Percent of the scene's size")
    engine: Engine | None = Field(default=None, description="Blender only (default WORKBENCH)")
    samples: int | None = Field(default=None, ge=1, le=4096, description="CYCLES only: samples per pixel")
    camera: str | None = Field(
        default=None, min_length=1, max_length=63, pattern=r"^[\w .-]+$", description="Blender only"
    )
    format: ImageFormat = Field(default=ImageFormat.PNG, description="Frame files (EXR: Blender only)")

    @model_validator(mode="after")
    def _consistent(self) -> SceneOptions:
        if self.frame_start is not None and self.frame_end is not None and self.frame_end < self.frame_start:
            raise ValueError("frameEnd must not be below frameStart")
        if self.samples is not None and self.engine is not Engine.CYCLES:
            raise ValueError("samples only applies to engine CYCLES")
        return self


def is_scene(preset: str) -> bool:
    """True for the scene presets."""
    return preset in SCENE_PRESETS


def renderer_for(media: dict[str, Any] | None) -> str:
    """``blender`` or ``synfig`` for a version's media facts (``kind: scene``, ``format``).

    Raises
    ------
    InvalidInput
        ``SOURCE_NOT_SCENE``: the version is not a Blender or Synfig scene the pipeline identified.
    """
    media = media or {}
    renderer = SCENE_FORMATS.get(str(media.get("format") or "")) if media.get("kind") == "scene" else None
    if renderer is None:
        raise InvalidInput(
            "Scene presets render Blender (.blend) or Synfig (.sif, .sifz) scenes; this version is "
            f"{media.get('kind') or 'unknown'}/{media.get('format') or 'unknown'}",
            code="SOURCE_NOT_SCENE",
            details={"kind": media.get("kind"), "format": media.get("format")},
        )
    return renderer


def check_options(renderer: str, options: SceneOptions) -> None:
    """Refuse options the renderer cannot honour, and ranges too large (before anything is queued).

    Raises
    ------
    InvalidInput
        ``UNSUPPORTED_OPTION`` (engine, samples, camera, EXR on a Synfig scene), ``TOO_MANY_FRAMES``,
        ``TOO_MANY_CHUNKS``.
    """
    if renderer == "synfig":
        given = [name for name, value in (("engine", options.engine), ("samples", options.samples),
                                          ("camera", options.camera)) if value is not None]  # fmt: skip
        if options.format is ImageFormat.EXR:
            given.append("format")
        if given:
            raise InvalidInput(
                f"{', '.join(given)} only apply to Blender scenes",
                code="UNSUPPORTED_OPTION",
                details={"options": given},
            )
    if options.frame_start is not None and options.frame_end is not None:
        check_range(options.frame_start, options.frame_end, options.frame_step, options.chunk_size)


def frame_count(start: int, end: int, step: int) -> int:
    """Frames rendered from ``start`` to ``end`` (both included) every ``step``."""
    return 0 if end < start else (end - start) // step + 1


def check_range(start: int, end: int, step: int, chunk_size: int | None) -> None:
    """Raise ``TOO_MANY_FRAMES`` / ``TOO_MANY_CHUNKS`` / ``INVALID_FRAME_RANGE`` (:class:`InvalidInput`)."""
    if end < start:
        raise InvalidInput(
            f"frameEnd {end} is below frameStart {start}",
            code="INVALID_FRAME_RANGE",
            details={"frameStart": start, "frameEnd": end},
        )
    frames = frame_count(start, end, step)
    if frames > MAX_FRAMES:
        raise InvalidInput(
            f"{frames} frames is more than one render may have ({MAX_FRAMES}); split the range",
            code="TOO_MANY_FRAMES",
            details={"frames": frames, "limit": MAX_FRAMES},
        )
    if chunk_size is not None and math.ceil(frames / chunk_size) > MAX_CHUNKS:
        raise InvalidInput(
            f"{math.ceil(frames / chunk_size)} chunks is more than one array job may have ({MAX_CHUNKS}); "
            "raise chunkSize",
            code="TOO_MANY_CHUNKS",
            details={"chunks": math.ceil(frames / chunk_size), "limit": MAX_CHUNKS},
        )


def default_chunk_size(frames: int, engine_key: str, max_chunks: int = MAX_CHUNKS) -> int:
    """Frames per chunk: about :data:`DEFAULT_CHUNK_SECONDS` of work, within ``max_chunks`` children
    (at most :data:`MAX_CHUNKS`; the studio's vCPU budget gives a lower one: ``keyframe.renders.vcpus``)."""
    per_frame = SECONDS_PER_FRAME.get(engine_key, 1.0)
    size = max(1, int(DEFAULT_CHUNK_SECONDS / per_frame))
    return max(size, math.ceil(frames / max(1, min(max_chunks, MAX_CHUNKS))))


def engine_key(renderer: str, engine: Engine | None) -> str:
    """The :data:`SECONDS_PER_FRAME` key: Blender's engine (default WORKBENCH), else the renderer."""
    return (engine or Engine.WORKBENCH).value if renderer == "blender" else renderer


# ------------------------------------------------------------------------------------------ chunking
@dataclass(frozen=True)
class Chunk:
    """One array child's share: scene frames ``start`` to ``end`` (included) every ``step``."""

    index: int
    start: int
    end: int
    step: int

    @property
    def frames(self) -> list[int]:
        """The frame numbers of the chunk."""
        return list(range(self.start, self.end + 1, self.step))

    def to_json(self) -> dict[str, int]:
        """``{index, frameStart, frameEnd, frameStep}``."""
        return {"index": self.index, "frameStart": self.start, "frameEnd": self.end, "frameStep": self.step}


def split(start: int, end: int, step: int, chunk_size: int) -> list[Chunk]:
    """Split the frames into consecutive chunks of ``chunk_size`` frames (the last may be shorter).

    Examples
    --------
    >>> [(c.start, c.end) for c in split(1, 10, 1, 4)]
    [(1, 4), (5, 8), (9, 10)]
    >>> [c.frames for c in split(0, 8, 2, 2)]
    [[0, 2], [4, 6], [8]]
    """
    frames = list(range(start, end + 1, step))
    return [
        Chunk(i, part[0], part[-1], step)
        for i, part in enumerate(frames[n : n + chunk_size] for n in range(0, len(frames), chunk_size))
    ]


def frame_name(frame: int, image_format: str = "PNG") -> str:
    """``frame_000042.png`` (``.exr`` for EXR)."""
    return f"frame_{frame:0{FRAME_DIGITS}d}.{'exr' if image_format == 'EXR' else 'png'}"


def frames_prefix(studio_id: str, job_id: str) -> str:
    """``studios/{s}/renders/{jobId}/frames/``: every attempt's frames (a retry resumes from them)."""
    return f"studios/{studio_id}/renders/{job_id}/frames/"


# ------------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class SceneSettings:
    """What the probe step resolved: the request's options over the scene's own values.

    ``frame_start``/``frame_end`` are scene frame numbers, both included; ``fps`` frames per second;
    ``width``/``height`` the output size in pixels (after ``resolution_percent``).
    """

    renderer: str
    frame_start: int
    frame_end: int
    frame_step: int
    chunk_size: int
    fps: float
    width: int
    height: int
    resolution_percent: int
    engine: str | None
    samples: int | None
    camera: str | None
    image_format: str

    @property
    def frames(self) -> int:
        """Frames rendered."""
        return frame_count(self.frame_start, self.frame_end, self.frame_step)

    def chunks(self) -> list[Chunk]:
        """The chunks of this render."""
        return split(self.frame_start, self.frame_end, self.frame_step, self.chunk_size)

    def to_json(self) -> dict[str, Any]:
        """camelCase JSON (stored on the job as ``scene``)."""
        names = {"frame_start": "frameStart", "frame_end": "frameEnd", "frame_step": "frameStep",
                 "chunk_size": "chunkSize", "resolution_percent": "resolutionPercent",
                 "image_format": "format"}  # fmt: skip
        out = {names.get(k, k): v for k, v in asdict(self).items() if v is not None}
        out["frames"] = self.frames
        out["chunks"] = math.ceil(self.frames / self.chunk_size) if self.frames else 0
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SceneSettings:
        """The inverse of :meth:`to_json`."""
        return cls(
            renderer=data["renderer"],
            frame_start=int(data["frameStart"]),
            frame_end=int(data["frameEnd"]),
            frame_step=int(data.get("frameStep", 1)),
            chunk_size=int(data["chunkSize"]),
            fps=float(data["fps"]),
            width=int(data["width"]),
            height=int(data["height"]),
            resolution_percent=int(data.get("resolutionPercent", 100)),
            engine=data.get("engine"),
            samples=None if data.get("samples") is None else int(data["samples"]),
            camera=data.get("camera"),
            image_format=str(data.get("format", "PNG")),
        )


@dataclass(frozen=True)
class SceneFacts:
    """What a probe reads from a scene file: frame range (included), fps, size in pixels, references.

    ``references`` are the external files the scene names, as written in it (Blender's ``//``
    prefix for "relative to the .blend" removed).
    """

    frame_start: int
    frame_end: int
    fps: float
    width: int
    height: int
    references: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()


def resolve_settings(
    renderer: str, facts: SceneFacts, options: SceneOptions, *, max_chunks: int = MAX_CHUNKS
) -> SceneSettings:
    """The request's options over the scene's facts (a default ``chunkSize`` makes at most ``max_chunks``).

    Raises
    ------
    InvalidInput
        ``INVALID_FRAME_RANGE``, ``TOO_MANY_FRAMES``, ``TOO_MANY_CHUNKS``; ``UNKNOWN_CAMERA``.
    """
    start = facts.frame_start if options.frame_start is None else options.frame_start
    end = facts.frame_end if options.frame_end is None else options.frame_end
    check_range(start, end, options.frame_step, options.chunk_size)
    if options.camera and facts.cameras and options.camera not in facts.cameras:
        raise InvalidInput(
            f"The scene has no camera {options.camera!r}",
            code="UNKNOWN_CAMERA",
            details={"cameras": list(facts.cameras)},
        )
    engine = (options.engine or Engine.WORKBENCH).value if renderer == "blender" else None
    frames = frame_count(start, end, options.frame_step)
    chunk = options.chunk_size or default_chunk_size(frames, engine or renderer, max_chunks)
    scale = options.resolution_percent / 100
    return SceneSettings(
        renderer=renderer,
        frame_start=start,
        frame_end=end,
        frame_step=options.frame_step,
        chunk_size=chunk,
        fps=facts.fps,
        width=max(2, round(facts.width * scale)),
        height=max(2, round(facts.height * scale)),
        resolution_percent=options.resolution_percent,
        engine=engine,
        samples=options.samples,
        camera=options.camera,
        image_format=options.format.value,
    )
