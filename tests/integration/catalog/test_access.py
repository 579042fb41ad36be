"""Who may call what: a cross-studio matrix (studio B with studio A's ids gets 404 on every catalog
route) and a role matrix (every role x every route -> 2xx or 403)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from keyframe.catalog import assets, graph, projects
from keyframe.catalog.schemas import AssetCreate, AssetType, DependencyPut, ProjectCreate
from keyframe.local.apigateway import GatewayResponse
from tests.integration.catalog.conftest import publish
from tests.support.identity import Session, add_member, register_studio

ROLES = ["ADMIN", "PRODUCER", "DIRECTOR", "ARTIST", "VIEWER"]
EVERYONE = frozenset(ROLES)
CREATORS = frozenset({"ADMIN", "PRODUCER", "DIRECTOR", "ARTIST"})
LEADS = frozenset({"ADMIN", "PRODUCER", "DIRECTOR"})
MANAGERS = frozenset({"ADMIN", "PRODUCER"})


def _unique() -> str:
    """An asset name no other call uses (names are unique per project)."""
    return f"n-{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    """Studio A (one member per role, a project) and studio B (an admin with an asset of its own)."""

    api: Any
    a: dict[str, Session]
    b: Session
    project_id: str
    b_asset_id: str
    asset_id: str = ""
    """A shared asset of A with two ready versions, used by an edge ``asset_id`` uses ``uses_id``
    (read-only routes use these; routes that write get fresh objects)."""
    uses_id: str = ""

    @property
    def admin(self) -> Session:
        return self.a["ADMIN"]

    def asset(self, versions: int = 0) -> str:
        """A fresh asset of studio A with ``versions`` ready versions."""
        created = assets.create_asset(
            self.admin.studio_id,
            self.admin.user_id,
            AssetCreate(
                project_id=self.project_id, name=f"asset {uuid.uuid4().hex[:6]}", type=AssetType.PROP
            ),
        )
        for _ in range(versions):
            publish(self.admin, created.id)
        return created.id

    def edge(self) -> tuple[str, str]:
        """A fresh dependency "x uses" the shared asset in studio A."""
        x = self.asset()
        graph.put_dependency(self.admin.studio_id, self.admin.user_id, x, self.uses_id, DependencyPut())
        return x, self.uses_id

    def project(self) -> str:
        """A fresh project of studio A."""
        code = uuid.uuid4().hex[:8].upper()
        return projects.create_project(
            self.admin.studio_id, self.admin.user_id, ProjectCreate(name="p", code=code)
        ).id


@pytest.fixture(scope="module")
def world(module_api) -> World:
    api = module_api
    admin = register_studio(api, studio_name="A")
    members = {"ADMIN": admin} | {role: add_member(api, admin, role) for role in ROLES[1:]}
    other = register_studio(api, studio_name="B")
    project_id = api.post("/projects", json={"name": "A", "code": "A"}, token=admin.access_token).json()["id"]
    b_project = api.post("/projects", json={"name": "B", "code": "B"}, token=other.access_token).json()["id"]
    b_asset = api.post(
        "/assets", json={"projectId": b_project, "name": "b", "type": "PROP"}, token=other.access_token
    ).json()["id"]
    world = World(api, members, other, project_id, b_asset)
    world.asset_id = world.asset(2)
    world.uses_id = world.asset()
    graph.put_dependency(admin.studio_id, admin.user_id, world.asset_id, world.uses_id, DependencyPut())
    return world


Call = Callable[[World, str], GatewayResponse]


def _asset_routes() -> dict[str, tuple[Call, frozenset[str]]]:
    """Route name -> (call as a token holder against studio A's ids, roles of A allowed)."""
    return {
        "GET /projects/{id}": (lambda w, t: w.api.get(f"/projects/{w.project_id}", token=t), EVERYONE),
        "PATCH /projects/{id}": (
            lambda w, t: w.api.patch(f"/projects/{w.project()}", json={"name": _unique()}, token=t),
            MANAGERS,
        ),
        "DELETE /projects/{id}": (lambda w, t: w.api.delete(f"/projects/{w.project()}", token=t), MANAGERS),
        "POST /assets (projectId)": (
            lambda w, t: w.api.post(
                "/assets", json={"projectId": w.project_id, "name": _unique(), "type": "PROP"}, token=t
            ),
            CREATORS,
        ),
        "GET /assets?projectId": (
            lambda w, t: w.api.get(f"/assets?projectId={w.project_id}", token=t),
            EVERYONE,
        ),
        "GET /assets/{id}": (lambda w, t: w.api.get(f"/assets/{w.asset_id}", token=t), EVERYONE),
        "PATCH /assets/{id}": (
            lambda w, t: w.api.patch(f"/assets/{w.asset()}", json={"name": _unique()}, token=t),
            CREATORS,
        ),
        "DELETE /assets/{id}": (lambda w, t: w.api.delete(f"/assets/{w.asset()}", token=t), MANAGERS),
        "POST /assets/{id}/restore": (_restore, MANAGERS),
        "GET /assets/{id}/versions": (
            lambda w, t: w.api.get(f"/assets/{w.asset_id}/versions", token=t),
            EVERYONE,
        ),
        "GET /assets/{id}/versions/{v}": (
            lambda w, t: w.api.get(f"/assets/{w.asset_id}/versions/1", token=t),
            EVERYONE,
        ),
        "GET /assets/{id}/versions/{v}/download": (
            lambda w, t: w.api.get(f"/assets/{w.asset_id}/versions/1/download", token=t),
            EVERYONE,
        ),
        "PATCH /assets/{id}/rollback": (_rollback, LEADS),
        "PUT /assets/{id}/dependencies/{dep}": (
            lambda w, t: w.api.put(f"/assets/{w.asset()}/dependencies/{w.asset_id}", token=t),
            CREATORS,
        ),
        "DELETE /assets/{id}/dependencies/{dep}": (_remove_edge, CREATORS),
        "GET /assets/{id}/dependencies": (
            lambda w, t: w.api.get(f"/assets/{w.asset_id}/dependencies?transitive=true", token=t),
            EVERYONE,
        ),
        "GET /assets/{id}/dependents": (
            lambda w, t: w.api.get(f"/assets/{w.uses_id}/dependents?transitive=true", token=t),
            EVERYONE,
        ),
        "GET /activity?assetId": (
            lambda w, t: w.api.get(f"/activity?assetId={w.asset_id}", token=t),
            EVERYONE,
        ),
        "GET /activity?projectId": (
            lambda w, t: w.api.get(f"/activity?projectId={w.project_id}", token=t),
            EVERYONE,
        ),
    }


def _rollback(world: World, token: str) -> GatewayResponse:
    """Roll the shared asset to the version that is not current (alternating 1 and 2)."""
    current = assets.get_asset(world.admin.studio_id, world.asset_id).current_version
    return world.api.patch(f"/assets/{world.asset_id}/rollback", json={"version": 3 - current}, token=token)


def _restore(world: World, token: str) -> GatewayResponse:
    asset_id = world.asset()
    assets.archive_asset(world.admin.studio_id, world.admin.user_id, asset_id)
    return world.api.post(f"/assets/{asset_id}/restore", token=token)


def _remove_edge(world: World, token: str) -> GatewayResponse:
    x, y = world.edge()
    return world.api.delete(f"/assets/{x}/dependencies/{y}", token=token)


ROUTES_WITH_IDS = _asset_routes()

ROUTES_WITHOUT_IDS: dict[str, tuple[Call, frozenset[str]]] = {
    "POST /projects": (
        lambda w, t: w.api.post("/projects", json={"name": "p", "code": uuid.uuid4().hex[:8]}, token=t),
        MANAGERS,
    ),
    "GET /projects": (lambda w, t: w.api.get("/projects", token=t), EVERYONE),
    "GET /assets": (lambda w, t: w.api.get("/assets?sort=name&type=PROP", token=t), EVERYONE),
    "GET /activity": (lambda w, t: w.api.get("/activity", token=t), EVERYONE),
}


@pytest.mark.parametrize("route", sorted(ROUTES_WITH_IDS))
def test_another_studio_gets_404_for_every_id(world, route):
    # Given: studio B's admin holds studio A's ids
    call, _ = ROUTES_WITH_IDS[route]

    # When
    response = call(world, world.b.access_token)

    # Then
    assert response.status == 404, (route, response.status, response.body)
    assert response.json()["error"]["code"].endswith("NOT_FOUND")


def test_another_studio_cannot_depend_on_or_be_depended_on_by_our_assets(world):
    ours = world.asset()

    ours_uses_theirs = world.api.put(
        f"/assets/{ours}/dependencies/{world.b_asset_id}", token=world.admin.access_token
    )
    theirs_uses_ours = world.api.put(
        f"/assets/{world.b_asset_id}/dependencies/{ours}", token=world.b.access_token
    )

    assert ours_uses_theirs.status == theirs_uses_ours.status == 404


def test_another_studio_sees_none_of_our_projects_assets_or_activity(world):
    projects_seen = world.api.get("/projects", token=world.b.access_token).json()["items"]
    assets_seen = world.api.get("/assets?limit=100", token=world.b.access_token).json()["items"]
    activity_seen = world.api.get("/activity?limit=100", token=world.b.access_token).json()["items"]

    assert [p["code"] for p in projects_seen] == ["B"]
    assert [a["id"] for a in assets_seen] == [world.b_asset_id]
    assert {e["projectId"] for e in activity_seen} - {None} == {p["id"] for p in projects_seen}


ALL_ROUTES = {**ROUTES_WITH_IDS, **ROUTES_WITHOUT_IDS}


@pytest.mark.parametrize("route", sorted(ALL_ROUTES))
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(world, role, route):
    # Given
    call, allowed = ALL_ROUTES[route]

    # When
    response = call(world, world.a[role].access_token)

    # Then
    if role in allowed:
        assert 200 <= response.status < 300, (role, route, response.status, response.body)
    else:
        assert response.status == 403, (role, route, response.status, response.body)
        assert response.json()["error"]["code"] == "FORBIDDEN"
