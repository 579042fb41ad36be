"""Favorites and playback positions through the API (``/me/favorites``, ``/me/playback``).

One moto world for the module: studio A (an ADMIN and an ARTIST, a project with three assets and a
render job) and studio B (an ADMIN). Each test works on its own member or asset, so order does not
matter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from keyframe.favorites.favorites import favoured_by
from keyframe.renders.models import JOB_SK, RenderJobItem, job_pk
from tests.support.identity import Session, add_member, register_studio
from tests.support.world import moto_world


@dataclass(frozen=True)
class World:
    api: Any
    admin: Session
    artist: Session
    other: Session
    assets: list[str]
    render_job_id: str


def _ok(response: Any, status: int) -> Any:
    assert response.status == status, response.body[:500]
    return json.loads(response.body) if response.body else None


def _code(response: Any, status: int) -> str:
    assert response.status == status, response.body[:500]
    return json.loads(response.body)["error"]["code"]


def _render_job(studio_id: str, asset_id: str, user_id: str) -> str:
    """A finished render job record (the favorites domain only needs it to exist in the studio)."""
    job_id = "render-0001"
    RenderJobItem(
        job_pk(studio_id, job_id),
        JOB_SK,
        gsi1pk=f"STUDIO#{studio_id}#RENDERS",
        gsi1sk=f"2026-12-04T00:00:00.000Z#{job_id}",
        gsi2pk=f"STUDIO#{studio_id}#ASSET#{asset_id}#RENDERS",
        gsi2sk=f"2026-12-04T00:00:00.000Z#{job_id}",
        studio_id=studio_id,
        job_id=job_id,
        asset_id=asset_id,
        project_id="p",
        version=1,
        preset="hls",
        status="SUCCEEDED",
        lineage={},
        frames={},
        created_by=user_id,
        created_at="2026-12-04T00:00:00.000Z",
        updated_at="2026-12-04T00:00:00.000Z",
    ).save()
    return job_id


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with moto_world() as api:
        admin = register_studio(api, studio_name="Fav Studio")
        artist = add_member(api, admin, "ARTIST")
        other = register_studio(api, studio_name="Other Studio")
        project = _ok(
            api.post("/projects", json={"name": "Fav", "code": "FAV"}, token=admin.access_token), 201
        )
        assets = [
            _ok(
                api.post(
                    "/assets",
                    json={"projectId": project["id"], "name": f"Shot {n}", "type": "SHOT"},
                    token=admin.access_token,
                ),
                201,
            )["id"]
            for n in range(3)
        ]
        job = _render_job(admin.studio_id, assets[0], admin.user_id)
        yield World(api, admin, artist, other, assets, job)


def test_a_favorite_is_listed_newest_first_and_marking_twice_keeps_the_first_time(world: World) -> None:
    # Given an artist who marks two assets, the first one twice
    api, token = world.api, world.artist.access_token
    first = _ok(api.put(f"/me/favorites/{world.assets[0]}", token=token), 201)
    _ok(api.put(f"/me/favorites/{world.assets[1]}", token=token), 201)
    again = _ok(api.put(f"/me/favorites/{world.assets[0]}", token=token), 200)
    # Then the second mark changed nothing
    assert again["favoritedAt"] == first["favoritedAt"] and again["asset"]["id"] == world.assets[0]
    # And the list holds both, newest first, with the asset as the catalog lists it
    page = _ok(api.get("/me/favorites", token=token), 200)
    assert [f["assetId"] for f in page["items"]] == [world.assets[1], world.assets[0]]
    assert page["items"][0]["asset"]["name"] == "Shot 1" and page["nextCursor"] is None
    # And the admin of the same studio has favorites of their own (none)
    assert _ok(api.get("/me/favorites", token=world.admin.access_token), 200)["items"] == []
    # And the reverse lookup names the artist
    assert favoured_by(world.admin.studio_id, world.assets[0]) == [world.artist.user_id]


def test_favorites_page_with_signed_cursors(world: World) -> None:
    # Given a member with three favorites
    member = add_member(world.api, world.admin, "VIEWER")
    for asset_id in world.assets:
        _ok(world.api.put(f"/me/favorites/{asset_id}", token=member.access_token), 201)
    # When they read pages of two
    first = _ok(world.api.get("/me/favorites?limit=2", token=member.access_token), 200)
    rest = _ok(
        world.api.get(f"/me/favorites?limit=2&cursor={first['nextCursor']}", token=member.access_token), 200
    )
    # Then every favorite comes once, newest first
    seen = [f["assetId"] for f in first["items"] + rest["items"]]
    assert seen == list(reversed(world.assets)) and rest["nextCursor"] is None
    # And another member's cursor is refused (it is bound to the member's own listing)
    assert (
        _code(
            world.api.get(f"/me/favorites?cursor={first['nextCursor']}", token=world.artist.access_token), 400
        )
        == "INVALID_CURSOR"
    )


def test_an_archived_asset_is_hidden_and_can_still_be_removed(world: World) -> None:
    # Given a member whose favorite gets archived
    member = add_member(world.api, world.admin, "DIRECTOR")
    body = {"projectId": _project_of(world), "name": "Doomed", "type": "PROP"}
    asset_id = _ok(world.api.post("/assets", json=body, token=world.admin.access_token), 201)["id"]
    _ok(world.api.put(f"/me/favorites/{asset_id}", token=member.access_token), 201)
    _ok(world.api.request("DELETE", f"/assets/{asset_id}", token=world.admin.access_token), 200)
    # Then their list no longer shows it, and marking it again is refused
    assert _ok(world.api.get("/me/favorites", token=member.access_token), 200)["items"] == []
    assert (
        _code(world.api.put(f"/me/favorites/{asset_id}", token=member.access_token), 409) == "ASSET_ARCHIVED"
    )
    # And removing it works, twice
    for _ in range(2):
        assert (
            world.api.request("DELETE", f"/me/favorites/{asset_id}", token=member.access_token).status == 204
        )
    assert favoured_by(world.admin.studio_id, asset_id) == []


def _project_of(world: World) -> str:
    return _ok(world.api.get(f"/assets/{world.assets[0]}", token=world.admin.access_token), 200)["projectId"]


def test_another_studios_ids_answer_404(world: World) -> None:
    # Given studio B's admin and studio A's asset and render
    token, asset_id, job = world.other.access_token, world.assets[0], world.render_job_id
    # Then every route answers 404, and nothing of A shows up in B's list
    assert _code(world.api.put(f"/me/favorites/{asset_id}", token=token), 404) == "ASSET_NOT_FOUND"
    assert (
        _code(world.api.request("DELETE", f"/me/favorites/{asset_id}", token=token), 404) == "ASSET_NOT_FOUND"
    )
    assert _code(world.api.get(f"/me/playback/{job}", token=token), 404) == "RENDER_NOT_FOUND"
    put = world.api.put(f"/me/playback/{job}", json={"positionSeconds": 3}, token=token)
    assert _code(put, 404) == "RENDER_NOT_FOUND"
    assert _ok(world.api.get("/me/favorites", token=token), 200)["items"] == []


def test_playback_position_resumes_per_member(world: World) -> None:
    # Given a render never played by the artist
    api, job = world.api, world.render_job_id
    start = _ok(api.get(f"/me/playback/{job}", token=world.artist.access_token), 200)
    assert start == {"renderJobId": job, "positionSeconds": 0.0, "updatedAt": None}
    # When the artist stops at 12.25 s, then at 40 s
    _ok(api.put(f"/me/playback/{job}", json={"positionSeconds": 12.25}, token=world.artist.access_token), 200)
    saved = _ok(
        api.put(f"/me/playback/{job}", json={"positionSeconds": 40}, token=world.artist.access_token), 200
    )
    # Then they resume at 40 s, and the admin's own position is untouched
    resumed = _ok(api.get(f"/me/playback/{job}", token=world.artist.access_token), 200)
    assert resumed == saved and resumed["positionSeconds"] == 40.0 and resumed["updatedAt"]
    assert _ok(api.get(f"/me/playback/{job}", token=world.admin.access_token), 200)["positionSeconds"] == 0.0


@pytest.mark.parametrize(
    "body", [{"positionSeconds": -1}, {"positionSeconds": "12"}, {}, {"positionSeconds": 1, "x": 1}]
)
def test_a_bad_position_is_refused_and_stores_nothing(world: World, body: dict[str, Any]) -> None:
    # Given a member who never played the render
    member = add_member(world.api, world.admin, "VIEWER")
    # When they send a bad position
    response = world.api.put(f"/me/playback/{world.render_job_id}", json=body, token=member.access_token)
    # Then 400, and the position is still the start
    assert response.status == 400, response.body
    again = _ok(world.api.get(f"/me/playback/{world.render_job_id}", token=member.access_token), 200)
    assert again["updatedAt"] is None


def test_unknown_asset_or_render_is_404(world: World) -> None:
    token = world.admin.access_token
    assert _code(world.api.put("/me/favorites/nope", token=token), 404) == "ASSET_NOT_FOUND"
    assert _code(world.api.get("/me/playback/nope", token=token), 404) == "RENDER_NOT_FOUND"
