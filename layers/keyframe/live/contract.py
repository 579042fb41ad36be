"""The live API's contract: every event a socket receives, with the pydantic model of its ``data``.

The event ``data`` models are the REST response models wherever an event carries the same object
(``asset:created`` carries an :class:`~keyframe.catalog.schemas.Asset`, ``asset:commented`` a
:class:`~keyframe.reviews.schemas.Comment` …), extended where the event adds fields (``changes``,
``current``). :mod:`keyframe.live.asyncapi` builds the AsyncAPI document from :data:`EVENTS`, the
client messages (:data:`keyframe.live.messages.ClientMessage`) and the reply frames below; the
integration suite checks every envelope the code emits against :func:`check_envelope`, so an event
type or field added in code without a line here fails a test.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from keyframe.catalog.schemas import Asset, Dependency, Project, Version
from keyframe.notifications.schemas import Notification, NotificationsRead
from keyframe.pipeline.schemas import PipelineStatus
from keyframe.renders.schemas import RenderJob, RenderPolicy, RerenderQueued
from keyframe.reviews.schemas import Comment, Review
from keyframe.schemas import ApiModel
from keyframe.uploads.schemas import PipelineView
from keyframe.webhooks.schemas import Webhook


class Envelope(ApiModel):
    """Every room event: ``{type, room, seq, ts, correlationId, data}``.

    ``seq`` counts 1, 2, 3 … per room (a gap means missed events: catch up with
    ``GET /rooms/{room}/events?after=``); ``ts`` is ISO-8601 UTC; ``correlationId`` is the id of the
    request or message that caused the event (``null`` for events from background work).
    """

    type: str
    room: str = Field(description="studio, project:{id}, asset:{id} or user:{userId}")
    seq: int = Field(ge=1)
    ts: str
    correlation_id: str | None = None
    data: dict[str, Any]


# ----------------------------------------------------------------------------- event data


class AssetChange(Asset):
    """An asset after a change; ``changes`` names the fields that changed."""

    changes: list[str]
    version: int | None = Field(default=None, description="the reviewed version (review status changes)")
    review_status: str | None = None


class AssetRollback(Asset):
    """An asset whose current version moved from ``from`` to ``to``."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int


class ProjectChange(Project):
    """A project after a change; ``changes`` names the fields that changed."""

    changes: list[str]


class VersionReady(Version):
    """A version that became READY; ``current`` says it is now the asset's current version."""

    current: bool


class VersionChange(Version):
    """A version whose media or derived files were replaced (reprocess)."""

    changes: list[str]


class ReviewDecision(Review):
    """A review decision with the version's review status after it."""

    review_status: str


class DependencyRemoved(ApiModel):
    """``assetId`` no longer uses ``dependsOnId``."""

    asset_id: str
    depends_on_id: str


class DependencyMoved(ApiModel):
    """A dependency of ``assetId`` got a new current version; ``outdated`` if pinned behind it."""

    asset_id: str
    dependency_id: str
    current_version: int
    pinned_version: int | None = None
    following: bool
    outdated: bool


class PipelineUpdate(PipelineStatus):
    """A version's pipeline after a change; ``changedStep`` names the step that moved.

    Updates of one pipeline may arrive with their ``seq`` in another order than the changes were made
    (the upload's ``complete`` leaves its first two to the outbox stream, the steps announce theirs at
    once): the one with the highest ``revision`` is the pipeline's state.
    """

    changed_step: str | None = None


class RenderProgress(ApiModel):
    """Progress of a running render attempt (``eta`` in seconds, absent when unknown).

    Scene renders (``scene-frames``, ``scene-review``) count frames across their chunks: ``framesDone``
    of ``frames``, with ``fps`` and ``eta`` absent; at most one event every 2 s per job.
    """

    render_job_id: str
    asset_id: str
    attempt: int
    progress: int = Field(ge=0, le=100)
    fps: float | None = None
    eta: int | None = None
    frames_done: int | None = Field(default=None, description="scene renders: frames rendered so far")
    frames: int | None = Field(default=None, description="scene renders: frames in total")


class UploadEvent(ApiModel):
    """An upload session changed: started, completed (with its ``pipeline``) or aborted (``reason``)."""

    upload_id: str
    asset_id: str
    file_name: str
    size: int
    status: str
    actor_id: str | None = None
    reason: str | None = Field(default=None, description="ABORTED, EXPIRED, OBJECT_MISSING or SIZE_MISMATCH")
    pipeline: PipelineView | None = None


class MemberJoined(ApiModel):
    """A member joined the studio (registration or an accepted invitation)."""

    user_id: str
    display_name: str
    email: str
    role: str


class MemberInvited(ApiModel):
    """Someone was invited to the studio."""

    invitation_id: str
    email: str
    role: str
    invited_by: str


class MemberRoleChanged(ApiModel):
    """A member's role changed."""

    user_id: str
    role: str
    previous_role: str
    changed_by: str


class MemberRemoved(ApiModel):
    """A member was removed (their sockets are closed)."""

    user_id: str
    role: str
    removed_by: str


class InvitationRevoked(ApiModel):
    """A pending invitation was revoked (its link answers 410)."""

    invitation_id: str
    email: str
    revoked_by: str


class MemberLeft(ApiModel):
    """A member left the studio themselves (their sockets are closed)."""

    user_id: str
    role: str


class OwnershipTransferred(ApiModel):
    """An ADMIN handed the studio to another member (who is ADMIN now; the previous one's new role)."""

    from_user_id: str
    to_user_id: str
    previous_owner_role: str


class Presence(ApiModel):
    """A member's connection joined, left, or moved to ``frame`` in a project or asset room.

    ``presenceId`` tells two tabs of the same member apart (not the connection id).
    """

    user_id: str
    presence_id: str
    frame: int | None = None


@dataclass(frozen=True)
class EventSpec:
    """One event type: its ``data`` model, the rooms it goes to, what it means."""

    type: str
    data: builtins.type[BaseModel]
    rooms: str
    summary: str


_ASSET_ROOMS = "studio, project:{projectId}, asset:{assetId}"

_POLICY_ROOMS = "studio, project:{projectId}"

EVENTS: tuple[EventSpec, ...] = (
    EventSpec("project:created", Project, "studio, project:{projectId}", "A project was created"),
    EventSpec("project:updated", ProjectChange, "studio, project:{projectId}", "A project was edited"),
    EventSpec("project:archived", Project, "studio, project:{projectId}", "A project was archived"),
    EventSpec("asset:created", Asset, _ASSET_ROOMS, "An asset was created"),
    EventSpec("asset:updated", AssetChange, _ASSET_ROOMS, "An asset was edited or its review status changed"),
    EventSpec("asset:archived", Asset, _ASSET_ROOMS, "An asset was archived"),
    EventSpec("asset:restored", Asset, _ASSET_ROOMS, "An archived asset was restored"),
    EventSpec("asset:rollback", AssetRollback, _ASSET_ROOMS, "An asset's current version moved"),
    EventSpec(
        "asset:dependency-updated",
        DependencyMoved,
        "studio, project:{projectId}, asset:{assetId}",
        "A dependency of the asset got a new current version",
    ),
    EventSpec("asset:commented", Comment, _ASSET_ROOMS, "A comment was added to a version"),
    EventSpec("asset:approved", ReviewDecision, _ASSET_ROOMS, "A version was approved"),
    EventSpec("asset:changes-requested", ReviewDecision, _ASSET_ROOMS, "Changes were requested on a version"),
    EventSpec("comment:updated", Comment, _ASSET_ROOMS, "A comment's body was edited"),
    EventSpec("comment:resolved", Comment, _ASSET_ROOMS, "A comment was resolved"),
    EventSpec("comment:reopened", Comment, _ASSET_ROOMS, "A resolved comment was reopened"),
    EventSpec("version:published", Version, _ASSET_ROOMS, "A new version exists (processing)"),
    EventSpec("version:ready", VersionReady, _ASSET_ROOMS, "A version finished processing"),
    EventSpec("version:failed", Version, _ASSET_ROOMS, "A version failed processing"),
    EventSpec("version:updated", VersionChange, _ASSET_ROOMS, "A version was derived again"),
    EventSpec(
        "dependency:added", Dependency, _ASSET_ROOMS + ", asset:{dependsOnId}", "A dependency was added"
    ),
    EventSpec(
        "dependency:updated", Dependency, _ASSET_ROOMS + ", asset:{dependsOnId}", "A dependency's pin changed"
    ),
    EventSpec(
        "dependency:removed",
        DependencyRemoved,
        _ASSET_ROOMS + ", asset:{dependsOnId}",
        "A dependency was removed",
    ),
    EventSpec("pipeline:update", PipelineUpdate, "studio, asset:{assetId}", "A version's pipeline moved"),
    EventSpec("render:status", RenderJob, "studio, asset:{assetId}", "A render job changed status"),
    EventSpec("render:progress", RenderProgress, "studio, asset:{assetId}", "A running render progressed"),
    EventSpec(
        "render-policy:created", RenderPolicy, "studio, project:{projectId}", "A render policy was added"
    ),
    EventSpec(
        "render-policy:updated", RenderPolicy, "studio, project:{projectId}", "A render policy changed"
    ),
    EventSpec(
        "render-policy:deleted", RenderPolicy, "studio, project:{projectId}", "A render policy was deleted"
    ),
    EventSpec(
        "asset:rerender-queued",
        RerenderQueued,
        "studio, asset:{assetId}",
        "A dependency's new current version queued a re-render of the asset (opted in)",
    ),
    EventSpec("upload:started", UploadEvent, "studio, asset:{assetId}", "An upload was opened"),
    EventSpec("upload:completed", UploadEvent, "studio, asset:{assetId}", "An upload was completed"),
    EventSpec("upload:aborted", UploadEvent, "studio, asset:{assetId}", "An upload was aborted or expired"),
    EventSpec("member:joined", MemberJoined, "studio", "A member joined the studio"),
    EventSpec("member:invited", MemberInvited, "studio", "Someone was invited"),
    EventSpec("member:role-changed", MemberRoleChanged, "studio", "A member's role changed"),
    EventSpec("member:removed", MemberRemoved, "studio", "A member was removed"),
    EventSpec("member:invitation-revoked", InvitationRevoked, "studio", "A pending invitation was revoked"),
    EventSpec("member:left", MemberLeft, "studio", "A member left the studio"),
    EventSpec(
        "studio:ownership-transferred",
        OwnershipTransferred,
        "studio",
        "An ADMIN handed the studio to another member",
    ),
    EventSpec("webhook:created", Webhook, "studio", "A webhook endpoint was added (never its secret)"),
    EventSpec("webhook:updated", Webhook, "studio", "A webhook endpoint was changed"),
    EventSpec("webhook:deleted", Webhook, "studio", "A webhook endpoint was deleted"),
    EventSpec("webhook:disabled", Webhook, "studio", "A webhook endpoint failing for 24 h was turned off"),
    EventSpec(
        "presence:join", Presence, "project:{id} or asset:{id}", "A member's connection joined the room"
    ),
    EventSpec("presence:update", Presence, "project:{id} or asset:{id}", "A member moved to a frame"),
    EventSpec(
        "presence:leave", Presence, "project:{id} or asset:{id}", "A member's connection left the room"
    ),
    EventSpec(
        "notification:created",
        Notification,
        "user:{userId}",
        "You have a new notification (every socket of yours is in your user room)",
    ),
    EventSpec(
        "notification:read",
        NotificationsRead,
        "user:{userId}",
        "Notifications were marked read (from any of your tabs): update the badge",
    ),
)
"""Every room event type, in the order the AsyncAPI document lists them."""

EVENTS_BY_TYPE: dict[str, EventSpec] = {spec.type: spec for spec in EVENTS}


# ----------------------------------------------------------------------------- replies


class SubscribedData(ApiModel):
    """The room joined and its latest ``seq`` (catch up from there)."""

    room: str
    last_seq: int


class RoomData(ApiModel):
    """The room left."""

    room: str


class PongData(ApiModel):
    """The server's time (ISO-8601 UTC)."""

    ts: str


class AckData(ApiModel):
    """The write done: ``comment`` (comment, resolve), ``review`` (review) or ``room`` (presence)."""

    action: Literal["comment", "resolve", "review", "presence"]
    comment: Comment | None = None
    review: Review | None = None
    room: str | None = None


class ErrorData(ApiModel):
    """Exactly the inner object of the REST API's error body (``details.retryAfter`` when throttled)."""

    code: str
    message: str
    details: Any | None = None
    correlation_id: str


@dataclass(frozen=True)
class ReplySpec:
    """One reply frame ``{type, correlationId, data}`` sent to the sender of a message only."""

    type: str
    data: builtins.type[BaseModel]
    summary: str


REPLIES: tuple[ReplySpec, ...] = (
    ReplySpec("subscribed", SubscribedData, "Answer to subscribe"),
    ReplySpec("unsubscribed", RoomData, "Answer to unsubscribe"),
    ReplySpec("pong", PongData, "Answer to ping"),
    ReplySpec("ack", AckData, "Answer to comment, resolve, review and presence"),
    ReplySpec("error", ErrorData, "A refused message (the REST error shape under data)"),
)


def check_envelope(envelope: dict[str, Any]) -> None:
    """Check one emitted envelope against the contract.

    Raises
    ------
    AssertionError
        Unknown event type, or ``data`` has a field the event's model does not declare.
    pydantic.ValidationError
        The envelope or its ``data`` does not validate.
    """
    Envelope.model_validate(envelope)
    spec = EVENTS_BY_TYPE.get(envelope["type"])
    assert spec is not None, f"event {envelope['type']!r} is not in keyframe.live.contract.EVENTS"
    spec.data.model_validate(envelope["data"])
    declared = {field.alias or name for name, field in spec.data.model_fields.items()}
    undeclared = set(envelope["data"]) - declared
    assert not undeclared, f"{envelope['type']}: data fields {sorted(undeclared)} are not in its model"
