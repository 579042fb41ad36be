"""Domain events: each catalog change is published to the studio, project and asset rooms."""

from __future__ import annotations

from keyframe.catalog import versions
from keyframe.events.publisher import room_events
from tests.integration.catalog.conftest import publish


def _types(studio_id: str, room: str) -> list[str]:
    return [e["type"] for e in room_events(studio_id, room, limit=1000)]


def test_asset_lifecycle_events_reach_studio_project_and_asset_rooms(api, admin, project, make_asset):
    # Given / When
    hero, rig = make_asset("Hero"), make_asset("Rig", "RIG")
    api.patch(f"/assets/{hero['id']}", json={"description": "d"}, token=admin.access_token)
    publish(admin, hero["id"])
    publish(admin, hero["id"])
    failed = publish(admin, hero["id"], ready=False)
    versions.mark_version_failed(admin.studio_id, hero["id"], failed, error_code="X", message="x")
    api.patch(f"/assets/{hero['id']}/rollback", json={"version": 1}, token=admin.access_token)
    api.put(f"/assets/{rig['id']}/dependencies/{hero['id']}", token=admin.access_token)
    api.delete(f"/assets/{rig['id']}/dependencies/{hero['id']}", token=admin.access_token)
    api.delete(f"/assets/{hero['id']}", token=admin.access_token)
    api.post(f"/assets/{hero['id']}/restore", token=admin.access_token)

    # Then
    expected = [
        "asset:created",
        "asset:updated",
        "version:published",
        "version:ready",
        "version:published",
        "version:ready",
        "version:published",
        "version:failed",
        "asset:rollback",
        "dependency:added",
        "dependency:removed",
        "asset:archived",
        "asset:restored",
    ]
    assert _types(admin.studio_id, f"asset:{hero['id']}") == expected
    project_room = _types(admin.studio_id, f"project:{project['id']}")
    assert project_room[0] == "project:created"
    assert [t for t in project_room if t in set(expected)][:3] == [
        "asset:created",
        "asset:created",
        "asset:updated",
    ]
    studio_room = room_events(admin.studio_id, "studio", limit=1000)
    assert [e["seq"] for e in studio_room] == list(range(1, len(studio_room) + 1))
    rollback = next(e for e in studio_room if e["type"] == "asset:rollback")
    assert (rollback["data"]["id"], rollback["data"]["from"], rollback["data"]["to"]) == (hero["id"], 2, 1)


def test_project_events(api, admin, project):
    api.patch(f"/projects/{project['id']}", json={"name": "Renamed"}, token=admin.access_token)
    api.delete(f"/projects/{project['id']}", token=admin.access_token)

    assert _types(admin.studio_id, f"project:{project['id']}") == [
        "project:created",
        "project:updated",
        "project:archived",
    ]


def test_events_stay_in_their_studio(api, admin, other_admin, make_asset):
    make_asset()

    theirs = [e["type"] for e in room_events(other_admin.studio_id, "studio")]
    assert not [t for t in theirs if t.startswith(("asset:", "project:", "version:"))]
    assert "asset:created" in [e["type"] for e in room_events(admin.studio_id, "studio")]
