"""Renders the system queues from the durable domain events (the outbox stream's ``renders`` consumer):
render policies (issue 17.6) and re-render on change (issue 17.7).

The events are read from the outbox items the changes stored and handed to the consumer as the
stream would hand them, twice (the stream redelivers after a failure): each cause queues one render.
"""

from __future__ import annotations

from typing import Any

from keyframe.outbox.records import DomainEvent, OutboxItem, from_stream_record, outbox_pk
from keyframe.renders import service, triggers
from tests.integration.renders.conftest import Spy, Target, executions, publish, set_env
from tests.integration.renders.test_scene_renders import SCENE_MEDIA, sif
from tests.support.identity import Session, add_member

IMAGE = {"kind": "image", "format": "png"}


def _events(studio_id: str, event_type: str | None = None) -> list[DomainEvent]:
    """The studio's stored domain events, oldest first (as the stream hands them)."""
    found = []
    for item in OutboxItem.query(outbox_pk(studio_id)):
        event = from_stream_record({"eventName": "INSERT", "dynamodb": {"NewImage": item.serialize()}})
        if event is not None and (event_type is None or event.type == event_type):
            found.append(event)
    return found


def _deliver_all(studio_id: str) -> None:
    """Hand every stored event to the renders consumer, twice (a redelivery)."""
    for _ in range(2):
        for event in _events(studio_id):
            triggers.consume(event)


def _jobs(session: Session, asset_id: str) -> list[Any]:
    return service.list_jobs(session.studio_id, asset_id=asset_id).items


def test_render_policies_are_managed_by_producers_and_admins(
    api: Any, admin: Session, target: Target
) -> None:
    # Given a producer and an artist of the studio
    producer, artist = add_member(api, admin, "PRODUCER"), add_member(api, admin, "ARTIST")
    url = f"/projects/{target.project_id}/render-policies"
    # When the producer adds "hls for every SHOT"
    made = api.post(
        url, json={"assetTypes": ["SHOT"], "presets": ["hls", "hls"]}, token=producer.access_token
    )
    # Then it exists (duplicates dropped); the artist reads it but cannot change it
    assert made.status == 201, made.body
    policy = made.json()
    assert (policy["assetTypes"], policy["presets"], policy["enabled"]) == (["SHOT"], ["hls"], True)
    assert api.get(url, token=artist.access_token).json()["items"] == [policy]
    denied = api.post(url, json={"assetTypes": ["SHOT"], "presets": ["hls"]}, token=artist.access_token)
    assert denied.status == 403
    # When it is changed and then deleted
    one = f"{url}/{policy['policyId']}"
    changed = api.patch(
        one, json={"presets": ["hls", "review-mp4"], "enabled": False}, token=admin.access_token
    )
    assert changed.status == 200 and changed.json()["presets"] == ["hls", "review-mp4"]
    assert not changed.json()["enabled"]
    assert api.delete(one, token=producer.access_token).status == 204
    assert api.delete(one, token=producer.access_token).json()["error"]["code"] == "RENDER_POLICY_NOT_FOUND"
    # Then each change is in the activity log and was announced as a live event
    actions = [e["action"] for e in api.get("/activity", token=admin.access_token).json()["items"]]
    assert {"render-policy:created", "render-policy:updated", "render-policy:deleted"} <= set(actions)
    announced = [e.type for e in _events(admin.studio_id) if e.type.startswith("render-policy:")]
    assert announced == ["render-policy:created", "render-policy:updated", "render-policy:deleted"]
    # And a bad body is a 400, an unknown project a 404
    bad = api.post(url, json={"assetTypes": [], "presets": ["hls"]}, token=admin.access_token)
    assert bad.status == 400
    assert api.get("/projects/nope/render-policies", token=admin.access_token).status == 404


def test_a_policy_queues_its_preset_once_per_ready_version_of_a_matching_type(
    api: Any, admin: Session, runs: Spy, publish_clip: Any
) -> None:
    # Given "hls for every SHOT" in a project, a shot and a texture
    shot = publish_clip(admin)  # v1 of a SHOT, READY
    url = f"/projects/{shot.project_id}/render-policies"
    policy = api.post(url, json={"assetTypes": ["SHOT"], "presets": ["hls"]}, token=admin.access_token).json()
    texture = publish(admin, b"png", IMAGE, project_id=shot.project_id, name="wood")
    # When the shot's v2 becomes READY (and every stored event is delivered twice)
    publish_clip(admin, asset_id=shot.asset_id, project_id=shot.project_id)
    _deliver_all(admin.studio_id)
    # Then exactly one hls render of v2 is queued (v1 was READY before the policy), naming the policy
    [job] = _jobs(admin, shot.asset_id)
    assert (job.preset, job.version, job.status) == ("hls", 2, "QUEUED")
    assert job.lineage.trigger.kind == "render-policy" and job.lineage.trigger.policy_id == policy["policyId"]
    assert job.created_by == admin.user_id and len(executions()) == 1
    # And the activity log shows the system's request with its trigger; the texture got nothing
    entries = api.get(f"/activity?assetId={shot.asset_id}", token=admin.access_token).json()["items"]
    requested = [e for e in entries if e["action"] == "render:requested"]
    assert len(requested) == 1 and requested[0]["details"]["trigger"]["policyId"] == policy["policyId"]
    assert requested[0].get("actorId") is None
    assert _jobs(admin, texture.asset_id) == []


def test_a_policy_render_a_quota_refuses_is_not_queued_and_the_activity_log_says_why(
    api: Any, admin: Session, runs: Spy, publish_clip: Any, monkeypatch: Any
) -> None:
    # Given "hls for every SHOT", one render in flight and a studio limit of one at a time
    shot = publish_clip(admin)
    url = f"/projects/{shot.project_id}/render-policies"
    assert (
        api.post(url, json={"assetTypes": ["SHOT"], "presets": ["hls"]}, token=admin.access_token).status
        == 201
    )
    set_env(monkeypatch, MAX_CONCURRENT_RENDERS_PER_STUDIO=1)
    busy = api.post(f"/assets/{shot.asset_id}/renders", json={"preset": "hls"}, token=admin.access_token)
    assert busy.status == 202, busy.body
    # When the shot's v2 becomes READY and its events are delivered (twice)
    publish_clip(admin, asset_id=shot.asset_id, project_id=shot.project_id)
    _deliver_all(admin.studio_id)
    # Then no render of v2 was queued or started
    assert [(j.version, j.preset) for j in _jobs(admin, shot.asset_id)] == [(1, "hls")]
    assert len(executions()) == 1
    # And the asset's activity names the refused automatic render, its quota and its cause
    entries = api.get(f"/activity?assetId={shot.asset_id}", token=admin.access_token).json()["items"]
    refused = [e for e in entries if e["action"] == "render:not-queued"]
    assert refused and refused[0].get("actorId") is None
    details = refused[0]["details"]
    assert (details["preset"], details["version"]) == ("hls", 2)
    assert details["code"] == "CONCURRENT_RENDERS_QUOTA_EXCEEDED"
    assert details["trigger"]["kind"] == "render-policy"


def _opted_in_scene(api: Any, admin: Session, *, pin: int | None = None) -> tuple[Target, Target]:
    """A READY Synfig scene that uses a plate (v1), opted in to re-render on change."""
    scene = publish(admin, sif(4, "plate.png"), SCENE_MEDIA)
    plate = publish(admin, b"plate-1", IMAGE, project_id=scene.project_id, name="plate")
    put = api.put(f"/assets/{scene.asset_id}/dependencies/{plate.asset_id}",
                  json={"pinnedVersion": pin} if pin else {}, token=admin.access_token)  # fmt: skip
    assert put.status == 201, put.body
    opted = api.patch(f"/assets/{scene.asset_id}", json={"rerenderOnChange": True}, token=admin.access_token)
    assert opted.status == 200 and opted.json()["rerenderOnChange"] is True, opted.body
    return scene, plate


def test_a_dependencys_new_version_queues_exactly_one_rerender_of_an_opted_in_shot(
    api: Any, admin: Session, runs: Spy
) -> None:
    # Given an opted-in scene that follows its plate
    scene, plate = _opted_in_scene(api, admin)
    _deliver_all(admin.studio_id)  # what happened so far queues nothing
    assert _jobs(admin, scene.asset_id) == []
    # When the plate gets v2 as its current version, and the events are delivered twice
    publish(admin, b"plate-2", IMAGE, asset_id=plate.asset_id, project_id=scene.project_id)
    _deliver_all(admin.studio_id)
    # Then exactly one scene-review of the scene's current version is queued, naming the change
    [job] = _jobs(admin, scene.asset_id)
    assert (job.preset, job.version, job.status) == ("scene-review", scene.version, "QUEUED")
    trigger = job.lineage.trigger
    assert (trigger.kind, trigger.dependency_id, trigger.dependency_version) == (
        "dependency-change", plate.asset_id, 2
    )  # fmt: skip
    assert [(d.asset_id, d.version) for d in job.lineage.dependencies] == [(plate.asset_id, 2)]
    # And the asset's room got one asset:rerender-queued naming the job
    [queued] = _events(admin.studio_id, "asset:rerender-queued")
    assert queued.data["renderJobId"] == job.render_job_id and f"asset:{scene.asset_id}" in queued.rooms


def test_no_rerender_without_opt_in_or_for_a_pinned_dependency(api: Any, admin: Session, runs: Spy) -> None:
    # Given an opted-in scene pinning its plate to v1, and one that did not opt in
    pinned, plate = _opted_in_scene(api, admin, pin=1)
    other = publish(admin, sif(4, "plate.png"), SCENE_MEDIA, project_id=pinned.project_id, name="Shot 020")
    assert api.put(f"/assets/{other.asset_id}/dependencies/{plate.asset_id}", json={},
                   token=admin.access_token).status == 201  # fmt: skip
    # When the plate gets v2
    publish(admin, b"plate-2", IMAGE, asset_id=plate.asset_id, project_id=pinned.project_id)
    _deliver_all(admin.studio_id)
    # Then neither is re-rendered
    assert _jobs(admin, pinned.asset_id) == [] and _jobs(admin, other.asset_id) == []
    assert _events(admin.studio_id, "asset:rerender-queued") == []


def test_an_event_about_something_gone_is_skipped_not_retried_forever(admin: Session, runs: Spy) -> None:
    # Given events naming an asset that does not exist (deleted, or another studio's)
    gone = [
        DomainEvent.new(admin.studio_id, "asset:dependency-updated",
                        {"assetId": "gone", "dependencyId": "x", "currentVersion": 2, "following": True},
                        rooms=[]),
        DomainEvent.new(admin.studio_id, "version:ready",
                        {"assetId": "gone", "projectId": "gone", "version": 1, "status": "READY"}, rooms=[]),
    ]  # fmt: skip
    # When the consumer gets them, Then it returns (the stream moves on) and nothing is queued
    for event in gone:
        triggers.consume(event)
    assert service.list_jobs(admin.studio_id).items == []


def test_a_change_two_levels_down_rerenders_the_scene_once(api: Any, admin: Session, runs: Spy) -> None:
    # Given an opted-in scene following a plate, which follows a texture (the scene reads both)
    scene, plate = _opted_in_scene(api, admin)
    texture = publish(admin, b"texture-1", IMAGE, project_id=scene.project_id, name="texture")
    assert api.put(f"/assets/{plate.asset_id}/dependencies/{texture.asset_id}", json={},
                   token=admin.access_token).status == 201  # fmt: skip
    _deliver_all(admin.studio_id)
    assert _jobs(admin, scene.asset_id) == []
    # When the texture gets v2 (the plate is told; the scene uses the plate)
    publish(admin, b"texture-2", IMAGE, asset_id=texture.asset_id, project_id=scene.project_id)
    _deliver_all(admin.studio_id)
    # Then the scene is re-rendered once, reading texture v2 through the plate
    [job] = _jobs(admin, scene.asset_id)
    assert (job.lineage.trigger.dependency_id, job.lineage.trigger.dependency_version) == (
        texture.asset_id,
        2,
    )
    assert {(d.asset_id, d.version) for d in job.lineage.dependencies} == {
        (plate.asset_id, 1),
        (texture.asset_id, 2),
    }
    assert _jobs(admin, plate.asset_id) == []  # the plate did not opt in (and is no scene)
