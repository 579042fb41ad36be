"""Tenancy and roles: another studio's (or asset's) upload id is not found; VIEWER cannot upload."""

from __future__ import annotations

from tests.integration.uploads.conftest import (
    Studio,
    create_asset,
    file_bytes,
    open_body,
    open_multipart_uploads,
    parts_body,
    put_parts,
)
from tests.support.identity import add_member, register_studio


def test_another_studio_or_asset_cannot_read_finish_or_abort_an_upload(api, studio: Studio) -> None:
    # Given an open upload of studio A with its part sent
    data = file_bytes(1000)
    token = studio.admin.access_token
    body = api.post(f"/assets/{studio.asset_id}/uploads", json=open_body(data), token=token).json()
    etags = put_parts(body, data)
    upload_id = body["uploadId"]
    # And studio B with its own asset, and a second asset in studio A
    other = register_studio(api, studio_name="Other")
    _, other_asset = create_asset(api, other, code="OTH")
    _, sibling_asset = create_asset(api, studio.admin, code="SIB")

    attempts = [
        (other.access_token, studio.asset_id),  # B names A's asset
        (other.access_token, other_asset),  # B names its own asset
        (token, sibling_asset),  # A names another of its assets
    ]
    for caller, asset_id in attempts:
        path = f"/assets/{asset_id}/uploads/{upload_id}"
        # When they read, complete or abort it / Then 404 every time
        for response in (
            api.get(path, token=caller),
            api.post(f"{path}/complete", json=parts_body(etags), token=caller),
            api.delete(path, token=caller),
        ):
            assert response.status == 404, response.body
            assert response.json()["error"]["code"] == "UPLOAD_NOT_FOUND"

    # And the upload is untouched: still open for A
    assert api.get(f"/assets/{studio.asset_id}/uploads/{upload_id}", token=token).json()["status"] == "OPEN"
    assert len(open_multipart_uploads()) == 1


def test_every_creator_role_may_upload_and_a_viewer_may_not(api, studio: Studio) -> None:
    data = file_bytes(100)
    uploads = f"/assets/{studio.asset_id}/uploads"
    opened = api.post(uploads, json=open_body(data), token=studio.admin.access_token).json()
    for role in ("PRODUCER", "DIRECTOR", "ARTIST"):
        member = add_member(api, studio.admin, role)
        # When a creator opens, reads and completes an upload / Then 201, 200, 202
        body = api.post(uploads, json=open_body(data), token=member.access_token)
        assert body.status == 201, (role, body.body)
        path = f"{uploads}/{body.json()['uploadId']}"
        assert api.get(path, token=member.access_token).status == 200
        etags = put_parts(body.json(), data)
        assert api.post(f"{path}/complete", json=parts_body(etags), token=member.access_token).status == 202

    # When a VIEWER tries any upload route / Then 403 naming the permission
    viewer = add_member(api, studio.admin, "VIEWER")
    path = f"{uploads}/{opened['uploadId']}"
    for response in (
        api.post(uploads, json=open_body(data), token=viewer.access_token),
        api.get(path, token=viewer.access_token),
        api.post(f"{path}/complete", json=parts_body({1: "e"}), token=viewer.access_token),
        api.delete(path, token=viewer.access_token),
    ):
        assert response.status == 403, response.body
        assert response.json()["error"]["details"]["permission"] == "upload:write"
    # And without a token / Then 401
    assert api.get(path).status == 401
