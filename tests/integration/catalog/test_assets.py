"""Assets over HTTP: create, read with ETag, edit with If-Match, read-only fields, archive, restore."""

from __future__ import annotations


def test_create_and_read_an_asset(api, admin, project):
    # When
    created = api.post(
        "/assets",
        json={
            "projectId": project["id"],
            "name": "Hero",
            "type": "CHARACTER",
            "tags": ["Main", "main", "hero"],
        },
        token=admin.access_token,
    )
    fetched = api.get(f"/assets/{created.json()['id']}", token=admin.access_token)

    # Then
    assert created.status == 201
    body = fetched.json()
    assert fetched.status == 200
    assert body["name"] == "Hero"
    assert body["tags"] == ["main", "hero"]
    assert body["status"] == "IN_PROGRESS"
    assert body["currentVersion"] is None
    assert body["latestVersion"] == 0
    assert body["outdatedDependencies"] == []
    assert body["archived"] is False
    assert body["createdBy"] == admin.user_id
    assert fetched.headers["ETag"] == created.headers["ETag"]


def test_asset_in_unknown_project_is_404(api, admin):
    response = api.post(
        "/assets", json={"projectId": "nope", "name": "A", "type": "PROP"}, token=admin.access_token
    )

    assert response.status == 404
    assert response.json()["error"]["code"] == "PROJECT_NOT_FOUND"


def test_patch_with_current_etag_then_stale_etag(api, admin, make_asset):
    # Given
    asset = make_asset()
    etag = api.get(f"/assets/{asset['id']}", token=admin.access_token).headers["ETag"]

    # When
    first = api.patch(
        f"/assets/{asset['id']}",
        json={"name": "Hero Rig", "description": "v2 body"},
        token=admin.access_token,
        headers={"If-Match": etag},
    )
    stale = api.patch(
        f"/assets/{asset['id']}",
        json={"name": "Lost update"},
        token=admin.access_token,
        headers={"If-Match": etag},
    )

    # Then
    assert first.status == 200
    assert first.json()["name"] == "Hero Rig"
    assert first.headers["ETag"] != etag
    assert stale.status == 412
    assert stale.json()["error"]["code"] == "PRECONDITION_FAILED"
    assert api.get(f"/assets/{asset['id']}", token=admin.access_token).json()["name"] == "Hero Rig"


def test_patch_without_if_match_or_with_star_is_accepted(api, admin, make_asset):
    asset = make_asset()

    plain = api.patch(f"/assets/{asset['id']}", json={"tags": ["a"]}, token=admin.access_token)
    star = api.patch(
        f"/assets/{asset['id']}", json={"type": "RIG"}, token=admin.access_token, headers={"If-Match": "*"}
    )

    assert plain.status == 200
    assert star.status == 200
    assert star.json()["tags"] == ["a"]
    assert star.json()["type"] == "RIG"


def test_archive_hides_from_list_and_restore_brings_back(api, admin, make_asset):
    # Given
    asset = make_asset("Prop", "PROP")

    # When
    archived = api.delete(f"/assets/{asset['id']}", token=admin.access_token)
    listed_while_archived = api.get("/assets", token=admin.access_token).json()["items"]
    readable = api.get(f"/assets/{asset['id']}", token=admin.access_token)
    edit = api.patch(f"/assets/{asset['id']}", json={"name": "x"}, token=admin.access_token)
    restored = api.post(f"/assets/{asset['id']}/restore", token=admin.access_token)
    listed_after = api.get("/assets", token=admin.access_token).json()["items"]

    # Then
    assert archived.status == 200
    assert archived.json()["archived"] is True
    assert asset["id"] not in [a["id"] for a in listed_while_archived]
    assert readable.status == 200
    assert readable.json()["archived"] is True
    assert edit.status == 409
    assert restored.status == 200
    assert restored.json()["archived"] is False
    assert asset["id"] in [a["id"] for a in listed_after]


def test_archive_keeps_versions_and_files(api, admin, make_asset):
    from tests.integration.catalog.conftest import publish

    # Given
    asset = make_asset()
    publish(admin, asset["id"])

    # When
    api.delete(f"/assets/{asset['id']}", token=admin.access_token)

    # Then
    versions = api.get(f"/assets/{asset['id']}/versions", token=admin.access_token).json()["items"]
    assert [v["version"] for v in versions] == [1]
    download = api.get(f"/assets/{asset['id']}/versions/1/download", token=admin.access_token)
    assert download.status == 200


def test_unknown_asset_is_404(api, admin):
    response = api.get("/assets/nope", token=admin.access_token)

    assert response.status == 404
    assert response.json()["error"]["code"] == "ASSET_NOT_FOUND"


def test_archived_asset_leaves_every_listing_index(api, admin, project, make_asset):
    # Given
    kept, gone = make_asset("Kept"), make_asset("Gone")

    # When
    api.delete(f"/assets/{gone['id']}", token=admin.access_token)

    # Then
    for scope in ("", f"projectId={project['id']}&"):
        for sort in ("createdAt", "updatedAt", "name"):
            items = api.get(f"/assets?{scope}sort={sort}", token=admin.access_token).json()["items"]
            assert [a["id"] for a in items] == [kept["id"]]
