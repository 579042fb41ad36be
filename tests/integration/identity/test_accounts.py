"""Accounts: change the password, reset it by e-mail, list and end sessions (the authorizer
refuses a removed session's access token at once)."""

from __future__ import annotations

import time

import pytest

from keyframe.identity.models import RESET_SK, PasswordResetItem, reset_pk
from keyframe.local import mailbox
from tests.support.identity import (
    DEFAULT_PASSWORD,
    add_member,
    login,
    mailed_token,
    register_studio,
    unique_email,
)

NEW_PASSWORD = "a-brand-new-long-passphrase"


def _me(api, session) -> int:
    return api.get("/me", token=session.access_token).status


def test_password_change_keeps_this_session_and_ends_the_others(api):
    # Given one account signed in twice
    here = register_studio(api)
    elsewhere = login(api, here.email)

    # When it changes its password from the first session
    response = api.post(
        "/me/password",
        json={"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
        token=here.access_token,
    )

    # Then the other session is refused at once, this one goes on, and only the new password works
    assert response.status == 200 and response.json()["sessionsRevoked"] == 1
    assert _me(api, elsewhere) == 401 and _me(api, here) == 200
    assert api.post("/auth/login", json={"email": here.email, "password": DEFAULT_PASSWORD}).status == 401
    assert login(api, here.email, NEW_PASSWORD).user_id == here.user_id


def test_password_change_needs_the_current_password_and_a_good_new_one(api):
    me = register_studio(api)
    wrong = api.post(
        "/me/password",
        json={"currentPassword": "not-my-password", "newPassword": NEW_PASSWORD},
        token=me.access_token,
    )
    assert wrong.status == 401
    common = api.post(
        "/me/password",
        json={"currentPassword": DEFAULT_PASSWORD, "newPassword": "password1234"},
        token=me.access_token,
    )
    assert common.status == 400 and common.json()["error"]["details"]["fields"][0]["field"] == "newPassword"
    short = api.post(
        "/me/password",
        json={"currentPassword": DEFAULT_PASSWORD, "newPassword": "short"},
        token=me.access_token,
    )
    assert short.status == 400


def test_register_refuses_a_common_password(api):
    body = {"studioName": "S", "email": unique_email(), "password": "Password1234", "displayName": "D"}
    response = api.post("/auth/register", json=body)
    assert response.status == 400 and "common" in response.body.decode()


def test_reset_by_email_sets_the_password_and_ends_every_session(api):
    # Given an account signed in on two devices
    me = register_studio(api)
    other = login(api, me.email)

    # When a reset is asked for and the e-mailed link is used
    asked = api.post("/auth/password-reset", json={"email": me.email})
    assert asked.status == 202
    (message,) = mailbox.messages(to=me.email)
    assert message.subject == "Reset your Keyframe password" and "30 minutes" in message.text
    token = mailed_token(me.email, "/reset-password")
    done = api.post("/auth/password-reset/confirm", json={"token": token, "newPassword": NEW_PASSWORD})

    # Then both old sessions stop at once and the new password signs in
    assert done.status == 200 and done.json()["sessionsRevoked"] == 2
    assert _me(api, me) == 401 and _me(api, other) == 401
    assert login(api, me.email, NEW_PASSWORD).user_id == me.user_id

    # And the link is single use: 410
    again = api.post(
        "/auth/password-reset/confirm", json={"token": token, "newPassword": "yet-another-passphrase"}
    )
    assert again.status == 410 and again.json()["error"]["code"] == "RESET_TOKEN_USED"


def test_an_expired_or_forged_reset_link_is_refused(api):
    me = register_studio(api)
    api.post("/auth/password-reset", json={"email": me.email})
    token = mailed_token(me.email, "/reset-password")
    item = PasswordResetItem.get(reset_pk(token.split(".")[0]), RESET_SK)
    item.update(actions=[PasswordResetItem.expires_at.set(int(time.time()) - 1)])
    expired = api.post("/auth/password-reset/confirm", json={"token": token, "newPassword": NEW_PASSWORD})
    assert expired.status == 410 and expired.json()["error"]["code"] == "RESET_TOKEN_EXPIRED"
    forged = api.post(
        "/auth/password-reset/confirm", json={"token": token + "x", "newPassword": NEW_PASSWORD}
    )
    assert forged.status == 400 and forged.json()["error"]["code"] == "RESET_TOKEN_INVALID"
    assert _me(api, me) == 200  # nothing changed


def test_reset_for_an_unknown_email_answers_the_same_in_the_same_time(api):
    # Given a known and an unknown address
    me = register_studio(api)
    unknown = unique_email("nobody")

    # When a reset is asked for each
    def ask(email: str) -> tuple[int, bytes, float]:
        started = time.perf_counter()
        response = api.post("/auth/password-reset", json={"email": email})
        return response.status, response.body, time.perf_counter() - started

    known_status, known_body, known_time = ask(me.email)
    unknown_status, unknown_body, unknown_time = ask(unknown)

    # Then the answers are identical, both take at least the configured floor, nothing goes to the stranger
    assert (known_status, known_body) == (unknown_status, unknown_body) == (202, known_body)
    assert known_time >= 0.2 and unknown_time >= 0.2
    assert mailbox.messages(to=unknown) == []


def test_reset_requests_are_throttled(api, monkeypatch: pytest.MonkeyPatch):
    from keyframe import settings

    monkeypatch.setenv("PASSWORD_RESET_MAX_PER_EMAIL", "2")
    monkeypatch.setenv("PASSWORD_RESET_MAX_PER_ADDRESS", "4")
    monkeypatch.setenv("PASSWORD_RESET_MIN_SECONDS", "0")
    settings.reset()
    me = register_studio(api)
    statuses = [api.post("/auth/password-reset", json={"email": me.email}).status for _ in range(5)]
    assert statuses == [202, 202, 202, 202, 429]
    assert len(mailbox.messages(to=me.email)) == 2  # the e-mail's own cap


def test_sessions_are_listed_and_ended_one_by_one_or_everywhere(api):
    # Given one person signed in three times, in two studios
    admin = register_studio(api)
    member = add_member(api, admin, "ARTIST")
    second = login(api, member.email, studio_id=admin.studio_id)
    own = register_studio(api, email=unique_email("own"))
    del own

    # When they list their sessions
    listed = api.get("/me/sessions", token=member.access_token).json()["items"]

    # Then both show, the current one marked
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    current = next(s for s in listed if s["current"])
    other = next(s for s in listed if not s["current"])

    # When they end the other one, its access token is refused at once
    assert api.delete(f"/me/sessions/{other['sessionId']}", token=member.access_token).status == 204
    assert _me(api, second) == 401 and _me(api, member) == 200
    assert api.post("/auth/refresh", json={"refreshToken": second.refresh_token}).status == 401

    # And someone else's session id is not found
    assert api.delete(f"/me/sessions/{current['sessionId']}", token=admin.access_token).status == 404

    # When they sign out everywhere, this session ends too
    assert api.delete("/me/sessions", token=member.access_token).status == 204
    assert _me(api, member) == 401


def test_patch_me_sets_the_display_name_seen_in_every_studio(api):
    admin = register_studio(api)
    response = api.patch("/me", json={"displayName": "Ada L."}, token=admin.access_token)
    assert response.status == 200 and response.json()["displayName"] == "Ada L."
    assert api.get("/me", token=admin.access_token).json()["user"]["displayName"] == "Ada L."
    assert api.patch("/me", json={"displayName": ""}, token=admin.access_token).status == 400
