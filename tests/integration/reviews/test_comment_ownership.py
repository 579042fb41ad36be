"""Resource-level rule (issue 9.5): a comment is resolved or reopened by its author, a DIRECTOR, a
PRODUCER or an ADMIN; another ARTIST gets 403 ``NOT_COMMENT_AUTHOR`` (over REST and over the socket);
a VIEWER gets 403 for ``review:comment``. A refused change leaves the comment as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.live.support import make_version
from tests.support.identity import add_member, register_studio

ROLES = ["ADMIN", "PRODUCER", "DIRECTOR", "ARTIST", "VIEWER"]
MAY_RESOLVE_ANYONES = {"ADMIN", "PRODUCER", "DIRECTOR"}


def _artists_comment(api: Any) -> tuple[Any, Any, str]:
    """A studio's admin, an artist, and `{its version's comments URL}#{commentId}` of the artist's comment."""
    admin = register_studio(api)
    target = make_version(admin)
    author = add_member(api, admin, "ARTIST")
    url = f"/assets/{target.asset_id}/versions/{target.version}/comments"
    response = api.post(url, json={"body": "the blink is late"}, token=author.access_token)
    assert response.status == 201, response.body
    return admin, author, f"{url}#{response.json()['commentId']}"


def _is_resolved(api: Any, session: Any, path: str) -> bool:
    """Whether the comment is resolved, read back from its version's list."""
    url, comment_id = path.split("#")
    listed = api.get(url, token=session.access_token).json()["items"]
    return next(c for c in listed if c["commentId"] == comment_id)["resolved"]


def _comment(path: str) -> str:
    """``/comments/{commentId}`` of a path made by :func:`_artists_comment`."""
    return "/comments/" + path.split("#")[1]


def _assert_refused(error: dict[str, Any], role: str) -> None:
    assert set(error) >= {"code", "message"}
    if role == "VIEWER":
        assert error["code"] == "FORBIDDEN"
        assert error["details"] == {"permission": "review:comment", "role": "VIEWER"}
    else:
        assert error["code"] == "NOT_COMMENT_AUTHOR"
        assert error["details"] == {"permission": "comment:resolve-any", "role": role, "owner": "author"}


@pytest.mark.parametrize("role", ROLES)
def test_someone_elses_comment_is_resolved_and_reopened_only_by_a_lead(
    api: Any, live: Any, role: str
) -> None:
    # Given an artist's comment, and a member of `role` who did not write it
    admin, author, path = _artists_comment(api)
    other = add_member(api, admin, role)
    # When that member resolves it over REST
    response = api.patch(_comment(path), json={"resolved": True}, token=other.access_token)
    # Then a DIRECTOR, PRODUCER or ADMIN may; anyone else is refused and it stays open
    if role in MAY_RESOLVE_ANYONES:
        assert response.status == 200, response.body
        assert response.json()["resolved"] is True
        assert response.json()["resolvedBy"] == other.user_id
        # And they may reopen it too
        reopened = api.patch(_comment(path), json={"resolved": False}, token=other.access_token)
        assert reopened.status == 200 and reopened.json()["resolved"] is False
    else:
        assert response.status == 403, response.body
        _assert_refused(response.json()["error"], role)
        assert _is_resolved(api, author, path) is False
        # And the same over the socket: an error event, nothing changed
        if role != "VIEWER":
            socket = live.connect(other)
            reply = socket.send(action="resolve", commentId=path.split("#")[1], correlationId="r-1")
            assert reply["type"] == "error" and reply["data"]["correlationId"] == "r-1"
            _assert_refused(reply["data"], role)
            assert _is_resolved(api, author, path) is False


def test_a_refused_artist_cannot_reopen_a_comment_a_lead_resolved(api: Any) -> None:
    # Given an artist's comment resolved by a director
    admin, author, path = _artists_comment(api)
    director = add_member(api, admin, "DIRECTOR")
    assert api.patch(_comment(path), json={"resolved": True}, token=director.access_token).status == 200
    # When another artist reopens it / Then 403 and it stays resolved
    colleague = add_member(api, admin, "ARTIST")
    refused = api.patch(_comment(path), json={"resolved": False}, token=colleague.access_token)
    assert refused.status == 403 and refused.json()["error"]["code"] == "NOT_COMMENT_AUTHOR"
    assert _is_resolved(api, author, path) is True
    # And its author may reopen it
    reopened = api.patch(_comment(path), json={"resolved": False}, token=author.access_token)
    assert reopened.json()["resolved"] is False
