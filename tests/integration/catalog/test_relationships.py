"""Version-aware edges (issue 17.5): a dependency edge carries a ``relationship``, and every published
version records the versions of its dependencies it was built against ("sh010 v3 used rig v7")."""

from __future__ import annotations

from typing import Any

from keyframe.catalog.models import EdgeItem, asset_pk, dependency_sk
from tests.integration.catalog.conftest import publish
from tests.support.identity import Session


def _put(api: Any, admin: Session, source: str, target: str, body: dict[str, Any] | None = None) -> Any:
    return api.put(f"/assets/{source}/dependencies/{target}", json=body or {}, token=admin.access_token)


def test_an_edge_carries_its_relationship_defaulting_to_references(api, admin, make_asset) -> None:
    # Given a shot, a rig and a texture
    shot, rig, texture = (
        make_asset("sh010", "SHOT"),
        make_asset("hero rig", "RIG"),
        make_asset("wood", "TEXTURE"),
    )
    # When the shot uses the rig as RIG_OF and the texture without saying how
    made = _put(api, admin, shot["id"], rig["id"], {"relationship": "RIG_OF"})
    plain = _put(api, admin, shot["id"], texture["id"])
    # Then the edges say so (REFERENCES by default), in the answer and in the lists
    assert (made.status, made.json()["relationship"]) == (201, "RIG_OF")
    assert (plain.status, plain.json()["relationship"]) == (201, "REFERENCES")
    listed = api.get(f"/assets/{shot['id']}/dependencies", token=admin.access_token).json()["items"]
    assert {n["assetId"]: n["relationship"] for n in listed} == {
        rig["id"]: "RIG_OF",
        texture["id"]: "REFERENCES",
    }
    used_by = api.get(f"/assets/{rig['id']}/dependents", token=admin.access_token).json()["items"]
    assert [(n["assetId"], n["relationship"]) for n in used_by] == [(shot["id"], "RIG_OF")]
    # When the rig's edge is re-pinned without a relationship, it keeps RIG_OF; a new one replaces it
    publish(admin, rig["id"])
    kept = _put(api, admin, shot["id"], rig["id"], {"pinnedVersion": 1})
    assert (kept.status, kept.json()["relationship"]) == (200, "RIG_OF")
    changed = _put(api, admin, shot["id"], texture["id"], {"relationship": "TEXTURE_OF"})
    assert changed.json()["relationship"] == "TEXTURE_OF"
    # And a relationship outside the enum is a 400
    bad = _put(api, admin, shot["id"], texture["id"], {"relationship": "FRIEND_OF"})
    assert bad.status == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


def test_an_edge_stored_before_relationships_reads_as_references(api, admin, make_asset) -> None:
    # Given an edge as an older release stored it (no relationship attribute)
    shot, prop = make_asset("sh020", "SHOT"), make_asset("lamp", "PROP")
    assert _put(api, admin, shot["id"], prop["id"]).status == 201
    for key in ((shot["id"], dependency_sk(prop["id"])),):
        edge = EdgeItem.get(asset_pk(admin.studio_id, key[0]), key[1])
        edge.update(actions=[EdgeItem.relationship.remove()])
    # When it is read
    listed = api.get(f"/assets/{shot['id']}/dependencies", token=admin.access_token).json()["items"]
    # Then it is REFERENCES
    assert [n["relationship"] for n in listed] == ["REFERENCES"]


def test_a_version_records_the_versions_of_its_dependencies_it_was_built_against(
    api, admin, make_asset
) -> None:
    # Given sh010 uses the rig (following its current version, now v7) and a texture pinned to v1 of 2
    shot, rig, texture = (
        make_asset("sh010", "SHOT"),
        make_asset("hero rig", "RIG"),
        make_asset("wood", "TEXTURE"),
    )
    for _ in range(7):
        publish(admin, rig["id"])
    publish(admin, texture["id"])
    publish(admin, texture["id"])
    assert _put(api, admin, shot["id"], rig["id"], {"relationship": "RIG_OF"}).status == 201
    assert (
        _put(api, admin, shot["id"], texture["id"], {"pinnedVersion": 1, "relationship": "TEXTURE_OF"}).status
        == 201
    )
    publish(admin, shot["id"])  # v1
    publish(admin, shot["id"])  # v2
    # When sh010 v3 is published, and then the rig moves on to v8
    publish(admin, shot["id"])
    publish(admin, rig["id"])
    # Then GET .../versions/3 says sh010 v3 used rig v7 (and texture v1, pinned)
    answer = api.get(f"/assets/{shot['id']}/versions/3", token=admin.access_token)
    assert answer.status == 200, answer.body
    used = {d["name"]: d for d in answer.json()["dependencies"]}
    assert used["hero rig"] == {
        "assetId": rig["id"], "name": "hero rig", "type": "RIG", "relationship": "RIG_OF", "version": 7,
        "pinned": False,
    }  # fmt: skip
    assert (used["wood"]["version"], used["wood"]["pinned"], used["wood"]["relationship"]) == (
        1,
        True,
        "TEXTURE_OF",
    )
    # And a version of an asset with no dependencies records an empty list
    assert api.get(f"/assets/{rig['id']}/versions/8", token=admin.access_token).json()["dependencies"] == []
