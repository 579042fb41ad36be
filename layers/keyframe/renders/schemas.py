"""Request and response shapes of the render API (camelCase JSON; unknown request fields -> 400)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from keyframe.catalog.vocabulary import AssetType
from keyframe.renders.models import Priority, RenderJobItem, RenderStatus
from keyframe.renders.presets import PresetName, RenderOptions
from keyframe.renders.scenes import SceneOptions, is_scene
from keyframe.schemas import ApiModel, RequestModel

MAX_LIST_LIMIT = 100
"""The most render jobs a page of ``GET /renders`` holds (``limit``'s maximum)."""


class RenderRequest(RequestModel):
    """``POST /assets/{assetId}/renders``.

    Attributes
    ----------
    version:
        The version to render (default: the asset's current version).
    preset:
        ``hls``, ``review-mp4`` or ``filmstrip`` of a video (see :mod:`keyframe.renders.presets`);
        ``scene-frames`` or ``scene-review`` of a Blender/Synfig scene (:mod:`keyframe.renders.scenes`).
    priority:
        ``LOW``, ``NORMAL`` (default) or ``HIGH``. HIGH runs from the high-priority Batch queue;
        NORMAL and LOW share the standard queue and are scheduled the same today (see
        :mod:`keyframe.renders.execution`).
    options:
        Video presets: trim, burn-in, watermark, filmstrip frames (a watermarked review copy names the
        requester and is downloadable only by them and by ADMINs). Scene presets: ``frameStart``,
        ``frameEnd``, ``frameStep``, ``chunkSize``, ``resolutionPercent``, ``engine``, ``samples``,
        ``camera``, ``format``.
    """

    version: int | None = Field(default=None, ge=1)
    preset: PresetName
    priority: Priority = Field(
        default=Priority.NORMAL,
        description="HIGH: the high-priority Batch queue; NORMAL and LOW share the standard queue and "
        "are scheduled the same today",
    )
    options: RenderOptions | SceneOptions | None = Field(default=None, union_mode="left_to_right")

    @model_validator(mode="after")
    def _options_of_preset(self) -> RenderRequest:
        if is_scene(self.preset):
            if isinstance(self.options, RenderOptions):
                if self.options.given():
                    raise ValueError(f"options {sorted(self.options.given())} do not apply to {self.preset}")
                self.options = SceneOptions()
            elif self.options is None:
                self.options = SceneOptions()
        elif isinstance(self.options, SceneOptions):
            raise ValueError(f"scene options do not apply to {self.preset}")
        return self

    @property
    def scene_options(self) -> SceneOptions:
        """The options of a scene preset (defaults when none were given)."""
        return self.options if isinstance(self.options, SceneOptions) else SceneOptions()

    @property
    def video_options(self) -> RenderOptions | None:
        """The options of a video preset."""
        return self.options if isinstance(self.options, RenderOptions) else None


class RenderError(ApiModel):
    """Why a render failed: a stable ``code`` and a sentence."""

    code: str
    message: str


class Rendition(ApiModel):
    """One picture size of the outputs (``bandwidth`` in bit/s, HLS only)."""

    name: str
    width: int
    height: int
    bandwidth: int | None = None


class RenderOutputs(ApiModel):
    """Where the outputs are (keys in the media bucket; segment keys are listed in the variant playlists).

    Attributes
    ----------
    prefix:
        ``studios/{studioId}/renders/{renderJobId}/attempt-{n}/``.
    keys:
        The playlists (HLS) or the one file (review MP4, filmstrip).
    primary:
        The key a client opens (master playlist, MP4, JPEG).
    master_playlist:
        HLS only: the master playlist's key.
    renditions:
        Picture sizes made.
    file_count / total_bytes:
        Every object written (segments included) and their total size in bytes.
    frames_prefix / frame_count:
        Scene presets: ``studios/{s}/renders/{id}/frames/`` (shared by every attempt) and how many
        frames it holds; ``frames.json`` in the attempt's folder lists them with their sizes.
    """

    prefix: str
    keys: list[str]
    primary: str
    master_playlist: str | None = None
    renditions: list[Rendition] = Field(default_factory=list)
    file_count: int = 0
    total_bytes: int = 0
    frames_prefix: str | None = Field(
        default=None, description="Scene presets: where the numbered frames are (frame_000042.png)"
    )
    frame_count: int | None = Field(default=None, description="Scene presets: frames rendered")


class LineageInput(ApiModel):
    """One dependency a scene render read: the exact version of an asset the scene uses.

    Attributes
    ----------
    asset_id / version:
        The dependency and the version rendered: its pinned version, else its current one when the
        render was requested (a retry of the same job reads the same versions).
    pinned:
        True when the edge pins that version.
    key / s3_version_id / sha256 / size:
        The object read (by S3 ``VersionId`` when the bucket is versioned) and its SHA-256 as the
        version declared it (the container checks the bytes against it).
    file_name:
        The file's original name.
    path:
        Where the container put it, relative to the scene's folder: the path the scene references
        when one of its references ends in ``fileName``, else ``fileName`` beside the scene.
    via:
        The asset ids between the scene and this dependency (a transitive dependency's path).
    """

    asset_id: str
    version: int
    pinned: bool = False
    key: str
    s3_version_id: str | None = None
    sha256: str | None = None
    size: int | None = None
    file_name: str
    path: str | None = None
    via: list[str] = Field(default_factory=list)


class RenderTrigger(ApiModel):
    """What made the system queue a render.

    ``render-policy``: a version became READY and the project's policy ``policyId`` names the preset.
    ``dependency-change``: ``dependencyId`` got current version ``dependencyVersion`` and the asset
    opted in to re-render on change. ``eventId`` is the domain event that carried it.
    """

    kind: Literal["render-policy", "dependency-change"]
    event_id: str
    policy_id: str | None = None
    dependency_id: str | None = None
    dependency_version: int | None = None


class Lineage(ApiModel):
    """Exactly what went in: the version, its object key, S3 VersionId (if versioned) and SHA-256.

    Attributes
    ----------
    sha256:
        Until the render container has read the source: the checksum the version declared at upload
        (absent when the upload declared none). Once it has (``sha256Verified``): the SHA-256 the
        container computed over the exact bytes it rendered, which equals the declared one (a mismatch
        fails the job ``INPUT_CHECKSUM_MISMATCH``). Every SUCCEEDED job has it.
    sha256_verified:
        True once ``sha256`` is the container's own digest of the input.
    size:
        Bytes of the source object.
    """

    asset_id: str
    version: int
    key: str
    s3_version_id: str | None = None
    sha256: str | None = None
    sha256_verified: bool = False
    size: int | None = None
    dependencies: list[LineageInput] | None = Field(
        default=None, description="Scene presets: every asset the scene uses, at the exact version read"
    )
    trigger: RenderTrigger | None = Field(
        default=None, description="A render the system queued: what caused it (none: a member asked)"
    )


class RenderLogs(ApiModel):
    """Where the container's logs are: the Batch job, and its CloudWatch log stream (or local log file)."""

    batch_job_id: str | None = None
    batch_attempt: int | None = None
    log_group: str | None = None
    log_stream_name: str | None = None


class FrameSpan(ApiModel):
    """The frames rendered: ``[startFrame, endFrame)`` of the source (0-based)."""

    start_frame: int
    end_frame: int


class RenderJob(ApiModel):
    """A render job as the API returns it (the record in the renders table is the truth).

    ``progress`` is 0-100 and never goes down within an attempt; ``fps`` is the encoding speed
    (frames/s); ``eta`` the seconds left (while RUNNING); ``attempts`` counts runs (1 + retries).
    """

    render_job_id: str
    asset_id: str
    project_id: str | None = None
    version: int
    preset: str
    options: dict[str, Any] = Field(default_factory=dict)
    priority: Priority
    status: RenderStatus
    progress: int = 0
    fps: float | None = None
    eta: int | None = None
    attempts: int = 1
    tries: int = 0
    error: RenderError | None = None
    batch_job_id: str | None = None
    frames: FrameSpan
    outputs: RenderOutputs | None = None
    lineage: Lineage
    scene: dict[str, Any] | None = Field(
        default=None,
        description="Scene presets: the resolved settings (renderer, frameStart, frameEnd, frameStep, "
        "chunkSize, chunks, frames, fps, width, height, engine, format; probed: true once read from "
        "the scene)",
    )
    frames_done: int | None = Field(default=None, description="Scene presets: frames rendered so far")
    vcpus: int | None = Field(
        default=None,
        description="vCPUs of the studio's render budget this attempt holds while QUEUED/RUNNING (2 per "
        "video render, 2 per chunk of a scene render)",
    )
    logs: RenderLogs | None = None
    created_by: str
    created_at: str
    updated_at: str
    started_at: str | None = None
    ended_at: str | None = None

    @classmethod
    def of(cls, item: RenderJobItem) -> RenderJob:
        """The API shape of a job item."""
        return cls(
            render_job_id=item.job_id,
            asset_id=item.asset_id,
            project_id=item.project_id,
            version=int(item.version),
            preset=item.preset,
            options=item.options or {},
            priority=Priority(item.priority),
            status=RenderStatus(item.status),
            progress=int(item.progress or 0),
            fps=None if item.fps is None else float(item.fps),
            eta=None if item.eta is None else int(item.eta),
            attempts=int(item.attempts),
            tries=int(item.tries or 0),
            error=RenderError.model_validate(item.error) if item.error else None,
            batch_job_id=item.batch_job_id,
            frames=FrameSpan.model_validate(item.frames),
            outputs=RenderOutputs.model_validate(item.outputs) if item.outputs else None,
            lineage=Lineage.model_validate(item.lineage),
            scene=item.scene,
            frames_done=None if item.frames_done is None else int(item.frames_done),
            vcpus=None if item.vcpus is None else int(item.vcpus),
            logs=RenderLogs.model_validate(item.logs) if item.logs else None,
            created_by=item.created_by,
            created_at=item.created_at,
            updated_at=item.updated_at,
            started_at=item.started_at,
            ended_at=item.ended_at,
        )


class RenderJobPage(ApiModel):
    """A page of render jobs, newest first; pass ``nextCursor`` back as ``cursor`` for the next."""

    items: list[RenderJob]
    next_cursor: str | None = None


class PlaybackLink(ApiModel):
    """A link that plays (HLS master playlist) or downloads (Range requests work) with no auth header.

    Attributes
    ----------
    url:
        Presigned HTTPS URL.
    expires_at:
        When it and every URL inside the playlists stop working (ISO-8601 UTC).
    content_type:
        What the link serves.
    """

    url: str
    expires_at: str
    content_type: str


class RenderChunk(ApiModel):
    """One chunk (Batch array child) of a scene render.

    ``frameStart``/``frameEnd`` are scene frames, both included; ``framesDone`` counts the chunk's
    frames already in the bucket; ``error`` is the latest failed try's ``{code, message, frame?}``.
    """

    index: int
    frame_start: int
    frame_end: int
    frame_step: int = 1
    frames: int
    frames_done: int = 0
    status: str
    attempt: int = 1
    tries: int = 0
    error: dict[str, Any] | None = None
    batch_job_id: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    updated_at: str


class RenderChunkPage(ApiModel):
    """Every chunk of a scene render, by index (``framesDone``/``frames``: the whole job)."""

    render_job_id: str
    frames: int = 0
    frames_done: int = 0
    items: list[RenderChunk]


# ------------------------------------------------------------------------------------------ policies
AssetTypes = Annotated[list[AssetType], Field(min_length=1, max_length=len(AssetType))]
Presets = Annotated[list[PresetName], Field(min_length=1, max_length=5)]


class RenderPolicyCreate(RequestModel):
    """``POST /projects/{projectId}/render-policies``: queue ``presets`` for new READY versions of
    assets of ``assetTypes`` (duplicates in either list are ignored)."""

    asset_types: AssetTypes
    presets: Presets
    enabled: bool = True


class RenderPolicyPatch(RequestModel):
    """``PATCH /projects/{projectId}/render-policies/{policyId}``: any subset of the fields."""

    asset_types: AssetTypes | None = None
    presets: Presets | None = None
    enabled: bool | None = None


class RenderPolicy(ApiModel):
    """A render policy: when a version of an asset of one of ``assetTypes`` in the project becomes
    READY, each of ``presets`` is rendered once (by the system, as ``createdBy``'s request)."""

    policy_id: str
    project_id: str
    asset_types: list[AssetType]
    presets: list[str]
    enabled: bool
    created_by: str
    created_at: str
    updated_at: str


class RenderPolicyList(ApiModel):
    """Every render policy of a project, oldest first."""

    items: list[RenderPolicy]


class RerenderQueued(ApiModel):
    """``asset:rerender-queued``: a dependency of the asset got a new current version, and a
    ``scene-review`` of the asset's current version was queued (the asset opted in)."""

    asset_id: str
    version: int
    render_job_id: str
    dependency_id: str
    dependency_version: int
