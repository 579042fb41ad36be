"""Issue 9.9: assets created before names were unique get their reservation from the backfill
(``python -m keyframe.catalog.name_backfill``), idempotently; two legacy assets sharing a name are
reported as a conflict and the run goes on."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest

from keyframe.catalog import name_backfill
from keyframe.catalog.models import ASSET_NAME_SK, ASSET_SK, AssetItem, AssetNameItem, asset_name_pk, asset_pk
from tests.support.identity import Session, register_studio


def _table() -> str:
    return AssetItem.Meta.table_name


def _create(api: Any, admin: Session, project_id: str, name: str, **fields: Any) -> dict[str, Any]:
    body = {"projectId": project_id, "name": name, "type": "PROP", **fields}
    response = api.post("/assets", json=body, token=admin.access_token)
    assert response.status == 201, response.body
    return response.json()


def _legacy(api: Any, admin: Session, project_id: str, name: str, created_at: str) -> dict[str, Any]:
    """An asset as the code before name reservations left it: no reservation item, its own createdAt."""
    asset = _create(api, admin, project_id, name)
    AssetNameItem(asset_name_pk(admin.studio_id, project_id, name), ASSET_NAME_SK).delete()
    boto3.client("dynamodb").update_item(
        TableName=_table(),
        Key={"pk": {"S": asset_pk(admin.studio_id, asset["id"])}, "sk": {"S": ASSET_SK}},
        UpdateExpression="SET createdAt = :c",
        ExpressionAttributeValues={":c": {"S": created_at}},
    )
    return asset


def _holder(studio_id: str, project_id: str, name: str) -> str | None:
    try:
        return AssetNameItem.get(asset_name_pk(studio_id, project_id, name), ASSET_NAME_SK).asset_id
    except AssetNameItem.DoesNotExist:
        return None


@pytest.fixture
def studio(api: Any) -> dict[str, Any]:
    """Studio A: legacy "Hero" (2024) and "HERO" (2025) in one project, a legacy archived "Rock", a
    legacy "Tree" in a second project, and "Cloud" made after names were reserved. Studio B: a
    legacy "Hero" of its own."""
    admin = register_studio(api, studio_name="A")
    token = admin.access_token
    one = api.post("/projects", json={"name": "One", "code": "ONE"}, token=token).json()
    two = api.post("/projects", json={"name": "Two", "code": "TWO"}, token=token).json()
    older = _legacy(api, admin, one["id"], "Hero", "2024-01-01T00:00:00.000Z")
    newer = _legacy(api, admin, one["id"], "HERO", "2025-01-01T00:00:00.000Z")
    rock = _legacy(api, admin, one["id"], "Rock", "2024-02-01T00:00:00.000Z")
    assert api.delete(f"/assets/{rock['id']}", token=token).status == 200
    tree = _legacy(api, admin, two["id"], "Tree", "2024-03-01T00:00:00.000Z")
    cloud = _create(api, admin, one["id"], "Cloud")
    other = register_studio(api, studio_name="B")
    other_project = api.post("/projects", json={"name": "B", "code": "B"}, token=other.access_token).json()
    elsewhere = _legacy(api, other, other_project["id"], "Hero", "2023-01-01T00:00:00.000Z")
    return {
        "api": api, "admin": admin, "one": one, "two": two, "older": older, "newer": newer,
        "rock": rock, "tree": tree, "cloud": cloud, "other": other, "other_project": other_project,
        "elsewhere": elsewhere,
    }  # fmt: skip


def test_legacy_assets_get_their_reservations_and_a_shared_name_is_reported(studio):
    s = studio
    studio_id, one = s["admin"].studio_id, s["one"]["id"]

    # When the backfill runs over the catalog table
    report = name_backfill.backfill(boto3.client("dynamodb"), _table())

    # Then every legacy asset but the younger of the pair holds its name (archived ones too)
    assert sorted(report.reserved) == sorted(
        [s["older"]["id"], s["rock"]["id"], s["tree"]["id"], s["elsewhere"]["id"]]
    )
    assert report.already_reserved == 1  # Cloud, made after names were reserved
    assert _holder(studio_id, one, "hero") == s["older"]["id"]
    assert _holder(studio_id, one, "Rock") == s["rock"]["id"]
    assert _holder(studio_id, s["two"]["id"], "TREE") == s["tree"]["id"]
    assert _holder(s["other"].studio_id, s["other_project"]["id"], "Hero") == s["elsewhere"]["id"]
    # And the pair sharing a name is reported, not failed: the younger must be renamed by a person
    assert report.conflicts == [
        name_backfill.NameConflict(studio_id, one, "HERO", s["newer"]["id"], held_by=s["older"]["id"])
    ]
    assert report.scanned == 6 and not report.unreadable and not report.changed_meanwhile
    # And the names now behave as unique: a new "hero" or "rock" in the project answers 409
    for name in ("hero", "ROCK"):
        body = {"projectId": one, "name": name, "type": "PROP"}
        taken = s["api"].post("/assets", json=body, token=s["admin"].access_token)
        assert taken.status == 409, taken.body
        assert taken.json()["error"]["code"] == "ASSET_NAME_TAKEN"


def test_a_second_run_changes_nothing_and_reports_the_same_conflict(studio):
    client = boto3.client("dynamodb")
    first = name_backfill.backfill(client, _table())

    second = name_backfill.backfill(client, _table())

    assert second.reserved == []
    assert second.already_reserved == len(first.reserved) + first.already_reserved
    assert second.conflicts == first.conflicts


def test_the_conflict_is_resolved_by_renaming_the_younger_asset(studio):
    s = studio
    client = boto3.client("dynamodb")
    name_backfill.backfill(client, _table())

    renamed = s["api"].patch(
        f"/assets/{s['newer']['id']}", json={"name": "Hero (2025)"}, token=s["admin"].access_token
    )

    assert renamed.status == 200, renamed.body
    again = name_backfill.backfill(client, _table())
    assert again.conflicts == [] and again.reserved == []
    # the rename took the new name and left the older asset's reservation of "Hero" alone
    assert _holder(s["admin"].studio_id, s["one"]["id"], "hero (2025)") == s["newer"]["id"]
    assert _holder(s["admin"].studio_id, s["one"]["id"], "Hero") == s["older"]["id"]


def test_a_dry_run_writes_nothing_and_reports_what_it_would_do(studio):
    s = studio
    report = name_backfill.backfill(boto3.client("dynamodb"), _table(), dry_run=True)

    assert len(report.reserved) == 4
    assert [c.asset_id for c in report.conflicts] == [s["newer"]["id"]]
    assert _holder(s["admin"].studio_id, s["one"]["id"], "Hero") is None
    assert "would reserve 4" in report.lines()[-1]


def test_an_asset_renamed_during_the_run_keeps_its_new_name_free_of_the_old_one(studio):
    s = studio
    older = s["older"]
    stale = name_backfill.LegacyAsset(
        asset_pk(s["admin"].studio_id, older["id"]), s["admin"].studio_id, s["one"]["id"], older["id"],
        "An old name", older["createdAt"],
    )  # fmt: skip

    outcome = name_backfill._reserve(boto3.client("dynamodb"), _table(), stale)

    assert outcome == "changed"
    assert _holder(s["admin"].studio_id, s["one"]["id"], "An old name") is None


def test_the_module_runs_from_the_command_line_and_exits_0_with_conflicts(studio, monkeypatch):
    monkeypatch.setenv("CATALOG_TABLE", _table())
    out = io.StringIO()

    status = name_backfill.main([], out=out)

    assert status == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("CONFLICT ") and studio["newer"]["id"] in lines[0]
    assert lines[-1] == (
        "6 assets scanned: reserved 4, already reserved 1, conflicts 1, unreadable 0, "
        "changed during the run 0"
    )


def test_an_unreadable_asset_record_is_reported_and_skipped(studio):
    s = studio
    boto3.client("dynamodb").update_item(
        TableName=_table(),
        Key={"pk": {"S": asset_pk(s["admin"].studio_id, s["tree"]["id"])}, "sk": {"S": ASSET_SK}},
        UpdateExpression="REMOVE projectId",
    )

    report = name_backfill.backfill(boto3.client("dynamodb"), _table())

    assert report.unreadable == [asset_pk(s["admin"].studio_id, s["tree"]["id"])]
    assert s["tree"]["id"] not in report.reserved and len(report.reserved) == 3


def test_without_a_table_the_command_says_how_to_name_it(monkeypatch, capsys):
    monkeypatch.delenv("CATALOG_TABLE", raising=False)

    with pytest.raises(SystemExit) as exit_info:
        name_backfill.main([])

    assert exit_info.value.code == 2
    assert "CATALOG_TABLE" in capsys.readouterr().err
