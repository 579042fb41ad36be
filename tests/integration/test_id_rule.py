"""Ids follow the one id rule (keyframe.schemas.ID_PATTERN) on every route: catalog, reviews and
pipeline as uploads, renders and members.

Every id Keyframe makes is a UUID, so an id holding another character (``_``) names nothing: it is
refused as malformed (400) before any lookup.
"""

from __future__ import annotations

import pytest

from tests.integration.live.support import make_version
from tests.support.identity import register_studio

MALFORMED = "not_an_id"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/projects/{MALFORMED}"),
        ("GET", f"/assets/{MALFORMED}"),
        ("GET", f"/assets/{MALFORMED}/versions/1"),
        ("DELETE", f"/assets/a1/dependencies/{MALFORMED}"),
        ("GET", f"/assets?projectId={MALFORMED}"),
        ("GET", f"/activity?actorId={MALFORMED}"),
        ("GET", f"/assets/{MALFORMED}/versions/1/comments"),
        ("GET", f"/assets/{MALFORMED}/versions/1/reviews"),
        ("GET", f"/assets/{MALFORMED}/versions/1/pipeline"),
        ("POST", f"/assets/{MALFORMED}/versions/1/reprocess"),
        ("PATCH", f"/comments/{MALFORMED}"),
    ],
)
def test_an_id_with_an_underscore_is_refused_as_malformed(api, method: str, path: str) -> None:
    admin = register_studio(api)
    body = {"resolved": True} if method == "PATCH" else None
    response = api.request(method, path, json_body=body, token=admin.access_token)
    assert response.status == 400, response.body
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_an_asset_in_a_malformed_project_id_is_refused(api) -> None:
    admin = register_studio(api)
    body = {"projectId": MALFORMED, "name": "Hero", "type": "CHARACTER"}
    response = api.post("/assets", json=body, token=admin.access_token)
    assert response.status == 400, response.body
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_reply_to_a_malformed_comment_id_is_refused(api) -> None:
    admin = register_studio(api)
    target = make_version(admin)
    response = api.post(
        f"/assets/{target.asset_id}/versions/{target.version}/comments",
        json={"body": "Agreed", "parentId": MALFORMED},
        token=admin.access_token,
    )
    assert response.status == 400, response.body
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
