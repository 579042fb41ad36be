"""Pydantic shapes of the catalog: request bodies (strict, camelCase) and the domain records returned
by the services and the API (projects, assets, versions, dependencies, activity)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, PrivateAttr, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from keyframe.catalog.vocabulary import (
    AssetStatus,
    AssetType,
    Relationship,
    ReviewStatus,
    VersionStatus,
)
from keyframe.errors import InvalidInput
from keyframe.schemas import MULTILINE, ApiModel, Identifier, RequestModel

FRAME_RATES: tuple[float, ...] = (
    23.976,
    24,
    25,
    29.97,
    30,
    47.952,
    48,
    50,
    59.94,
    60,
    72,
    96,
    100,
    119.88,
    120,
)
"""Frame rates a project may use (frames per second; NTSC rates as 23.976, 29.97, 59.94 ...)."""

DEFAULT_FPS = 24
DEFAULT_START_FRAME = 1001
"""Studios start shots at frame 1001 to leave handles before the first frame."""

# --- field rules --------------------------------------------------------------------------------


def _printable(value: str) -> str:
    if any(not ch.isprintable() for ch in value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_printable)
]
"""A display name: 1-200 printable characters (surrounding spaces removed)."""

Description = Annotated[str, StringConstraints(max_length=4000), MULTILINE]
"""Free text up to 4000 characters over several lines (no control characters but newlines and tabs)."""
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), MULTILINE]
ProjectCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$"),
]
"""A short project code (1-16 letters, digits, ``_`` or ``-``; stored upper case; unique in a studio)."""

Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64),
    AfterValidator(_printable),
]


def _fps(value: float) -> float:
    for rate in FRAME_RATES:
        if abs(value - rate) < 0.0005:
            return float(rate)
    raise ValueError(f"must be one of {', '.join(str(r) for r in FRAME_RATES)}")


Fps = Annotated[float, AfterValidator(_fps)]
StartFrame = Annotated[int, Field(ge=0, le=10_000_000)]


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _absent() -> Any:
    """Default of a PATCH field that may be left out but not set to null (the schema says neither)."""
    return Field(default=None, json_schema_extra=_drop_default)


class _ReadOnlyGuard(RequestModel):
    """A PATCH body: naming a read-only field answers 400 ``READ_ONLY_FIELD`` listing the fields."""

    READ_ONLY: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            named = sorted(k for k in data if k in cls.READ_ONLY or to_camel(k) in cls.READ_ONLY)
            if named:
                raise InvalidInput(
                    f"Read-only field{'s' if len(named) > 1 else ''} cannot be changed: {', '.join(named)}",
                    code="READ_ONLY_FIELD",
                    details={
                        "fields": [{"field": n, "message": "read-only", "type": "read_only"} for n in named]
                    },
                )
        return data


# --- projects -----------------------------------------------------------------------------------


class ProjectCreate(RequestModel):
    """``POST /projects``."""

    name: Name
    code: ProjectCode
    description: Description | None = None
    fps: Fps = DEFAULT_FPS
    start_frame: StartFrame = DEFAULT_START_FRAME


class ProjectUpdate(_ReadOnlyGuard):
    """``PATCH /projects/{projectId}``: any subset of the editable fields."""

    READ_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"id", "archived", "createdBy", "createdAt", "updatedAt", "studioId"}
    )

    # Only description may be null (it removes the description): the others default to "not
    # given" but refuse null, and the OpenAPI schema says so (no "null" in their types).
    name: Name = _absent()
    code: ProjectCode = _absent()
    description: Description | None = None
    fps: Fps = _absent()
    start_frame: StartFrame = _absent()


class Project(ApiModel):
    """A project of the studio."""

    id: str
    name: str
    code: str
    description: str | None = None
    fps: float
    start_frame: int
    archived: bool = False
    created_by: str
    created_at: str
    updated_at: str


class ProjectPage(ApiModel):
    """A page of projects (sorted by code); ``nextCursor`` is null on the last page."""

    items: list[Project]
    next_cursor: str | None = None


# --- assets -------------------------------------------------------------------------------------


def _unique_tags(tags: list[str] | None) -> list[str] | None:
    return None if tags is None else list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=50), AfterValidator(_unique_tags)]


class AssetCreate(RequestModel):
    """``POST /assets``."""

    project_id: Identifier
    name: Name
    type: AssetType
    description: Description | None = None
    tags: Tags = Field(default_factory=list)


class AssetUpdate(_ReadOnlyGuard):
    """``PATCH /assets/{assetId}``: any subset of the editable fields."""

    READ_ONLY: ClassVar[frozenset[str]] = frozenset(
        {
            "id",
            "projectId",
            "status",
            "currentVersion",
            "latestVersion",
            "outdatedDependencies",
            "archived",
            "createdBy",
            "createdAt",
            "updatedAt",
            "studioId",
            "revision",
        }
    )

    # Only description may be null (see ProjectUpdate).
    name: Name = _absent()
    type: AssetType = _absent()
    description: Description | None = None
    tags: Tags = _absent()
    rerender_on_change: bool = Field(  # type: ignore[assignment]  # absent, never null (see _absent)
        default=None,
        json_schema_extra=_drop_default,
        description="Scenes: queue a scene-review render of the current version when a dependency "
        "gets a new current version",
    )


class OutdatedDependency(ApiModel):
    """A dependency pinned to a version older than that dependency's current version."""

    asset_id: str
    pinned_version: int
    latest_version: int


class ThumbnailLink(ApiModel):
    """A presigned GET of a thumbnail (JPEG), valid until ``expiresAt`` (ISO-8601 UTC, 15 minutes)."""

    url: str
    expires_at: str


class Asset(ApiModel):
    """An asset (``GET /assets/{assetId}`` also sends its ``ETag``).

    ``thumbnail`` (lists only) links to the current version's thumbnail when it has one.
    """

    id: str
    project_id: str
    name: str
    type: AssetType
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    rerender_on_change: bool = Field(
        default=False,
        description="A dependency's new current version queues a scene-review of the current version",
    )
    status: AssetStatus
    current_version: int | None = None
    latest_version: int = 0
    outdated_dependencies: list[OutdatedDependency] = Field(default_factory=list)
    archived: bool = False
    created_by: str
    created_at: str
    updated_at: str
    thumbnail: ThumbnailLink | None = None
    _revision: int = PrivateAttr(default=1)

    @property
    def etag(self) -> str:
        """The strong entity tag of this representation (changes with every write to the asset)."""
        return f'"{self.id}.{self._revision}"'

    @property
    def revision(self) -> int:
        """The asset's write counter (what ``If-Match`` is checked against)."""
        return self._revision


class AssetPage(ApiModel):
    """A page of assets; ``nextCursor`` is null when there is nothing after it."""

    items: list[Asset]
    next_cursor: str | None = None


# --- versions -----------------------------------------------------------------------------------


class FileInfo(ApiModel):
    """The uploaded file of a version, as stored in the media bucket.

    Attributes
    ----------
    key:
        S3 object key (``studios/{studioId}/...``).
    size:
        Bytes.
    content_type:
        MIME type.
    file_name:
        The artist's original file name (used for downloads).
    sha256:
        Hex digest of the content, if known.
    """

    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    size: Annotated[int, Field(ge=0)]
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    file_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class VersionError(ApiModel):
    """Why processing failed."""

    code: str
    message: str


class BuiltAgainst(ApiModel):
    """One dependency of a version as it stood when the version was published ("used rig v7").

    ``version`` is the pinned version, or the dependency's current version then (``None``: it had no
    READY version yet); ``pinned`` says which.
    """

    asset_id: str
    name: str | None = None
    type: AssetType | None = None
    relationship: Relationship = Relationship.REFERENCES
    version: int | None = None
    pinned: bool = False


class Version(ApiModel):
    """An immutable version of an asset (only processing and review status change after creation).

    ``thumbnail`` (lists only) links to the version's thumbnail when it has one. ``dependencies`` are
    the versions of the asset's dependencies it was built against, recorded when it was published
    (``None`` for versions published before they were recorded).
    """

    asset_id: str
    project_id: str
    version: int
    created_by: str
    created_at: str
    change_note: str | None = None
    file: FileInfo
    media: dict[str, Any] | None = None
    derived: dict[str, str] | None = None
    status: VersionStatus
    error: VersionError | None = None
    processed_at: str | None = None
    review_status: ReviewStatus | None = None
    upload_id: str | None = None
    thumbnail: ThumbnailLink | None = None
    dependencies: list[BuiltAgainst] | None = None


class VersionPage(ApiModel):
    """A page of versions, newest first."""

    items: list[Version]
    next_cursor: str | None = None


class RollbackRequest(RequestModel):
    """``PATCH /assets/{assetId}/rollback``: the version that becomes current (back or forward)."""

    version: Annotated[int, Field(ge=1)]


class Download(ApiModel):
    """A presigned GET of a version's file (Range requests work on it)."""

    url: str
    expires_at: str
    file_name: str
    size: int


class DerivedName(StrEnum):
    """A derived file the pipeline makes from a version (see :mod:`keyframe.media.derive`)."""

    THUMBNAIL = "thumbnail"
    PROXY = "proxy"
    WAVEFORM = "waveform"


class DerivedDownload(ApiModel):
    """A presigned GET of one derived file of a version (Range requests work on it).

    Attributes
    ----------
    url:
        Presigned S3 GET, valid until ``expires_at`` (15 minutes at most).
    expires_at:
        ISO-8601 UTC.
    file_name:
        The name a browser saves it under (``{assetId}-v{version}-{name}.{ext}``).
    size:
        Bytes, when known (not looked up: the URL is made without touching the object).
    content_type:
        MIME type (``image/jpeg``, ``video/mp4``, ``image/png``).
    """

    url: str
    expires_at: str
    file_name: str
    size: int | None = None
    content_type: str


# --- dependencies -------------------------------------------------------------------------------


class DependencyPut(RequestModel):
    """``PUT /assets/{assetId}/dependencies/{dependsOnId}``: pin to a version, or follow current.

    ``relationship`` defaults to ``REFERENCES`` on a new edge; left out on an existing one, it keeps
    the edge's.
    """

    pinned_version: Annotated[int, Field(ge=1)] | None = None
    note: Note | None = None
    relationship: Relationship | None = Field(
        default=None, description="What the dependency is to the asset (default REFERENCES)"
    )


class Dependency(ApiModel):
    """The edge "``assetId`` uses ``dependsOnId``"; ``relationship`` says what ``dependsOnId`` is to it."""

    asset_id: str
    depends_on_id: str
    relationship: Relationship = Relationship.REFERENCES
    pinned_version: int | None = None
    note: str | None = None
    outdated: bool = False
    created_by: str
    created_at: str
    updated_at: str


class GraphNode(ApiModel):
    """An asset reached by a traversal.

    Attributes
    ----------
    depth:
        Number of edges from the root (1 = direct).
    path:
        Asset ids from the root to this node along the first shortest path found (root first).
    via:
        Every node one level up with an edge to this one (more than one in a diamond).
    pinned_version / note / relationship:
        Of the edge on ``path`` that reaches this node (the pin is held by the dependent side).
    """

    asset_id: str
    name: str | None = None
    type: AssetType | None = None
    status: AssetStatus | None = None
    current_version: int | None = None
    archived: bool = False
    depth: int
    path: list[str]
    via: list[str]
    pinned_version: int | None = None
    note: str | None = None
    relationship: Relationship | None = None


class GraphLimits(ApiModel):
    """The bounds a traversal ran with."""

    max_depth: int
    max_nodes: int


DEFAULT_MAX_DEPTH = 10
"""Levels a transitive graph query follows when ``maxDepth`` is not given."""
MAX_DEPTH = 20
"""The most levels a graph query may ask for (``maxDepth``)."""
DEFAULT_MAX_NODES = 500
"""Nodes a graph query returns at most when ``maxNodes`` is not given."""
MAX_NODES = 2000
"""The most nodes a graph query may ask for (``maxNodes``)."""


class GraphResult(ApiModel):
    """``GET /assets/{id}/dependencies`` or ``/dependents``: nodes level by level, nearest first."""

    asset_id: str
    direction: str
    transitive: bool
    items: list[GraphNode]
    truncated: bool
    limits: GraphLimits


# --- activity -----------------------------------------------------------------------------------


class ActivityTarget(ApiModel):
    """What an activity entry is about."""

    type: str
    id: str


class ActivityEntry(ApiModel):
    """One immutable entry of the activity log."""

    id: str
    ts: str
    actor: str | None = None
    action: str
    target: ActivityTarget
    details: dict[str, Any] = Field(default_factory=dict)
    project_id: str | None = None
    asset_id: str | None = None


class ActivityPage(ApiModel):
    """A page of activity, newest first."""

    items: list[ActivityEntry]
    next_cursor: str | None = None
