"""Every domain change and its event are stored in one DynamoDB transaction (issue 13.1).

For each domain, through the API on one moto world for the module:

- the event's outbox write is made to fail (its put carries a condition that cannot hold): the
  request fails and the change is not stored (nor its activity entry);
- the change's own condition fails (a taken name, a stale ETag …): no event is stored;
- without faults the change stores exactly its event, and the event reaches a socket (a deliverer
  registered with the publisher) from the inline publish after the commit (or, for the requests that
  leave their events to the outbox stream, such as opening an upload, once the stream hands it on).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from keyframe import settings
from keyframe.catalog import versions
from keyframe.catalog.schemas import FileInfo
from keyframe.catalog.version_queries import get_version
from keyframe.clock import now_iso
from keyframe.errors import Conflict
from keyframe.events import deliverers, publisher
from keyframe.outbox import stream
from keyframe.outbox.records import OutboxItem, outbox_pk
from keyframe.pipeline import service as pipeline
from keyframe.pipeline.models import PipelineInput
from keyframe.renders import service as render_service
from keyframe.renders import worker_writes as render_worker_writes
from keyframe.renders.models import JOB_SK, RenderJobItem, RenderStatus, job_pk
from keyframe.renders.progress import ProgressUpdate
from keyframe.storage import transactions
from keyframe.storage.activity import ActivityItem, activity_pk
from keyframe.storage.transactions import Cancelled, Transaction
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota
from tests.support.identity import (
    DEFAULT_PASSWORD,
    Session,
    accept,
    invite,
    register_studio,
    unique_email,
)
from tests.support.world import moto_world


@dataclass
class World:
    api: Any
    admin: Session
    project: dict[str, Any]
    sockets: list[dict[str, Any]]


def _ok(response: Any, status: int) -> Any:
    assert response.status == status, response.body[:500]
    return json.loads(response.body) if response.body else None


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    sockets: list[dict[str, Any]] = []

    def deliver(_studio_id: str, envelopes: list[dict[str, Any]]) -> None:
        sockets.extend(envelopes)

    with moto_world() as api:
        deliverers.register_deliverer(deliver)
        try:
            admin = register_studio(api, studio_name="Outbox Studio")
            project = _ok(
                api.post("/projects", json={"name": "Atomic", "code": "ATOM"}, token=admin.access_token), 201
            )
            yield World(api, admin, project, sockets)
        finally:
            deliverers.unregister_deliverer(deliver)


def _events(studio_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every event stored in the studio's outbox, oldest first."""
    return [(str(i.event_type), dict(i.data or {})) for i in OutboxItem.query(outbox_pk(studio_id))]


def _activity(studio_id: str) -> list[str]:
    return [str(i.action) for i in ActivityItem.query(activity_pk(studio_id))]


def failing_outbox(monkeypatch: pytest.MonkeyPatch, times: int | None = None) -> None:
    """Every outbox put (or the first ``times``) fails its condition ('already exists'): the whole
    transaction is cancelled.

    Whichever path adds the event to its transaction (:func:`keyframe.events.publisher.stage`,
    :func:`keyframe.outbox.records.add_to`), its put is labelled ``event:{id}``.
    """
    put = Transaction.put
    left = {"n": times}

    def failing_put(tx: Transaction, label: str, item: Any, condition: Any = None) -> Transaction:
        if label.startswith("event:") and left["n"] != 0:
            condition = OutboxItem.pk.exists()
            if left["n"] is not None:
                left["n"] -= 1
        return put(tx, label, item, condition)

    monkeypatch.setattr(Transaction, "put", failing_put)
    monkeypatch.setattr(transactions, "BACKOFF_BASE_SECONDS", 0.0)  # services retry cancellations: no pauses
    monkeypatch.setattr(versions, "PUBLISH_ATTEMPTS", 2)


class Watch:
    """What one change stored in the outbox and the activity log, and what reached sockets."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.studio = world.admin.studio_id
        self.events_before = len(_events(self.studio))
        self.activity_before = len(_activity(self.studio))
        self.sockets_before = len(world.sockets)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return _events(self.studio)[self.events_before :]

    def activity(self) -> list[str]:
        return _activity(self.studio)[self.activity_before :]

    def socket_types(self) -> list[str]:
        return [e["type"] for e in self.world.sockets[self.sockets_before :]]


def _hand_to_the_stream(studio_id: str, event_type: str) -> None:
    """Hand the studio's stored ``event_type`` events to the outbox stream's rooms consumer, as the
    catalog table's stream does (moto's in-process mode serves no stream reads)."""
    records = [
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n), "NewImage": item.serialize()}}
        for n, item in enumerate(OutboxItem.query(outbox_pk(studio_id)), start=1)
        if item.event_type == event_type
    ]
    stream.register("rooms", publisher.publish)
    try:
        assert stream.handle({"Records": records}) == {"batchItemFailures": []}
    finally:
        stream.unregister("rooms")


def _refused(response: Any) -> None:
    """The request failed (a 5xx: the store refused the transaction)."""
    assert response.status >= 500, response.body[:300]


def _assert_stored_with_its_event(watch: Watch, event_type: str, expected: dict[str, Any]) -> None:
    """The change stored one event, of ``event_type`` with ``expected`` data, and a socket got it."""
    [(stored_type, data)] = watch.events()
    assert stored_type == event_type
    assert data == {k: v for k, v in expected.items() if v is not None}  # events leave out nulls
    assert event_type in watch.socket_types()


# -- catalog: projects -----------------------------------------------------------------------------


def test_project_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token = world.api, world.admin.access_token
    # Without faults: created, updated, archived, each with its event, on sockets too
    watch = Watch(world)
    project = _ok(api.post("/projects", json={"name": "P1", "code": "P1"}, token=token), 201)
    _assert_stored_with_its_event(watch, "project:created", project)
    watch = Watch(world)
    updated = _ok(api.patch(f"/projects/{project['id']}", json={"name": "P1b"}, token=token), 200)
    _assert_stored_with_its_event(watch, "project:updated", {**updated, "changes": ["name"]})
    # A change whose condition fails (a taken code) stores no event
    watch = Watch(world)
    assert api.post("/projects", json={"name": "P2", "code": "P1"}, token=token).status == 409
    assert watch.events() == [] and watch.activity() == []
    # An event write that fails leaves no change
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.post("/projects", json={"name": "P3", "code": "P3"}, token=token))
    _refused(api.patch(f"/projects/{project['id']}", json={"name": "P1c"}, token=token))
    _refused(api.delete(f"/projects/{project['id']}", token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(f"/projects/{project['id']}", token=token), 200) == updated
    assert "P3" not in [p["code"] for p in _ok(api.get("/projects", token=token), 200)["items"]]
    watch = Watch(world)
    archived = _ok(api.delete(f"/projects/{project['id']}", token=token), 200)
    _assert_stored_with_its_event(watch, "project:archived", archived)


# -- catalog: assets -------------------------------------------------------------------------------


def test_asset_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token = world.api, world.admin.access_token
    body = {"projectId": world.project["id"], "name": "A1", "type": "SHOT"}
    watch = Watch(world)
    asset = _ok(api.post("/assets", json=body, token=token), 201)
    _assert_stored_with_its_event(watch, "asset:created", asset)
    watch = Watch(world)
    updated = _ok(api.patch(f"/assets/{asset['id']}", json={"tags": ["x"], "type": "PROP"}, token=token), 200)
    _assert_stored_with_its_event(watch, "asset:updated", {**updated, "changes": ["tags", "type"]})
    # Conditions that fail store no event: a taken name, a stale If-Match
    watch = Watch(world)
    assert api.post("/assets", json=body, token=token).status == 409
    stale = api.patch(
        f"/assets/{asset['id']}", json={"name": "A2"}, token=token, headers={"If-Match": '"x.1"'}
    )
    assert stale.status == 412
    assert watch.events() == [] and watch.activity() == []
    # Event writes that fail leave no change
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.post("/assets", json={**body, "name": "A3"}, token=token))
    _refused(api.patch(f"/assets/{asset['id']}", json={"name": "A4"}, token=token))
    _refused(api.delete(f"/assets/{asset['id']}", token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(f"/assets/{asset['id']}", token=token), 200) == updated
    # And the name A3 was not taken by the failed create
    created = _ok(api.post("/assets", json={**body, "name": "A3"}, token=token), 201)
    watch = Watch(world)
    archived = _ok(api.delete(f"/assets/{created['id']}", token=token), 200)
    _assert_stored_with_its_event(watch, "asset:archived", archived)
    watch = Watch(world)
    restored = _ok(api.post(f"/assets/{created['id']}/restore", token=token), 200)
    _assert_stored_with_its_event(watch, "asset:restored", restored)


# -- renders ---------------------------------------------------------------------------------------


def _queued_job(studio_id: str, asset_id: str, project_id: str, user_id: str) -> str:
    """A QUEUED job holding its render slot (written as a request writes it, without an execution)."""
    job_id = uuid.uuid4().hex
    created = now_iso()
    item = RenderJobItem(
        job_pk(studio_id, job_id), JOB_SK,
        gsi1pk=f"STUDIO#{studio_id}#RENDERS", gsi1sk=f"{created}#{job_id}",
        gsi2pk=f"STUDIO#{studio_id}#ASSET#{asset_id}#RENDERS", gsi2sk=f"{created}#{job_id}",
        studio_id=studio_id, job_id=job_id, asset_id=asset_id, project_id=project_id, version=1,
        preset="review-h264-720p", status="QUEUED", attempts=1,
        lineage={"assetId": asset_id, "version": 1, "key": "k"}, frames={"startFrame": 0, "endFrame": 24},
        created_by=user_id, created_at=created, updated_at=created,
    )  # fmt: skip
    tx = Transaction().put("job", item)
    quotas.reserve(tx, studio_id, Quota.CONCURRENT_RENDERS, 1)
    tx.commit()
    return job_id


def test_render_status_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token, studio = world.api, world.admin.access_token, world.admin.studio_id
    body = {"projectId": world.project["id"], "name": "R1", "type": "SHOT"}
    asset = _ok(api.post("/assets", json=body, token=token), 201)
    job_id = _queued_job(studio, asset["id"], world.project["id"], world.admin.user_id)
    progress = ProgressUpdate(progress=40, fps=24.0, eta=3)

    def job() -> dict[str, Any]:
        return render_service.get_job(studio, job_id).to_json()

    # An event write that fails: the container's start, its progress and the finish do not happen
    failing_outbox(monkeypatch)
    watch = Watch(world)
    assert render_worker_writes.begin_try(studio, job_id, 1, batch_job_id="b-1", batch_attempt=1) is None
    assert job()["status"] == "QUEUED"
    monkeypatch.undo()
    watch = Watch(world)
    assert render_worker_writes.begin_try(studio, job_id, 1, batch_job_id="b-1", batch_attempt=1) is not None
    _assert_stored_with_its_event(watch, "render:status", job())
    failing_outbox(monkeypatch)
    watch = Watch(world)
    assert render_worker_writes.report_progress(studio, job_id, 1, progress)  # still running: carry on
    with pytest.raises(Cancelled):
        render_service.finish(studio, job_id, 1, RenderStatus.SUCCEEDED)
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert (job()["status"], job()["progress"]) == ("RUNNING", 0)
    assert quotas.used(studio, Quota.CONCURRENT_RENDERS) == 1
    # Without faults: progress and the finish, each with its event
    watch = Watch(world)
    assert render_worker_writes.report_progress(studio, job_id, 1, progress)
    [(kind, data)] = watch.events()
    assert (kind, data["progress"], data["assetId"]) == ("render:progress", 40, asset["id"])
    watch = Watch(world)
    render_service.finish(studio, job_id, 1, RenderStatus.SUCCEEDED)
    _assert_stored_with_its_event(watch, "render:status", job())
    assert job()["status"] == "SUCCEEDED" and quotas.used(studio, Quota.CONCURRENT_RENDERS) == 0
    # A change whose condition fails (the attempt already ended) stores no event
    watch = Watch(world)
    assert render_service.finish(studio, job_id, 1, RenderStatus.FAILED) is None
    assert render_worker_writes.report_progress(studio, job_id, 1, progress) is False
    assert watch.events() == [] and watch.activity() == []


# -- uploads ---------------------------------------------------------------------------------------


def test_upload_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token, studio = world.api, world.admin.access_token, world.admin.studio_id
    asset = _ok(
        api.post(
            "/assets", json={"projectId": world.project["id"], "name": "U1", "type": "SHOT"}, token=token
        ),
        201,
    )
    data = b"frame" * 100
    body = {"fileName": "shot.mov", "size": len(data), "contentType": "video/quicktime",
            "sha256": hashlib.sha256(data).hexdigest()}  # fmt: skip
    uploads = f"/assets/{asset['id']}/uploads"
    used = quotas.used(studio, Quota.STORAGE_BYTES)
    # An event write that fails: no session opened, no storage reserved
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.post(uploads, json=body, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert quotas.used(studio, Quota.STORAGE_BYTES) == used
    # Without faults: opened with its event, which is left to the outbox stream (not announced inline)
    watch = Watch(world)
    opened = _ok(api.post(uploads, json=body, token=token), 201)
    [(kind, event)] = watch.events()
    assert (kind, event["uploadId"], event["status"]) == ("upload:started", opened["uploadId"], "OPEN")
    assert watch.socket_types() == []
    _hand_to_the_stream(studio, "upload:started")
    assert "upload:started" in watch.socket_types()
    # An abort whose event write fails leaves the session open and the storage reserved
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.delete(f"{uploads}/{opened['uploadId']}", token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(f"{uploads}/{opened['uploadId']}", token=token), 200)["status"] == "OPEN"
    assert quotas.used(studio, Quota.STORAGE_BYTES) == used + len(data)
    watch = Watch(world)
    assert api.delete(f"{uploads}/{opened['uploadId']}", token=token).status in (200, 204)
    [(kind, event)] = watch.events()
    assert (kind, event["status"], event["reason"]) == ("upload:aborted", "ABORTED", "ABORTED")
    assert quotas.used(studio, Quota.STORAGE_BYTES) == used
    # A second abort changes nothing and stores no event
    watch = Watch(world)
    api.delete(f"{uploads}/{opened['uploadId']}", token=token)
    assert watch.events() == [] and watch.activity() == []


# -- catalog: versions (the pipeline's publish, ready, failed) and rollback -----------------------


def _file(n: int) -> FileInfo:
    return FileInfo(
        key=f"studios/s/f{n}.mov", size=100 + n, content_type="video/quicktime", file_name=f"f{n}.mov"
    )


def test_version_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token, studio, user = world.api, world.admin.access_token, world.admin.studio_id, world.admin.user_id
    asset = _ok(
        api.post(
            "/assets", json={"projectId": world.project["id"], "name": "V1", "type": "SHOT"}, token=token
        ),
        201,
    )
    asset_id = asset["id"]
    media, derived = {"duration": 2.0}, {"thumbnail": "t.jpg"}

    def version(n: int) -> dict[str, Any]:
        return get_version(studio, asset_id, n).to_json()

    # Event writes that fail: nothing published
    failing_outbox(monkeypatch)
    watch = Watch(world)
    with pytest.raises(Cancelled):
        versions.publish_version(studio, asset_id, created_by=user, file=_file(1))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(f"/assets/{asset_id}", token=token), 200)["latestVersion"] == 0
    # Published with its event; then ready, failed and rollback: a failing event write stops each
    watch = Watch(world)
    versions.publish_version(studio, asset_id, created_by=user, file=_file(1))
    _assert_stored_with_its_event(watch, "version:published", version(1))
    versions.publish_version(studio, asset_id, created_by=user, file=_file(2))
    failing_outbox(monkeypatch)
    watch = Watch(world)
    with pytest.raises(Cancelled):
        versions.mark_version_ready(studio, asset_id, 1, media=media, derived=derived)
    with pytest.raises(Conflict):
        versions.mark_version_failed(studio, asset_id, 2, error_code="BAD", message="bad")
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert (version(1)["status"], version(2)["status"]) == ("PROCESSING", "PROCESSING")
    watch = Watch(world)
    versions.mark_version_ready(studio, asset_id, 1, media=media, derived=derived)
    _assert_stored_with_its_event(watch, "version:ready", {**version(1), "current": True})
    watch = Watch(world)
    versions.mark_version_failed(studio, asset_id, 2, error_code="BAD", message="bad")
    _assert_stored_with_its_event(watch, "version:failed", version(2))
    versions.publish_version(studio, asset_id, created_by=user, file=_file(3))
    versions.mark_version_ready(studio, asset_id, 3, media=media, derived=derived)
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.patch(f"/assets/{asset_id}/rollback", json={"version": 1}, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(f"/assets/{asset_id}", token=token), 200)["currentVersion"] == 3
    watch = Watch(world)
    rolled = _ok(api.patch(f"/assets/{asset_id}/rollback", json={"version": 1}, token=token), 200)
    _assert_stored_with_its_event(watch, "asset:rollback", {**rolled, "from": 3, "to": 1})
    # A change whose condition fails (a failed version cannot become ready) stores no event
    watch = Watch(world)
    with pytest.raises(Conflict):
        versions.mark_version_ready(studio, asset_id, 2, media=media, derived=derived)
    assert watch.events() == [] and watch.activity() == []


# -- identity: registration, invitations, members -------------------------------------------------


def test_member_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, admin = world.api, world.admin
    token = admin.access_token
    # Registration: an outbox write that fails leaves the e-mail free; then it stores member:joined
    email = unique_email("outbox")
    body = {"studioName": "Fresh", "email": email, "password": DEFAULT_PASSWORD, "displayName": "Fresh"}
    failing_outbox(monkeypatch)
    _refused(api.post("/auth/register", json=body))
    monkeypatch.undo()
    fresh = register_studio(api, studio_name="Fresh", email=email)
    assert [t for t, _ in _events(fresh.studio_id)] == ["member:joined"]
    # Invitations, acceptance, role changes and removals
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(
        api.post("/studio/invitations", json={"email": unique_email("x"), "role": "ARTIST"}, token=token)
    )
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get("/studio/invitations", token=token), 200)["items"] == []
    watch = Watch(world)
    invitation = invite(api, admin, "ARTIST")
    [(kind, data)] = watch.events()
    assert (kind, data["invitationId"]) == ("member:invited", invitation["invitationId"])
    failing_outbox(monkeypatch)
    accepting = {"token": invitation["token"], "password": DEFAULT_PASSWORD, "displayName": "Member"}
    _refused(api.post("/auth/accept-invitation", json=accepting))
    monkeypatch.undo()
    watch = Watch(world)
    artist = accept(api, invitation["token"], invitation["email"])
    [(kind, data)] = watch.events()
    assert (kind, data["userId"], data["role"]) == ("member:joined", artist.user_id, "ARTIST")
    member = f"/studio/members/{artist.user_id}"
    failing_outbox(monkeypatch)
    watch = Watch(world)
    # (a store that keeps refusing the event is a 5xx, not a 409 CONCURRENT_CHANGE: nobody else
    # changed the member, and a client that retries on 409 would only meet the same fault)
    _refused(api.patch(member, json={"role": "DIRECTOR"}, token=token))
    _refused(api.delete(member, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    roles = {m["userId"]: m["role"] for m in _ok(api.get("/studio/members", token=token), 200)["items"]}
    assert roles[artist.user_id] == "ARTIST"
    # An event write refused once is tried again with the change: the role change answers 200
    failing_outbox(monkeypatch, times=1)
    watch = Watch(world)
    _ok(api.patch(member, json={"role": "PRODUCER"}, token=token), 200)
    monkeypatch.undo()
    _assert_stored_with_its_event(
        watch,
        "member:role-changed",
        {"userId": artist.user_id, "role": "PRODUCER", "previousRole": "ARTIST", "changedBy": admin.user_id},
    )
    _ok(api.patch(member, json={"role": "ARTIST"}, token=token), 200)
    watch = Watch(world)
    _ok(api.patch(member, json={"role": "DIRECTOR"}, token=token), 200)
    _assert_stored_with_its_event(
        watch,
        "member:role-changed",
        {"userId": artist.user_id, "role": "DIRECTOR", "previousRole": "ARTIST", "changedBy": admin.user_id},
    )
    watch = Watch(world)
    assert api.delete(member, token=token).status == 204
    _assert_stored_with_its_event(
        watch, "member:removed", {"userId": artist.user_id, "role": "DIRECTOR", "removedBy": admin.user_id}
    )


# -- catalog: dependencies (and what a new current version tells dependents) ----------------------


def test_dependency_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token, studio, user = world.api, world.admin.access_token, world.admin.studio_id, world.admin.user_id

    def new_asset(name: str) -> str:
        body = {"projectId": world.project["id"], "name": name, "type": "SHOT"}
        return str(_ok(api.post("/assets", json=body, token=token), 201)["id"])

    shot, rig = new_asset("D-shot"), new_asset("D-rig")
    edge = f"/assets/{shot}/dependencies/{rig}"
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.put(edge, json={}, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(f"/assets/{shot}/dependencies", token=token), 200)["items"] == []
    watch = Watch(world)
    added = _ok(api.put(edge, json={}, token=token), 201)
    _assert_stored_with_its_event(watch, "dependency:added", added)
    # A new current version of the rig: the shot (following) is told, with one event
    versions.publish_version(studio, rig, created_by=user, file=_file(9))
    watch = Watch(world)
    versions.mark_version_ready(studio, rig, 1, media={}, derived={})
    assert [t for t, _ in watch.events()] == ["version:ready", "asset:dependency-updated"]
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.delete(edge, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert len(_ok(api.get(f"/assets/{shot}/dependencies", token=token), 200)["items"]) == 1
    watch = Watch(world)
    assert api.delete(edge, token=token).status == 204
    _assert_stored_with_its_event(watch, "dependency:removed", {"assetId": shot, "dependsOnId": rig})


# -- reviews: comment edits and resolutions --------------------------------------------------------


def test_comment_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token, studio, user = world.api, world.admin.access_token, world.admin.studio_id, world.admin.user_id
    body = {"projectId": world.project["id"], "name": "C1", "type": "SHOT"}
    asset_id = _ok(api.post("/assets", json=body, token=token), 201)["id"]
    versions.publish_version(studio, asset_id, created_by=user, file=_file(5))
    versions.mark_version_ready(studio, asset_id, 1, media={}, derived={})
    comments = f"/assets/{asset_id}/versions/1/comments"
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.post(comments, json={"body": "Too dark"}, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(comments, token=token), 200)["items"] == []
    comment = _ok(api.post(comments, json={"body": "Too dark"}, token=token), 201)
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(
        api.patch(f"/comments/{comment['commentId']}", json={"body": "Darker", "resolved": True}, token=token)
    )
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(comments, token=token), 200)["items"][0]["body"] == "Too dark"
    watch = Watch(world)
    edited = _ok(
        api.patch(
            f"/comments/{comment['commentId']}", json={"body": "Darker", "resolved": True}, token=token
        ),
        200,
    )
    assert watch.events() == [("comment:updated", _present(edited)), ("comment:resolved", _present(edited))]
    assert {"comment:updated", "comment:resolved"} <= set(watch.socket_types())


def _present(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def test_render_policy_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token = world.api, world.admin.access_token
    policies = f"/projects/{world.project['id']}/render-policies"
    body = {"assetTypes": ["SHOT"], "presets": ["filmstrip"]}
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.post(policies, json=body, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(policies, token=token), 200)["items"] == []
    watch = Watch(world)
    policy = _ok(api.post(policies, json=body, token=token), 201)
    _assert_stored_with_its_event(watch, "render-policy:created", policy)
    one = f"{policies}/{policy['policyId']}"
    failing_outbox(monkeypatch)
    watch = Watch(world)
    _refused(api.patch(one, json={"enabled": False}, token=token))
    _refused(api.delete(one, token=token))
    monkeypatch.undo()
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(policies, token=token), 200)["items"] == [policy]
    watch = Watch(world)
    updated = _ok(api.patch(one, json={"enabled": False}, token=token), 200)
    _assert_stored_with_its_event(watch, "render-policy:updated", updated)


# -- pipeline records ------------------------------------------------------------------------------


def test_pipeline_writes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    studio, user = world.admin.studio_id, world.admin.user_id
    upload = PipelineInput(
        studio_id=studio, asset_id="a-pipe", upload_id=uuid.uuid4().hex, bucket="media", key="k",
        size=10, file_name="shot.mov", created_by=user,
    )  # fmt: skip
    failing_outbox(monkeypatch)
    with pytest.raises(Cancelled):
        pipeline.create(upload)
    monkeypatch.undo()
    assert pipeline.get(studio, upload.upload_id) is None
    steps = [
        lambda: pipeline.create(upload)[0],
        lambda: pipeline.attach_execution(pipeline.require(studio, upload.upload_id), "arn:x"),
        lambda: pipeline.step_started(studio, upload.upload_id, "validate"),
        lambda: pipeline.step_succeeded(
            studio,
            upload.upload_id,
            "validate",
            *pipeline.set_validation(kind="video", fmt="mov", content_type="video/quicktime", size=10),
        ),
        lambda: pipeline.step_started(studio, upload.upload_id, "publish"),
        lambda: pipeline.step_succeeded(
            studio, upload.upload_id, "publish", *pipeline.set_version(studio, "a-pipe", 1)
        ),
        lambda: pipeline.finish_succeeded(pipeline.require(studio, upload.upload_id)),
        lambda: pipeline.begin_rerun(pipeline.require(studio, upload.upload_id), user),
        lambda: pipeline.fail_if_running(
            pipeline.require(studio, upload.upload_id), None, "derive", "X", "x"
        ),
    ]
    for write in steps:
        # Each write with a failing event write changes nothing (the first one is made above)
        if write is not steps[0]:
            before = pipeline.view(pipeline.require(studio, upload.upload_id))
            failing_outbox(monkeypatch)
            with pytest.raises(Cancelled):
                write()
            monkeypatch.undo()
            assert pipeline.view(pipeline.require(studio, upload.upload_id)) == before
        # And without faults its event (the last one stored) shows the record as stored
        watch = Watch(world)
        write()
        stored = pipeline.view(pipeline.require(studio, upload.upload_id))
        last = {k: v for k, v in watch.events()[-1][1].items() if k != "changedStep"}
        assert last == stored


# -- webhooks (stored with add_to since they were built) ------------------------------------------


def test_webhook_changes_and_their_events_commit_together(world: World, monkeypatch) -> None:
    api, token = world.api, world.admin.access_token
    monkeypatch.setenv("WEBHOOK_ALLOW_LOCAL_HTTP", "true")
    settings.reset()
    body = {"url": "http://127.0.0.1:9/hook", "eventTypes": ["asset:created"]}
    with monkeypatch.context() as fault:
        failing_outbox(fault)
        watch = Watch(world)
        _refused(api.post("/studio/webhooks", json=body, token=token))
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get("/studio/webhooks", token=token), 200)["items"] == []
    watch = Watch(world)
    created = _ok(api.post("/studio/webhooks", json=body, token=token), 201)
    assert [t for t, _ in watch.events()] == ["webhook:created"]
    one = f"/studio/webhooks/{created['webhookId']}"
    with monkeypatch.context() as fault:
        failing_outbox(fault)
        watch = Watch(world)
        _refused(api.patch(one, json={"active": False}, token=token))
        _refused(api.delete(one, token=token))
    assert watch.events() == [] and watch.activity() == []
    assert _ok(api.get(one, token=token), 200)["active"] is True
