"""Review and pipeline ids follow the one id rule (keyframe.schemas.ID_PATTERN) as every other route.

Every id Keyframe makes is a UUID, so an id holding another character (``_``) names nothing: it is
refused as malformed (400) before any lookup, as on the upload, render and member routes.
"""

from __future__ import annotations

import pytest

from tests.integration.live.support import make_version
from tests.support.identity import register_studio

MALFORMED = "not_an_id"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/assets/{MALFORMED}/versions/1/comments"),
        ("GET", f"/assets/{MALFORMED}/versions/1/reviews"),
        ("GET", f"/assets/{MALFORMED}/versions/1/pipeline"),
        ("POST", f"/assets/{MALFORMED}/versions/1/reprocess"),
        ("PATCH", f"/comments/{MALFORMED}"),
    ],
)
def test_an_id_with_an_underscore_in_the_path_is_refused_as_malformed(api, method: str, path: str) -> None:
    admin = register_studio(api)
    body = {"resolved": True} if method == "PATCH" else None
    response = api.request(method, path, json_body=body, token=admin.access_token)
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
