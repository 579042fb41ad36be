"""The dependency graph: edges, transitive traversal with depth and paths, cycles, bounds, impact."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import pytest

from keyframe.catalog import graph, graph_walk
from keyframe.catalog.schemas import DependencyPut
from keyframe.errors import Conflict
from keyframe.events.publisher import room_events
from tests.integration.catalog.conftest import publish


@pytest.fixture
def uses(api, admin):
    """``uses(a, b, **body)``: PUT the edge "a uses b" over HTTP and return the response."""

    def put(a: dict[str, Any], b: dict[str, Any], **body: Any):
        return api.put(
            f"/assets/{a['id']}/dependencies/{b['id']}", json=body or None, token=admin.access_token
        )

    return put


def _graph(api, admin, asset, direction, query="transitive=true"):
    response = api.get(f"/assets/{asset['id']}/{direction}?{query}", token=admin.access_token)
    assert response.status == 200, response.body
    return response.json()


def test_put_creates_then_repins_and_delete_removes(api, admin, make_asset, uses):
    # Given
    shot, rig = make_asset("Shot 010", "SHOT"), make_asset("Hero rig", "RIG")
    publish(admin, rig["id"])

    # When
    created = uses(shot, rig, note="main character")
    repinned = uses(shot, rig, pinnedVersion=1)
    direct = _graph(api, admin, shot, "dependencies", "")
    removed = api.delete(f"/assets/{shot['id']}/dependencies/{rig['id']}", token=admin.access_token)
    again = api.delete(f"/assets/{shot['id']}/dependencies/{rig['id']}", token=admin.access_token)

    # Then
    assert created.status == 201
    assert created.json()["pinnedVersion"] is None
    assert repinned.status == 200
    assert repinned.json()["pinnedVersion"] == 1
    assert [(n["assetId"], n["depth"], n["pinnedVersion"]) for n in direct["items"]] == [(rig["id"], 1, 1)]
    assert direct["items"][0]["name"] == "Hero rig"
    assert removed.status == 204
    assert again.status == 404
    assert _graph(api, admin, shot, "dependencies")["items"] == []
    assert _graph(api, admin, rig, "dependents")["items"] == []


def test_chain_gives_depth_and_path_both_ways(api, admin, make_asset, uses):
    # Given: shot uses layout uses set uses texture
    shot, layout, set_, texture = (make_asset(n) for n in ("shot", "layout", "set", "texture"))
    for a, b in [(shot, layout), (layout, set_), (set_, texture)]:
        assert uses(a, b).status == 201

    # When
    down = _graph(api, admin, shot, "dependencies")
    up = _graph(api, admin, texture, "dependents")
    direct = _graph(api, admin, shot, "dependencies", "transitive=false")

    # Then
    assert [(n["assetId"], n["depth"]) for n in down["items"]] == [
        (layout["id"], 1),
        (set_["id"], 2),
        (texture["id"], 3),
    ]
    assert down["items"][2]["path"] == [shot["id"], layout["id"], set_["id"], texture["id"]]
    assert [(n["assetId"], n["depth"]) for n in up["items"]] == [
        (set_["id"], 1),
        (layout["id"], 2),
        (shot["id"], 3),
    ]
    assert up["items"][2]["path"] == [texture["id"], set_["id"], layout["id"], shot["id"]]
    assert down["truncated"] is False
    assert down["limits"] == {"maxDepth": 10, "maxNodes": 500}
    assert [n["assetId"] for n in direct["items"]] == [layout["id"]]


def test_diamond_impact_set_lists_each_asset_once_with_both_parents(api, admin, make_asset, uses):
    # Given: shot uses char and prop; char and prop both use texture
    shot, char, prop, texture = (make_asset(n) for n in ("shot", "char", "prop", "texture"))
    for a, b in [(shot, char), (shot, prop), (char, texture), (prop, texture)]:
        uses(a, b)

    # When
    impact = _graph(api, admin, texture, "dependents")

    # Then
    by_id = {n["assetId"]: n for n in impact["items"]}
    assert len(impact["items"]) == 3
    assert by_id[char["id"]]["depth"] == by_id[prop["id"]]["depth"] == 1
    assert by_id[shot["id"]]["depth"] == 2
    assert sorted(by_id[shot["id"]]["via"]) == sorted([char["id"], prop["id"]])
    assert by_id[shot["id"]]["path"][0] == texture["id"]
    assert by_id[shot["id"]]["path"][1] in (char["id"], prop["id"])
    assert by_id[shot["id"]]["path"][2] == shot["id"]


def test_cycle_is_refused_naming_it(api, admin, make_asset, uses):
    # Given: a uses b uses c
    a, b, c = make_asset("a"), make_asset("b"), make_asset("c")
    uses(a, b)
    uses(b, c)

    # When
    closing = uses(c, a)
    self_edge = uses(a, a)

    # Then
    assert closing.status == 409
    error = closing.json()["error"]
    assert error["code"] == "DEPENDENCY_CYCLE"
    assert error["details"]["cycle"] == [c["id"], a["id"], b["id"], c["id"]]
    assert self_edge.status == 400
    assert self_edge.json()["error"]["code"] == "SELF_DEPENDENCY"
    assert _graph(api, admin, c, "dependencies")["items"] == []


def test_traversal_bounds_truncate_and_say_so(api, admin, make_asset, uses):
    # Given: a chain of six assets
    chain = [make_asset(f"n{i}") for i in range(6)]
    for a, b in pairwise(chain):
        uses(a, b)

    # When
    shallow = _graph(api, admin, chain[0], "dependencies", "transitive=true&maxDepth=2")
    narrow = _graph(api, admin, chain[0], "dependencies", "transitive=true&maxNodes=3")
    exact = _graph(api, admin, chain[0], "dependencies", "transitive=true&maxDepth=5")
    too_deep = api.get(f"/assets/{chain[0]['id']}/dependencies?maxDepth=21", token=admin.access_token)
    too_wide = api.get(f"/assets/{chain[0]['id']}/dependencies?maxNodes=2001", token=admin.access_token)

    # Then
    assert [n["depth"] for n in shallow["items"]] == [1, 2]
    assert shallow["truncated"] is True
    assert shallow["limits"]["maxDepth"] == 2
    assert len(narrow["items"]) == 3
    assert narrow["truncated"] is True
    assert len(exact["items"]) == 5
    assert exact["truncated"] is False
    assert too_deep.status == too_wide.status == 400


def test_unknown_pinned_version_is_400(admin, make_asset, uses):
    shot, rig = make_asset("shot"), make_asset("rig")
    publish(admin, rig["id"])

    response = uses(shot, rig, pinnedVersion=2)

    assert response.status == 400
    assert response.json()["error"]["code"] == "UNKNOWN_VERSION"
    assert response.json()["error"]["details"]["fields"][0]["field"] == "pinnedVersion"


def test_pins_get_outdated_entries_and_followers_get_events(api, admin, make_asset, uses):
    # Given: the hero has v1; the shot pins v1, the layout follows the current version
    hero, shot, layout = make_asset("hero"), make_asset("shot"), make_asset("layout")
    publish(admin, hero["id"])
    uses(shot, hero, pinnedVersion=1)
    uses(layout, hero)

    # When: v2 is published and becomes ready
    publish(admin, hero["id"])

    # Then
    pinned = api.get(f"/assets/{shot['id']}", token=admin.access_token).json()
    assert pinned["outdatedDependencies"] == [{"assetId": hero["id"], "pinnedVersion": 1, "latestVersion": 2}]
    assert api.get(f"/assets/{layout['id']}", token=admin.access_token).json()["outdatedDependencies"] == []
    listed = api.get("/assets?sort=name&q=shot", token=admin.access_token).json()["items"]
    assert listed[0]["outdatedDependencies"] == pinned["outdatedDependencies"]
    follower_events = [
        e
        for e in room_events(admin.studio_id, f"asset:{layout['id']}")
        if e["type"] == "asset:dependency-updated"
    ]
    assert follower_events[-1]["data"] == {
        "assetId": layout["id"],
        "dependencyId": hero["id"],
        "currentVersion": 2,
        "pinnedVersion": None,
        "following": True,
        "outdated": False,
    }

    # When: the pin moves to v2
    moved = uses(shot, hero, pinnedVersion=2)

    # Then
    assert moved.json()["outdated"] is False
    assert api.get(f"/assets/{shot['id']}", token=admin.access_token).json()["outdatedDependencies"] == []


def test_rollback_recomputes_outdated_entries_of_pinning_dependents(api, admin, make_asset, uses):
    # Given: hero at v3, shot pins v2 (outdated)
    hero, shot = make_asset("hero"), make_asset("shot")
    for _ in range(3):
        publish(admin, hero["id"])
    uses(shot, hero, pinnedVersion=2)
    assert api.get(f"/assets/{shot['id']}", token=admin.access_token).json()["outdatedDependencies"] != []

    # When
    api.patch(f"/assets/{hero['id']}/rollback", json={"version": 2}, token=admin.access_token)
    after_back = api.get(f"/assets/{shot['id']}", token=admin.access_token).json()["outdatedDependencies"]
    api.patch(f"/assets/{hero['id']}/rollback", json={"version": 3}, token=admin.access_token)
    after_forward = api.get(f"/assets/{shot['id']}", token=admin.access_token).json()["outdatedDependencies"]

    # Then
    assert after_back == []
    assert after_forward == [{"assetId": hero["id"], "pinnedVersion": 2, "latestVersion": 3}]


def test_dependency_on_another_studios_asset_is_404(api, admin, other_admin, make_asset):
    mine = make_asset("mine")
    project = api.post("/projects", json={"name": "B", "code": "B"}, token=other_admin.access_token).json()
    theirs = api.post(
        "/assets",
        json={"projectId": project["id"], "name": "t", "type": "PROP"},
        token=other_admin.access_token,
    ).json()

    response = api.put(f"/assets/{mine['id']}/dependencies/{theirs['id']}", token=admin.access_token)

    assert response.status == 404


def test_concurrent_opposite_edges_cannot_both_win(admin, make_asset, serialized_dynamodb):
    # Given
    a, b = make_asset("a"), make_asset("b")

    # When: "a uses b" and "b uses a" race
    def add(pair: tuple[str, str]) -> str:
        try:
            graph.put_dependency(admin.studio_id, admin.user_id, pair[0], pair[1], DependencyPut())
            return "added"
        except Conflict as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(add, [(a["id"], b["id"]), (b["id"], a["id"])]))

    # Then
    assert outcomes == ["DEPENDENCY_CYCLE", "added"]


def test_counts_let_leaves_cost_no_query(admin, make_asset, uses, monkeypatch):
    # Given: a root with three leaf dependencies
    root = make_asset("root")
    for name in ("x", "y", "z"):
        uses(root, make_asset(name))
    queried: list[str] = []
    real = graph_walk.edges_of
    monkeypatch.setattr(graph_walk, "edges_of", lambda s, a, p: queried.append(a) or real(s, a, p))

    # When
    result = graph.traverse(admin.studio_id, root["id"], graph.DEPENDENCIES, transitive=True)

    # Then: one Query, for the root only
    assert len(result.items) == 3
    assert queried == [root["id"]]


def test_a_levels_queries_overlap_and_give_the_sequential_result(admin, make_asset, uses, monkeypatch):
    # Given: a root used by three assets, each used by one more (two levels of the impact set)
    root = make_asset("root")
    middles = set()
    for i in range(3):
        middle = make_asset(f"m{i}")
        middles.add(middle["id"])
        uses(middle, root)
        uses(make_asset(f"l{i}"), middle)
    in_flight, most = [0], [0]
    lock = threading.Lock()
    real = graph_walk.edges_of
    # the second level's three Queries each wait until all three are in flight: a walk that ran them
    # one after another breaks the barrier (its timeout), however slow or busy the machine is
    second_level = threading.Barrier(3, timeout=30)
    walking_in_parallel = [True]

    def slow_edges(studio_id: str, asset_id: str, prefix: str) -> Any:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            if walking_in_parallel[0] and asset_id in middles:
                second_level.wait()
            return list(real(studio_id, asset_id, prefix))
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(graph_walk, "edges_of", slow_edges)

    # When: the impact set is read with parallel levels, then one read at a time
    parallel = graph.traverse(admin.studio_id, root["id"], graph.DEPENDENTS, transitive=True)
    overlapped = most[0]
    walking_in_parallel[0] = False
    monkeypatch.setattr(graph_walk, "WALK_WORKERS", 1)
    most[0] = 0
    sequential = graph.traverse(admin.studio_id, root["id"], graph.DEPENDENTS, transitive=True)

    # Then: the second level's three Queries were in flight together, and the answer is the same
    assert overlapped == 3 and most[0] == 1
    assert len(parallel.items) == 6
    assert parallel.model_dump() == sequential.model_dump()


def test_a_failed_propagation_is_redone_when_finalize_retries(
    api, admin, make_asset, uses, monkeypatch: pytest.MonkeyPatch
):
    # Given: the hero has v1, the shot pins it, v2 is published; telling dependents fails once
    from keyframe.catalog import versions

    hero, shot = make_asset("hero"), make_asset("shot")
    publish(admin, hero["id"])
    uses(shot, hero, pinnedVersion=1)
    number = publish(admin, hero["id"], ready=False)
    real = graph.propagate_current_version
    calls: list[int] = []

    def flaky(*args: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("throttled")
        return real(*args)

    monkeypatch.setattr(graph, "propagate_current_version", flaky)
    with pytest.raises(RuntimeError):
        versions.mark_version_ready(admin.studio_id, hero["id"], number, media={}, derived={})
    assert api.get(f"/assets/{shot['id']}", token=admin.access_token).json()["outdatedDependencies"] == []

    # When: the pipeline retries Finalize (the version is already READY and current)
    again = versions.mark_version_ready(admin.studio_id, hero["id"], number, media={}, derived={})

    # Then: the shot is told its pin is outdated
    assert again.status == "READY"
    pinned = api.get(f"/assets/{shot['id']}", token=admin.access_token).json()
    assert pinned["outdatedDependencies"] == [{"assetId": hero["id"], "pinnedVersion": 1, "latestVersion": 2}]


def test_a_failed_propagation_is_redone_when_rollback_is_retried(
    api, admin, make_asset, uses, monkeypatch: pytest.MonkeyPatch
):
    # Given: the hero at v2, the shot pins v2; the rollback to v1 fails to tell dependents once
    hero, shot = make_asset("hero"), make_asset("shot")
    publish(admin, hero["id"])
    publish(admin, hero["id"])
    uses(shot, hero, pinnedVersion=2)
    real = graph.propagate_current_version
    calls: list[int] = []

    def flaky(*args: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("throttled")
        return real(*args)

    monkeypatch.setattr(graph, "propagate_current_version", flaky)
    failed = api.patch(f"/assets/{hero['id']}/rollback", json={"version": 1}, token=admin.access_token)
    assert failed.status == 500
    assert api.get(f"/assets/{shot['id']}", token=admin.access_token).json()["outdatedDependencies"] == []

    # When: the user retries the rollback
    retried = api.patch(f"/assets/{hero['id']}/rollback", json={"version": 1}, token=admin.access_token)

    # Then: the shot's pin of v2 is now ahead of current v1 (no longer outdated), and it was told
    assert retried.status == 200
    assert len(calls) == 2
    events = [
        e
        for e in room_events(admin.studio_id, f"asset:{shot['id']}")
        if e["type"] == "asset:dependency-updated"
    ]
    assert events[-1]["data"]["currentVersion"] == 1
