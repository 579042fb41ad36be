"""Signed-in sessions for any integration test: register a studio, add members in any role.

Everything goes through the public API (``api`` fixture), exactly as a client would::

    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    api.get("/studio/members", token=artist.access_token)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

DEFAULT_PASSWORD = "correct-horse-battery-staple"
"""The password of every account these helpers create (at least 12 characters)."""


@dataclass
class Session:
    """A signed-in member of one studio.

    Attributes
    ----------
    access_token:
        The JWT to send as ``token=`` (``Authorization: Bearer ...``).
    refresh_token:
        The current single-use refresh token.
    studio_id, user_id, role:
        Who and where (``role`` as the API returned it, e.g. ``"ADMIN"``).
    email, password:
        The account's credentials (to sign in again).
    """

    access_token: str
    refresh_token: str
    studio_id: str
    user_id: str
    role: str
    email: str
    password: str


def unique_email(prefix: str = "user") -> str:
    """A fresh address, different on every call (``{prefix}-{random}@example.com``)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def session_from(body: dict[str, Any], email: str, password: str) -> Session:
    """A :class:`Session` from a login-shaped answer (register, login, refresh, accept-invitation)."""
    return Session(
        access_token=body["accessToken"],
        refresh_token=body["refreshToken"],
        studio_id=body["studio"]["studioId"],
        user_id=body["user"]["userId"],
        role=body["role"],
        email=email,
        password=password,
    )


def _expect(response: Any, status: int, what: str) -> dict[str, Any]:
    if response.status != status:
        raise AssertionError(f"{what}: expected {status}, got {response.status}: {response.body[:500]!r}")
    return response.json()


def register_studio(
    api: Any,
    *,
    studio_name: str = "Studio",
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
    display_name: str = "Studio Admin",
) -> Session:
    """``POST /auth/register``: a new studio whose first ADMIN is signed in (unique e-mail per call)."""
    email = email or unique_email("admin")
    body = {"studioName": studio_name, "email": email, "password": password, "displayName": display_name}
    return session_from(_expect(api.post("/auth/register", json=body), 201, "register"), email, password)


def invite(api: Any, admin: Session, role: str, *, email: str | None = None) -> dict[str, Any]:
    """``POST /studio/invitations`` as ``admin``; returns the answer with ``token`` added from the
    invitation e-mail's link (the API answers the token only on the local stack)."""
    email = email or unique_email(str(role).lower())
    response = api.post(
        "/studio/invitations", json={"email": email, "role": str(role)}, token=admin.access_token
    )
    answer = _expect(response, 201, "invite")
    if not answer.get("token"):
        answer["token"] = mailed_token(email)
    return answer


def mailed_token(email: str, path: str = "/invitations/accept") -> str:
    """The ``token`` of the newest e-mail link to ``path`` sent to ``email`` (moto's SES, in-process)."""
    from urllib.parse import parse_qs, urlsplit

    from keyframe.local import mailbox

    for message in mailbox.messages(to=email):
        for link in message.links:
            parts = urlsplit(link)
            if parts.path == path:
                return parse_qs(parts.query)["token"][0]
    raise AssertionError(f"no e-mail to {email} with a link to {path}")


def accept(
    api: Any, token: str, email: str, *, password: str = DEFAULT_PASSWORD, display_name: str | None = "Member"
) -> Session:
    """``POST /auth/accept-invitation`` with ``token``; ``email`` is the invited address."""
    body: dict[str, Any] = {"token": token, "password": password}
    if display_name is not None:
        body["displayName"] = display_name
    answer = _expect(api.post("/auth/accept-invitation", json=body), 201, "accept invitation")
    return session_from(answer, email, password)


def add_member(
    api: Any, admin: Session, role: str, *, email: str | None = None, password: str = DEFAULT_PASSWORD
) -> Session:
    """Invite a member with ``role`` into ``admin``'s studio and accept through the API.

    With ``email`` of an existing account, ``password`` must be that account's password (the
    account then gains the membership); otherwise a new account is created.
    """
    invitation = invite(api, admin, role, email=email)
    return accept(api, invitation["token"], invitation["email"], password=password)


def login(api: Any, email: str, password: str = DEFAULT_PASSWORD, *, studio_id: str | None = None) -> Session:
    """``POST /auth/login`` (optionally into ``studio_id``)."""
    body: dict[str, Any] = {"email": email, "password": password}
    if studio_id:
        body["studioId"] = studio_id
    return session_from(_expect(api.post("/auth/login", json=body), 200, "login"), email, password)


def fast_password_hashing(monkeypatch: Any) -> None:
    """Hash passwords with argon2id at its lowest cost for the rest of the test (``monkeypatch``).

    Production parameters cost about 0.15 s per hash or check on this machine's cores; tests that
    sign many people in do not need that strength. Use from a fixture::

        @pytest.fixture(autouse=True)
        def _fast_passwords(monkeypatch):
            fast_password_hashing(monkeypatch)
    """
    from argon2 import PasswordHasher

    from keyframe.identity import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    dummy = cheap.hash("not anyone's password")
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)
