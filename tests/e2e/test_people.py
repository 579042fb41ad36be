"""People on the local stack, over HTTP: invitations by e-mail through the captured mailbox,
a person in two studios, password reset by e-mail."""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from tests.e2e.conftest import BaseUrlSession

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-features")]

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


def test_a_user_of_another_studio_accepts_with_their_account_and_switches(http: BaseUrlSession) -> None:
    # Given Ada, ADMIN of "Moonbeam", invited to "Sunrise" as DIRECTOR
    ada = _register(http, "Moonbeam", "Ada")
    sunrise = _register(http, "Sunrise", "Sol")
    email = ada["user"]["email"]
    invited = http.post(
        "/studio/invitations", json={"email": email, "role": "DIRECTOR"}, headers=_bearer(sunrise)
    )
    assert invited.status_code == 201, invited.text
    _, link = _mailed_link(http, email, "/invitations/accept")

    # When she accepts with the account she has (her password, no display name)
    token = parse_qs(urlsplit(link).query)["token"][0]
    accepted = http.post("/auth/accept-invitation", json={"token": token, "password": PASSWORD})

    # Then the same account is in both studios
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["user"]["userId"] == ada["user"]["userId"]
    mine = http.get("/me/studios", headers=_bearer(accepted.json())).json()["items"]
    assert {(s["studio"]["name"], s["role"]) for s in mine} == {
        ("Moonbeam", "ADMIN"),
        ("Sunrise", "DIRECTOR"),
    }

    # When she switches back to Moonbeam with her Sunrise token
    switched = http.post(f"/me/studios/{ada['studio']['studioId']}/switch", headers=_bearer(accepted.json()))

    # Then her new token is for Moonbeam as ADMIN
    assert switched.status_code == 200, switched.text
    me = http.get("/me", headers=_bearer(switched.json())).json()
    assert (me["studio"]["name"], me["role"]) == ("Moonbeam", "ADMIN")


def test_a_reset_by_email_works_and_old_sessions_stop_at_once(http: BaseUrlSession) -> None:
    # Given an account signed in on two devices
    first = _register(http, "Moonbeam", "Ada")
    email = first["user"]["email"]
    second = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
    assert http.get("/me", headers=_bearer(second)).status_code == 200

    # When she asks for a reset and follows the e-mailed link
    asked = http.post("/auth/password-reset", json={"email": email})
    assert asked.status_code == 202
    message, link = _mailed_link(http, email, "/reset-password")
    assert message["subject"] == "Reset your Keyframe password"
    token = parse_qs(urlsplit(link).query)["token"][0]
    new_password = "a-brand-new-long-passphrase"
    done = http.post("/auth/password-reset/confirm", json={"token": token, "newPassword": new_password})

    # Then both old sessions stop at once, and the new password signs in
    assert done.status_code == 200, done.text
    assert http.get("/me", headers=_bearer(first)).status_code == 401
    assert http.get("/me", headers=_bearer(second)).status_code == 401
    assert http.post("/auth/refresh", json={"refreshToken": second["refreshToken"]}).status_code == 401
    assert http.post("/auth/login", json={"email": email, "password": new_password}).status_code == 200

    # And the link is single use
    again = http.post(
        "/auth/password-reset/confirm", json={"token": token, "newPassword": "another-long-passphrase"}
    )
    assert again.status_code == 410


def test_a_profile_picture_is_posted_straight_to_the_bucket_and_shown_shrunk(http: BaseUrlSession) -> None:
    # Given Ada, and a JPEG photo on her machine
    ada = _register(http, "Moonbeam", "Ada Admin")
    photo = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 90, 200)).save(photo, format="JPEG")
    # When she starts an upload, POSTs the file to the presigned form as a browser would, and sets it
    form = http.post("/me/avatar/uploads", headers=_bearer(ada))
    assert form.status_code == 201, form.text
    fields = form.json()
    posted = requests.post(
        fields["url"], data=fields["fields"], files={"file": ("me.jpg", photo.getvalue())}, timeout=30
    )
    assert posted.status_code in (200, 204), posted.text
    answer = http.put("/me/avatar", json={"uploadId": fields["uploadId"]}, headers=_bearer(ada))
    # Then /me links a 256x256 WebP that the browser can load
    assert answer.status_code == 200, answer.text
    link = http.get("/me", headers=_bearer(ada)).json()["user"]["avatarUrl"]
    picture = Image.open(io.BytesIO(requests.get(link, timeout=30).content))
    assert (picture.format, picture.size) == ("WEBP", (256, 256))
    # And a text file posted the same way is refused by its bytes
    again = http.post("/me/avatar/uploads", headers=_bearer(ada)).json()
    requests.post(again["url"], data=again["fields"], files={"file": ("x.png", b"not an image")}, timeout=30)
    refused = http.put("/me/avatar", json={"uploadId": again["uploadId"]}, headers=_bearer(ada))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "AVATAR_NOT_AN_IMAGE"
