"""The analytics record: one shape for every event, whoever saw it.

Each record is one JSON object (one line of a file, one Firehose record)::

    {"id": "evt_…" | "<client id>" | "anl_…", "type": "playback.started" | "upload:completed" | …,
     "source": "client" | "server", "studio": "…", "userId": "…" | null,
     "occurredAt": "2026-12-05T06:01:02.123456Z", "receivedAt": "…Z",
     "sessionId", "projectId", "assetId", "renderJobId": "…" | null, "version": 3 | null,
     "positionSeconds": 12.5 | null, "properties": {"bytes": 1048576, …}}

- **client** records: the types of :class:`keyframe.analytics.schemas.ClientEventType` (dotted
  names), sent by a review UI; ``studio`` and ``userId`` are the access token's.
- **server** records: derived from the durable domain events of the outbox (their ``type`` is the
  domain event type, their ``id`` the event id, so a record delivered twice is recognised), see
  :data:`SERVER_TYPES`; plus ``member:signed-in``, written by the identity domain at each
  password sign-in (:func:`sign_in`).

Records are partitioned by ``studio`` and the UTC date of ``occurredAt`` (:func:`partition`).
Delivery is at least once: readers deduplicate by ``(studio, id)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from keyframe import clock
from keyframe.analytics.schemas import ClientEvent
from keyframe.events.types import EventType
from keyframe.outbox.records import DomainEvent
from keyframe.usage import figures
from keyframe.usage.models import RENDER_VCPUS

CLIENT = "client"
SERVER = "server"
SIGNED_IN = "member:signed-in"
"""Type of the record of a password sign-in (not a domain event: no room, no webhook)."""
FINISHED_RENDER_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
"""``render:status`` events recorded: a render that ended (queued and running ones are not)."""


def new_record_id() -> str:
    """An id for a client event that brought none: ``anl_`` and 32 hex digits."""
    return f"anl_{uuid.uuid4().hex}"


def _base(
    record_id: str, record_type: str, source: str, studio_id: str, *, user_id: str | None, occurred_at: str
) -> dict[str, Any]:
    return {
        "id": record_id,
        "type": record_type,
        "source": source,
        "studio": studio_id,
        "userId": user_id,
        "occurredAt": occurred_at,
        "receivedAt": clock.now_iso(),
        "sessionId": None,
        "projectId": None,
        "assetId": None,
        "version": None,
        "renderJobId": None,
        "positionSeconds": None,
        "properties": {},
    }


def _utc(moment: datetime) -> str:
    return clock.iso(moment)


def from_client(studio_id: str, user_id: str, event: ClientEvent) -> dict[str, Any]:
    """The record of one client event sent by ``user_id`` of ``studio_id`` (from the token)."""
    record = _base(
        event.id or new_record_id(),
        event.type.value,
        CLIENT,
        studio_id,
        user_id=user_id,
        occurred_at=_utc(event.occurred_at),
    )
    record.update(
        sessionId=event.session_id,
        projectId=event.project_id,
        assetId=event.asset_id,
        version=event.version,
        renderJobId=event.render_job_id,
        positionSeconds=event.position_seconds,
        properties=dict(event.properties),
    )
    return record


def sign_in(studio_id: str, user_id: str, *, method: str = "password") -> dict[str, Any]:
    """The record of a member signing in to ``studio_id`` now (``properties.method``)."""
    record = _base(
        new_record_id(), SIGNED_IN, SERVER, studio_id, user_id=user_id, occurred_at=clock.now_iso()
    )
    record["properties"] = {"method": method}
    return record


def _seconds(started: str | None, ended: str | None) -> float | None:
    if not started or not ended:
        return None
    begin = datetime.fromisoformat(started.replace("Z", "+00:00"))
    end = datetime.fromisoformat(ended.replace("Z", "+00:00"))
    return max(0.0, (end - begin).total_seconds())


def _upload(_studio_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
    return {
        "userId": data.get("actorId"),
        "assetId": data.get("assetId"),
        "properties": {"uploadId": data.get("uploadId"), "bytes": int(data.get("size") or 0)},
    }


def _render(studio_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
    status = data.get("status")
    if status not in FINISHED_RENDER_STATUSES:
        return None
    seconds = _seconds(data.get("startedAt"), data.get("endedAt"))
    properties: dict[str, Any] = {"status": status, "preset": data.get("preset"), "seconds": seconds}
    # vCPU-seconds as GET /studio/usage counts them: a video render's Batch job has RENDER_VCPUS for
    # its wall-clock seconds; a scene render's chunks of its last attempt x a chunk's vCPUs (one Query)
    if data.get("scene") is not None and data.get("renderJobId"):
        properties["vcpuSeconds"] = figures.scene_render_vcpu_seconds(
            studio_id, str(data["renderJobId"]), data.get("endedAt")
        )
    else:
        properties["vcpuSeconds"] = None if seconds is None else seconds * RENDER_VCPUS
    return {
        "userId": data.get("createdBy"),
        "assetId": data.get("assetId"),
        "projectId": data.get("projectId"),
        "renderJobId": data.get("renderJobId"),
        "version": data.get("version"),
        "properties": properties,
    }


def _decision(_studio_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
    return {
        "userId": data.get("reviewerId"),
        "assetId": data.get("assetId"),
        "projectId": data.get("projectId"),
        "version": data.get("version"),
        "properties": {"reviewId": data.get("reviewId"), "decision": data.get("decision")},
    }


def _comment(_studio_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
    return {
        "userId": data.get("authorId"),
        "assetId": data.get("assetId"),
        "projectId": data.get("projectId"),
        "version": data.get("version"),
        "properties": {
            "commentId": data.get("commentId"),
            "frame": data.get("frame"),
            "reply": data.get("parentId") is not None,
        },
    }


SERVER_TYPES: dict[str, Callable[[str, dict[str, Any]], dict[str, Any] | None]] = {
    EventType.UPLOAD_COMPLETED.value: _upload,
    EventType.RENDER_STATUS.value: _render,
    EventType.ASSET_APPROVED.value: _decision,
    EventType.ASSET_CHANGES_REQUESTED.value: _decision,
    EventType.ASSET_COMMENTED.value: _comment,
}
"""Domain event types recorded as server records -> what the record takes from the event's data
(each called with the event's studio id and data):

- ``upload:completed``: ``userId`` (uploader), ``assetId``, ``properties.bytes``, ``uploadId``;
- ``render:status`` of a render that ended (SUCCEEDED, FAILED, CANCELLED): ``userId`` (requester),
  ``renderJobId``, ``assetId``, ``properties.status``, ``preset``, ``seconds`` (wall clock) and
  ``vcpuSeconds`` as ``GET /studio/usage`` counts them (a video render: seconds x the job's vCPUs;
  a scene render: its chunks' seconds of the last attempt x a chunk's vCPUs, read from the renders
  table by :func:`keyframe.usage.figures.scene_render_vcpu_seconds`);
- ``asset:approved`` / ``asset:changes-requested``: ``userId`` (reviewer), ``assetId``, ``version``,
  ``properties.decision`` (``APPROVED`` / ``CHANGES_REQUESTED``), ``reviewId``;
- ``asset:commented``: ``userId`` (author), ``assetId``, ``version``, ``properties.commentId``,
  ``frame`` (when at a frame) and ``reply`` (true for an answer in a thread).
"""


def from_domain_event(event: DomainEvent) -> dict[str, Any] | None:
    """The server record of a stored domain event, or ``None`` when its type is not recorded."""
    derive = SERVER_TYPES.get(event.type)
    if derive is None:
        return None
    fields = derive(event.studio, event.data)
    if fields is None:
        return None
    record = _base(event.id, event.type, SERVER, event.studio, user_id=None, occurred_at=event.occurred_at)
    record.update({k: v for k, v in fields.items() if k != "properties"})
    record["properties"] = {k: v for k, v in fields["properties"].items() if v is not None}
    return record


def partition(record: dict[str, Any]) -> tuple[str, str]:
    """``(studio, yyyy-mm-dd)``: where a record is filed (the UTC date of ``occurredAt``)."""
    return str(record["studio"]), str(record["occurredAt"])[:10]
