"""People on the local stack, over HTTP: invitations by e-mail through the captured mailbox,
a person in two studios, password reset by e-mail."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import BaseUrlSession

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PASSWORD = "correct-horse-battery-staple"


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _register(http: BaseUrlSession, studio: str, name: str) -> dict[str, Any]:
    body = {"studioName": studio, "email": _email("admin"), "password": PASSWORD, "displayName": name}
    response = http.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _bearer(auth: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth['accessToken']}"}


def _mailed_link(http: BaseUrlSession, to: str, path: str) -> tuple[dict[str, Any], str]:
    """The newest captured e-mail to ``to`` and its link to ``path``, read from ``/_local/mailbox``."""
    listing = http.get("/_local/mailbox", params={"to": to})
    assert listing.status_code == 200, listing.text
    for message in listing.json()["items"]:
        for link in message["links"]:
            if urlsplit(link).path == path:
                return message, link
    raise AssertionError(f"no e-mail to {to} with a link to {path}: {listing.text[:500]}")


def test_admin_invites_by_email_and_the_link_in_the_captured_mail_is_accepted(http: BaseUrlSession) -> None:
    # Given an ADMIN of "Moonbeam"
    admin = _register(http, "Moonbeam", "Ada Admin")
    invitee = _email("artist")

    # When they invite an artist by e-mail
    invited = http.post(
        "/studio/invitations", json={"email": invitee, "role": "ARTIST"}, headers=_bearer(admin)
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["emailSent"] is True

    # Then the mailbox holds the invitation naming the studio and the inviter, with its link
    message, link = _mailed_link(http, invitee, "/invitations/accept")
    assert message["subject"] == "Ada Admin invited you to Moonbeam on Keyframe"
    assert message["template"] == "invitation" and "Moonbeam" in message["html"]
    page = http.get(f"/_local/mailbox/{message['id']}.html")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"] and link in page.text
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert token == invited.json()["token"]  # shown by the API on the local stack only

    # When the link's token is accepted with a new account
    accepted = http.post(
        "/auth/accept-invitation", json={"token": token, "password": PASSWORD, "displayName": "Arlo"}
    )

    # Then the artist is in Moonbeam, and the studio's admin sees them in the member list
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["studio"]["name"] == "Moonbeam" and accepted.json()["role"] == "ARTIST"
    members = http.get("/studio/members?role=ARTIST", headers=_bearer(admin)).json()["items"]
    assert [m["email"] for m in members] == [invitee]
