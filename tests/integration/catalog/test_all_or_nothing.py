"""Issue 9.1 and 9.9 regressions: a refused PATCH changes nothing (the project, its code, the studio's
list), an odd stored record never fails a listing, and asset names are unique per project."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.identity import Session


def _project(api: Any, admin: Session, project_id: str) -> dict[str, Any]:
    response = api.get(f"/projects/{project_id}", token=admin.access_token)
    assert response.status == 200, response.body
    return response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"fps": None, "code": "NEW"},
        {"name": None, "code": "NEW"},
        {"code": None, "name": "Renamed"},
        {"startFrame": None, "code": "NEW"},
        {"fps": 23, "code": "NEW"},
        {"code": "NEW", "startFrame": True},
    ],
)
def test_a_refused_project_patch_changes_nothing_and_keeps_the_code(api, admin, project, body):
    # Given a project with code FT
    before = _project(api, admin, project["id"])

    # When a PATCH with one invalid field (and a code change) is sent
    response = api.patch(f"/projects/{project['id']}", json=body, token=admin.access_token)

    # Then 400 naming the field; the project, the list and the old code are untouched
    assert response.status == 400, response.body
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert _project(api, admin, project["id"]) == before
    listing = api.get("/projects", token=admin.access_token)
    assert listing.status == 200
    assert listing.json()["items"] == [before]
    taken = api.post("/projects", json={"name": "Other", "code": "FT"}, token=admin.access_token)
    assert taken.status == 409
    assert taken.json()["error"]["code"] == "PROJECT_CODE_TAKEN"
    free = api.post("/projects", json={"name": "Other", "code": "NEW"}, token=admin.access_token)
    assert free.status == 201


def test_description_is_the_one_nullable_project_field(api, admin, project):
    api.patch(f"/projects/{project['id']}", json={"description": "notes"}, token=admin.access_token)

    response = api.patch(f"/projects/{project['id']}", json={"description": None}, token=admin.access_token)

    assert response.status == 200, response.body
    assert response.json().get("description") is None


def _damage(admin: Session, project_id: str) -> None:
    """What the old PATCH {"fps": null} left behind: a project item without fps."""
    from keyframe.catalog.models import PROJECT_SK, ProjectItem, project_pk

    ProjectItem(project_pk(admin.studio_id, project_id), PROJECT_SK).update(
        actions=[ProjectItem.fps.remove()]
    )


def test_a_damaged_project_still_reads_lists_and_is_repaired_by_patch(api, admin, project):
    # Given a project whose stored fps was removed (by the bug this guards against)
    _damage(admin, project["id"])

    # Then the studio's list, the project itself and a repairing PATCH all answer
    listing = api.get("/projects", token=admin.access_token)
    assert listing.status == 200, listing.body
    assert [p["id"] for p in listing.json()["items"]] == [project["id"]]
    assert api.get(f"/projects/{project['id']}", token=admin.access_token).status == 200
    repaired = api.patch(f"/projects/{project['id']}", json={"fps": 25}, token=admin.access_token)
    assert repaired.status == 200, repaired.body
    assert repaired.json()["fps"] == 25


def test_an_unreadable_record_is_left_out_of_the_list_and_counted(api, admin, project, monkeypatch):
    from keyframe.catalog.models import PROJECT_SK, ProjectItem, project_pk
    from keyframe.storage import pages as store

    # Given a second project whose stored name is not text (the model cannot read it)
    other = api.post("/projects", json={"name": "Second", "code": "SC"}, token=admin.access_token).json()
    import boto3

    boto3.client("dynamodb").update_item(
        TableName=ProjectItem.Meta.table_name,
        Key={"pk": {"S": project_pk(admin.studio_id, other["id"])}, "sk": {"S": PROJECT_SK}},
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"N": "7"}},
    )
    reported: list[str] = []
    monkeypatch.setattr(store, "report_unreadable", lambda kind, key, error: reported.append(kind))
    monkeypatch.setattr(store.metrics, "add_metric", lambda **kw: reported.append(kw["name"]))

    # When the studio's projects are listed
    listing = api.get("/projects", token=admin.access_token)

    # Then the list answers with the readable project, and the odd one is reported
    assert listing.status == 200, listing.body
    assert [p["id"] for p in listing.json()["items"]] == [project["id"]]
    assert reported


# --- unique asset names -------------------------------------------------------------------------


def test_asset_names_are_unique_per_project_case_insensitively(api, admin, project, make_asset):
    make_asset(name="Hero")

    response = api.post(
        "/assets", json={"projectId": project["id"], "name": "hERO", "type": "PROP"}, token=admin.access_token
    )

    assert response.status == 409, response.body
    error = response.json()["error"]
    assert error["code"] == "ASSET_NAME_TAKEN"
    assert error["details"]["field"] == "name"
    other = api.post("/projects", json={"name": "Other", "code": "OT"}, token=admin.access_token).json()
    elsewhere = api.post(
        "/assets", json={"projectId": other["id"], "name": "Hero", "type": "PROP"}, token=admin.access_token
    )
    assert elsewhere.status == 201


def test_archived_assets_keep_their_names_and_renames_move_them(api, admin, project, make_asset):
    token = admin.access_token
    hero = make_asset(name="Hero")
    body = {"projectId": project["id"], "name": "Hero", "type": "PROP"}
    # archived: still reserved
    assert api.delete(f"/assets/{hero['id']}", token=token).status == 200
    assert api.post("/assets", json=body, token=token).status == 409
    # restored and renamed: the old name is free, the new one taken
    assert api.post(f"/assets/{hero['id']}/restore", token=token).status == 200
    renamed = api.patch(f"/assets/{hero['id']}", json={"name": "Heroine"}, token=token)
    assert renamed.status == 200, renamed.body
    assert api.post("/assets", json=body, token=token).status == 201
    clash = api.post("/assets", json={**body, "name": "HEROINE"}, token=token)
    assert clash.status == 409
    # a rename onto a taken name is refused and changes nothing
    before = api.get(f"/assets/{hero['id']}", token=token).json()
    refused = api.patch(f"/assets/{hero['id']}", json={"name": "hero", "tags": ["x"]}, token=token)
    assert refused.status == 409
    assert refused.json()["error"]["code"] == "ASSET_NAME_TAKEN"
    assert api.get(f"/assets/{hero['id']}", token=token).json() == before
    # a change of case only keeps the reservation
    recased = api.patch(f"/assets/{hero['id']}", json={"name": "HEROINE"}, token=token)
    assert recased.status == 200, recased.body


def test_concurrent_creates_with_one_name_make_one_asset(api, admin, project, serialized_dynamodb):
    from concurrent.futures import ThreadPoolExecutor

    body = {"projectId": project["id"], "name": "Crowd", "type": "PROP"}

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(
            pool.map(lambda _: api.post("/assets", json=body, token=admin.access_token).status, range(20))
        )

    assert sorted(statuses) == [201] + [409] * 19
    listed = api.get(f"/assets?projectId={project['id']}", token=admin.access_token).json()["items"]
    assert [a["name"] for a in listed] == ["Crowd"]
