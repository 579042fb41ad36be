"""Issue 9.1: a stored record that does not parse never crashes a read.

A record is written straight into the table (as a bug, a manual edit or older code could leave it).
Every read of it answers 500 ``RECORD_UNREADABLE`` in the one error shape and is reported (log +
``UnreadableRecords`` metric); the listings leave it out and still answer. One moto world for the
module: each test damages a record of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from keyframe.catalog.models import ASSET_SK, PROJECT_SK, AssetItem, ProjectItem, asset_pk, project_pk
from keyframe.storage import pages
from tests.support.identity import Session, register_studio


@dataclass
class World:
    api: Any
    admin: Session
    project: dict[str, Any]


@pytest.fixture(scope="module")
def world(module_api: Any) -> World:
    """A studio with one project (each test adds the assets it damages)."""
    admin = register_studio(module_api, studio_name="Damaged")
    project = module_api.post(
        "/projects", json={"name": "Forest", "code": "FOR"}, token=admin.access_token
    ).json()
    return World(module_api, admin, project)


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """``(record kind, metric name)`` of every report :mod:`keyframe.storage.pages` makes."""
    found: list[tuple[str, str]] = []
    kinds: list[str] = []
    real_report = pages.report_unreadable

    def report(kind: str, key: Any, error: Exception) -> None:
        kinds.append(kind)
        real_report(kind, key, error)  # the real log line and metric call

    monkeypatch.setattr(pages, "report_unreadable", report)
    monkeypatch.setattr(
        pages.metrics, "add_metric", lambda **kw: found.append((kinds[-1] if kinds else "?", kw["name"]))
    )
    yield found


def _asset(world: World, name: str) -> dict[str, Any]:
    body = {"projectId": world.project["id"], "name": name, "type": "CHARACTER"}
    response = world.api.post("/assets", json=body, token=world.admin.access_token)
    assert response.status == 201, response.body
    return response.json()


def _set(table: str, key: dict[str, Any], attribute: str, value: dict[str, Any]) -> None:
    """Overwrite one attribute of a stored item with a raw DynamoDB value (no model involved)."""
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": value},
    )


def _assert_unreadable(response: Any, kind: str, record_id: str) -> None:
    assert response.status == 500, response.body
    error = response.json()["error"]
    assert error["code"] == "RECORD_UNREADABLE"
    assert error["details"] == {"record": kind, "id": record_id}
    assert error["correlationId"]
    assert "cannot be read" in error["message"]


# The two ways a record fails to parse: the model cannot deserialise an attribute (a number where
# text is stored), or the stored value is not one the API knows (an asset type that does not exist).
DAMAGES = {
    "name-not-text": ("name", {"N": "7"}),
    "unknown-type": ("type", {"S": "WIDGET"}),
    "version-not-a-number": ("latestVersion", {"S": "three"}),
}


@pytest.mark.parametrize("damage", list(DAMAGES), ids=list(DAMAGES))
def test_every_read_of_an_unreadable_asset_answers_record_unreadable_and_reports_it(world, reported, damage):
    token = world.admin.access_token
    # Given an asset whose stored record was damaged straight in the table
    asset = _asset(world, f"Broken {damage}")
    attribute, value = DAMAGES[damage]
    key = {"pk": {"S": asset_pk(world.admin.studio_id, asset["id"])}, "sk": {"S": ASSET_SK}}
    _set(AssetItem.Meta.table_name, key, attribute, value)

    # When it is read, edited, archived and its versions listed
    answers = {
        "get": world.api.get(f"/assets/{asset['id']}", token=token),
        "patch": world.api.patch(f"/assets/{asset['id']}", json={"description": "x"}, token=token),
        "archive": world.api.delete(f"/assets/{asset['id']}", token=token),
    }

    # Then each answers 500 RECORD_UNREADABLE in the one error shape, reported with the metric
    for what, response in answers.items():
        assert response.status == 500, (what, response.body)
        _assert_unreadable(response, "asset", asset["id"])
    assert reported and all(entry == ("asset", pages.UNREADABLE_METRIC) for entry in reported)
    # And the project's asset list still answers, leaving the damaged asset out
    listing = world.api.get(f"/assets?projectId={world.project['id']}&limit=100", token=token)
    assert listing.status == 200, listing.body
    assert asset["id"] not in [a["id"] for a in listing.json()["items"]]


def test_a_healthy_asset_beside_a_damaged_one_reads_as_before(world, reported):
    token = world.admin.access_token
    healthy = _asset(world, "Healthy")
    broken = _asset(world, "Broken beside")
    key = {"pk": {"S": asset_pk(world.admin.studio_id, broken["id"])}, "sk": {"S": ASSET_SK}}
    _set(AssetItem.Meta.table_name, key, "status", {"S": "MELTED"})

    response = world.api.get(f"/assets/{healthy['id']}", token=token)

    assert response.status == 200, response.body
    assert response.json() == healthy
    listing = world.api.get(f"/assets?projectId={world.project['id']}&limit=100", token=token)
    assert healthy["id"] in [a["id"] for a in listing.json()["items"]]
    assert broken["id"] not in [a["id"] for a in listing.json()["items"]]
    assert ("asset", pages.UNREADABLE_METRIC) in reported


def test_an_unreadable_project_answers_record_unreadable_and_the_list_still_answers(world, reported):
    token = world.admin.access_token
    # Given a project whose stored name is a number (the model cannot deserialise it)
    other = world.api.post("/projects", json={"name": "Second", "code": "SEC"}, token=token).json()
    key = {"pk": {"S": project_pk(world.admin.studio_id, other["id"])}, "sk": {"S": PROJECT_SK}}
    _set(ProjectItem.Meta.table_name, key, "name", {"N": "7"})

    # When it is read and edited
    read = world.api.get(f"/projects/{other['id']}", token=token)
    patched = world.api.patch(f"/projects/{other['id']}", json={"description": "x"}, token=token)

    # Then both answer RECORD_UNREADABLE, reported; the studio's list answers without it
    _assert_unreadable(read, "project", other["id"])
    _assert_unreadable(patched, "project", other["id"])
    assert ("project", pages.UNREADABLE_METRIC) in reported
    listing = world.api.get("/projects", token=token)
    assert listing.status == 200, listing.body
    ids = [p["id"] for p in listing.json()["items"]]
    assert world.project["id"] in ids and other["id"] not in ids
