"""Resource-level rule (issue 9.5): an upload is completed or aborted by its uploader, a PRODUCER or an
ADMIN; a DIRECTOR or ARTIST who did not open it gets 403 ``NOT_UPLOADER``; a VIEWER gets 403 for
``upload:write``. The refused upload is left exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.uploads.conftest import (
    Studio,
    file_bytes,
    open_body,
    open_multipart_uploads,
    parts_body,
    put_parts,
)
from tests.support.identity import Session, add_member

ROLES = ["ADMIN", "PRODUCER", "DIRECTOR", "ARTIST", "VIEWER"]
MAY_FINISH_ANYONES = {"ADMIN", "PRODUCER"}


def _opened_by(api: Any, studio: Studio, uploader: Session) -> tuple[str, dict[int, str]]:
    """An OPEN upload of ``uploader`` with every part sent: ``(its path, its etags)``."""
    data = file_bytes(1000)
    opened = api.post(f"/assets/{studio.asset_id}/uploads", json=open_body(data), token=uploader.access_token)
    assert opened.status == 201, opened.body
    body = opened.json()
    return f"/assets/{studio.asset_id}/uploads/{body['uploadId']}", put_parts(body, data)


def _assert_refused(response: Any, role: str) -> None:
    assert response.status == 403, response.body
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "correlationId"}
    if role == "VIEWER":
        assert error["code"] == "FORBIDDEN"
        assert error["details"] == {"permission": "upload:write", "role": "VIEWER"}
    else:
        assert error["code"] == "NOT_UPLOADER"
        assert error["details"] == {"permission": "upload:finish-any", "role": role, "owner": "uploader"}
        assert "uploader" in error["message"]


@pytest.mark.parametrize("role", ROLES)
def test_someone_elses_upload_is_aborted_only_by_a_producer_or_admin(
    api: Any, studio: Studio, role: str
) -> None:
    # Given an artist's open upload, and a member of `role` who did not open it
    uploader = add_member(api, studio.admin, "ARTIST")
    other = add_member(api, studio.admin, role)
    path, _ = _opened_by(api, studio, uploader)
    # When that member aborts it
    response = api.delete(path, token=other.access_token)
    # Then a PRODUCER or ADMIN may; anyone else is refused and the upload stays open
    status = api.get(path, token=uploader.access_token).json()["status"]
    if role in MAY_FINISH_ANYONES:
        assert response.status == 204, response.body
        assert status == "ABORTED"
        assert open_multipart_uploads() == []
    else:
        _assert_refused(response, role)
        assert status == "OPEN"
        assert len(open_multipart_uploads()) == 1


@pytest.mark.parametrize("role", ROLES)
def test_someone_elses_upload_is_completed_only_by_a_producer_or_admin(
    api: Any, studio: Studio, role: str
) -> None:
    # Given an artist's upload with every part sent, and a member of `role` who did not open it
    uploader = add_member(api, studio.admin, "ARTIST")
    other = add_member(api, studio.admin, role)
    path, etags = _opened_by(api, studio, uploader)
    # When that member completes it
    response = api.post(f"{path}/complete", json=parts_body(etags), token=other.access_token)
    # Then a PRODUCER or ADMIN may; anyone else is refused and the upload stays open
    status = api.get(path, token=uploader.access_token).json()["status"]
    if role in MAY_FINISH_ANYONES:
        assert response.status == 202, response.body
        assert status == "COMPLETED"
    else:
        _assert_refused(response, role)
        assert status == "OPEN"
        # And its uploader can still complete it
        done = api.post(f"{path}/complete", json=parts_body(etags), token=uploader.access_token)
        assert done.status == 202, done.body


@pytest.mark.parametrize("role", ["ADMIN", "PRODUCER", "DIRECTOR", "ARTIST"])
def test_the_uploader_completes_and_aborts_their_own_uploads_in_every_creator_role(
    api: Any, studio: Studio, role: str
) -> None:
    uploader = add_member(api, studio.admin, role)
    first, etags = _opened_by(api, studio, uploader)
    second, _ = _opened_by(api, studio, uploader)
    assert api.post(f"{first}/complete", json=parts_body(etags), token=uploader.access_token).status == 202
    assert api.delete(second, token=uploader.access_token).status == 204
