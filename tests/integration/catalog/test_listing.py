"""The asset list: every sort order page by page, filters, name prefix, and cursor safety."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from keyframe.catalog import listing
from tests.support.identity import Session, register_studio


def _all_pages(api: Any, token: str, query: str, limit: int) -> list[list[dict[str, Any]]]:
    pages = []
    cursor = None
    for _ in range(50):
        url = f"/assets?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url, token=token)
        assert response.status == 200, response.body
        body = response.json()
        pages.append(body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination did not end")


@dataclass
class World:
    api: Any
    admin: Session
    other: Session
    project: dict[str, Any]
    assets: list[dict[str, Any]]


@pytest.fixture(scope="module")
def world(module_api) -> World:
    """Studio A with seven assets (distinct created, updated and name orders, two share a name) in
    one project, and an unrelated studio B with three assets."""
    api = module_api
    admin = register_studio(api, studio_name="A")
    other = register_studio(api, studio_name="B")
    project = api.post("/projects", json={"name": "P", "code": "P"}, token=admin.access_token).json()
    names = ["delta", "Alpha", "charlie", "bravo", "alpha", "Echo", "foxtrot"]
    types = ["PROP", "CHARACTER", "PROP", "RIG", "PROP", "SHOT", "PROP"]
    ids = []
    for i, (name, kind) in enumerate(zip(names, types, strict=True)):
        if name == "alpha":
            # Names are unique per project now; two equal names remain possible for assets made
            # before names were reserved: drop "Alpha"'s reservation to make one.
            from keyframe.catalog.models import ASSET_NAME_SK, AssetNameItem, asset_name_pk

            AssetNameItem(asset_name_pk(admin.studio_id, project["id"], name), ASSET_NAME_SK).delete()
        body = {"projectId": project["id"], "name": name, "type": kind, "tags": ["hero"] if i % 2 else []}
        ids.append(api.post("/assets", json=body, token=admin.access_token).json()["id"])
    for asset_id in (ids[3], ids[0]):  # touch two so updatedAt differs from createdAt order
        api.patch(f"/assets/{asset_id}", json={"description": "touched"}, token=admin.access_token)
    other_project = api.post("/projects", json={"name": "B", "code": "B"}, token=other.access_token).json()
    for name in ("x", "y", "z"):
        body = {"projectId": other_project["id"], "name": name, "type": "PROP"}
        api.post("/assets", json=body, token=other.access_token)
    assets = [api.get(f"/assets/{a}", token=admin.access_token).json() for a in ids]
    return World(api, admin, other, project, assets)


SORTS = [
    ("createdAt", "asc"),
    ("createdAt", "desc"),
    ("updatedAt", "asc"),
    ("updatedAt", "desc"),
    ("name", "asc"),
    ("name", "desc"),
]


def _expected(assets: list[dict[str, Any]], sort: str, order: str) -> list[str]:
    def key(a):
        return (a["name"].casefold(), a["id"]) if sort == "name" else (a[sort], a["id"])

    return [a["id"] for a in sorted(assets, key=key, reverse=order == "desc")]


@pytest.mark.parametrize(("sort", "order"), SORTS)
@pytest.mark.parametrize("scoped", [False, True], ids=["studio", "project"])
def test_every_sort_order_pages_without_gap_or_duplicate(world, sort, order, scoped):
    # Given
    scope = f"projectId={world.project['id']}&" if scoped else ""

    # When
    pages = _all_pages(world.api, world.admin.access_token, f"{scope}sort={sort}&order={order}", limit=3)

    # Then
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [a["id"] for page in pages for a in page] == _expected(world.assets, sort, order)


def test_default_orders_are_newest_first_and_a_to_z(world):
    newest = world.api.get("/assets", token=world.admin.access_token).json()["items"]
    by_name = world.api.get("/assets?sort=name", token=world.admin.access_token).json()["items"]

    assert [a["id"] for a in newest] == _expected(world.assets, "createdAt", "desc")
    assert [a["id"] for a in by_name] == _expected(world.assets, "name", "asc")


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("type=PROP", lambda a: a["type"] == "PROP"),
        ("tag=HERO", lambda a: "hero" in a["tags"]),
        ("q=AL", lambda a: a["name"].casefold().startswith("al")),
        ("q=al&sort=name", lambda a: a["name"].casefold().startswith("al")),
        ("type=PROP&tag=hero&sort=updatedAt", lambda a: a["type"] == "PROP" and "hero" in a["tags"]),
        ("status=IN_PROGRESS", lambda a: True),
        ("status=APPROVED", lambda a: False),
    ],
)
def test_filters_and_name_prefix(world, query, predicate):
    pages = _all_pages(world.api, world.admin.access_token, query, limit=2)

    found = [a["id"] for page in pages for a in page]
    assert sorted(found) == sorted(a["id"] for a in world.assets if predicate(a))
    assert len(found) == len(set(found))


def test_bounded_filter_loop_returns_short_pages_with_a_cursor(world, monkeypatch):
    # Given: a page may evaluate only 2 items in 1 request; the one SHOT sorts 6th of 7 by name
    monkeypatch.setattr(listing, "EVALUATIONS_PER_REQUEST", 2)
    monkeypatch.setattr(listing, "MAX_FILTERED_REQUESTS", 1)

    # When
    pages = _all_pages(world.api, world.admin.access_token, "type=SHOT&sort=name", limit=1)

    # Then: empty pages still carry a cursor, and the SHOT comes exactly once
    assert [len(p) for p in pages] == [0, 0, 1, 0]
    assert pages[2][0]["name"] == "Echo"


def test_bounded_filter_loop_visits_every_match_once_in_order(world, monkeypatch):
    monkeypatch.setattr(listing, "EVALUATIONS_PER_REQUEST", 2)
    monkeypatch.setattr(listing, "MAX_FILTERED_REQUESTS", 1)

    pages = _all_pages(world.api, world.admin.access_token, "type=PROP&sort=name&order=desc", limit=1)

    found = [a["id"] for page in pages for a in page]
    props = [a for a in world.assets if a["type"] == "PROP"]
    assert found == _expected(props, "name", "desc")


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "sort=size", "order=up", "type=SPACESHIP", "status=DONE", "q=%01"]
)
def test_bad_list_parameters_are_400(world, query):
    response = world.api.get(f"/assets?{query}", token=world.admin.access_token)

    assert response.status == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def _first_cursor(api, token, query="limit=2"):
    cursor = api.get(f"/assets?{query}", token=token).json()["nextCursor"]
    assert cursor
    return cursor


def test_tampered_cursor_is_400(world):
    api, admin = world.api, world.admin
    cursor = _first_cursor(api, admin.access_token)
    payload, signature = cursor.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature

    for bad in (forged, cursor + "x", "garbage", cursor.replace(".", "")):
        response = api.get(f"/assets?limit=2&cursor={bad}", token=admin.access_token)
        assert response.status == 400
        assert response.json()["error"]["code"] == "INVALID_CURSOR"


def test_cursor_of_another_query_is_400(world):
    api, admin = world.api, world.admin
    cursor = _first_cursor(api, admin.access_token, "limit=2&sort=name")

    wrong_query = api.get(f"/assets?limit=2&sort=createdAt&cursor={cursor}", token=admin.access_token)
    other_limit = api.get(f"/assets?limit=5&sort=name&cursor={cursor}", token=admin.access_token)

    assert wrong_query.status == 400
    assert wrong_query.json()["error"]["code"] == "INVALID_CURSOR"
    assert other_limit.status == 200  # page size may change between pages


def test_cursor_of_another_studio_is_400(world):
    # Given: studio B has assets too, and a cursor of studio A for the very same query
    cursor_a = _first_cursor(world.api, world.admin.access_token)

    # When
    response = world.api.get(f"/assets?limit=2&cursor={cursor_a}", token=world.other.access_token)

    # Then
    assert response.status == 400
    assert response.json()["error"]["code"] == "INVALID_CURSOR"
    assert world.api.get("/assets?limit=2", token=world.other.access_token).json()["nextCursor"]


def test_list_in_another_studios_project_is_404(world):
    response = world.api.get(f"/assets?projectId={world.project['id']}", token=world.other.access_token)

    assert response.status == 404
