"""Projects over HTTP: create (unique code), list, read, edit, archive."""

from __future__ import annotations

from tests.support.identity import add_member


def test_create_project_with_studio_defaults(api, admin):
    # When
    response = api.post("/projects", json={"name": "Forest Tale", "code": "ft-01"}, token=admin.access_token)

    # Then
    assert response.status == 201
    body = response.json()
    assert body["code"] == "FT-01"
    assert body["fps"] == 24
    assert body["startFrame"] == 1001
    assert body["archived"] is False
    assert body["createdBy"] == admin.user_id
    assert response.headers["Location"] == f"/projects/{body['id']}"


def test_project_code_is_unique_in_a_studio_but_not_across_studios(api, admin, other_admin):
    # Given
    assert api.post("/projects", json={"name": "A", "code": "SHOW"}, token=admin.access_token).status == 201

    # When
    again = api.post("/projects", json={"name": "B", "code": "show"}, token=admin.access_token)
    elsewhere = api.post("/projects", json={"name": "C", "code": "SHOW"}, token=other_admin.access_token)

    # Then
    assert again.status == 409
    assert again.json()["error"]["code"] == "PROJECT_CODE_TAKEN"
    assert elsewhere.status == 201


def test_list_pages_through_active_projects_by_code(api, admin):
    # Given
    for code in ["C", "A", "B"]:
        api.post("/projects", json={"name": code, "code": code}, token=admin.access_token)
    archived = api.post("/projects", json={"name": "Z", "code": "Z"}, token=admin.access_token).json()
    api.delete(f"/projects/{archived['id']}", token=admin.access_token)

    # When
    first = api.get("/projects?limit=2", token=admin.access_token).json()
    second = api.get(f"/projects?limit=2&cursor={first['nextCursor']}", token=admin.access_token).json()

    # Then
    assert [p["code"] for p in first["items"]] == ["A", "B"]
    assert [p["code"] for p in second["items"]] == ["C"]
    assert second["nextCursor"] is None


def test_edit_project_and_move_its_code(api, admin):
    # Given
    project = api.post("/projects", json={"name": "A", "code": "OLD"}, token=admin.access_token).json()
    api.post("/projects", json={"name": "B", "code": "TAKEN"}, token=admin.access_token)

    # When
    taken = api.patch(f"/projects/{project['id']}", json={"code": "TAKEN"}, token=admin.access_token)
    moved = api.patch(
        f"/projects/{project['id']}",
        json={"code": "NEW", "fps": 25, "startFrame": 1},
        token=admin.access_token,
    )
    reuse_old = api.post("/projects", json={"name": "C", "code": "OLD"}, token=admin.access_token)

    # Then
    assert taken.status == 409
    assert moved.status == 200
    assert (moved.json()["code"], moved.json()["fps"], moved.json()["startFrame"]) == ("NEW", 25, 1)
    assert reuse_old.status == 201


def test_patch_of_read_only_project_field_names_it(api, admin, project):
    response = api.patch(f"/projects/{project['id']}", json={"createdBy": "me"}, token=admin.access_token)

    assert response.status == 400
    assert response.json()["error"]["details"] == {
        "fields": [{"field": "createdBy", "message": "read-only", "type": "read_only"}]
    }


def test_archive_hides_project_but_keeps_it_readable(api, admin, project):
    # When
    archived = api.delete(f"/projects/{project['id']}", token=admin.access_token)

    # Then
    assert archived.status == 200
    assert archived.json()["archived"] is True
    assert api.get(f"/projects/{project['id']}", token=admin.access_token).json()["archived"] is True
    assert project["id"] not in [
        p["id"] for p in api.get("/projects", token=admin.access_token).json()["items"]
    ]
    refused = api.post(
        "/assets", json={"projectId": project["id"], "name": "x", "type": "PROP"}, token=admin.access_token
    )
    assert refused.status == 409
    assert refused.json()["error"]["code"] == "PROJECT_ARCHIVED"


def test_artist_cannot_create_projects(api, admin):
    artist = add_member(api, admin, "ARTIST")

    response = api.post("/projects", json={"name": "A", "code": "A"}, token=artist.access_token)

    assert response.status == 403


def test_unknown_project_is_404(api, admin):
    response = api.get("/projects/does-not-exist", token=admin.access_token)

    assert response.status == 404
    assert response.json()["error"]["code"] == "PROJECT_NOT_FOUND"
