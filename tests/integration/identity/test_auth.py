"""Sign-up, sign-in, /me, refresh-token rotation with reuse detection, sign-out, throttling."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from keyframe import clock
from keyframe.identity import service
from keyframe.storage.tables import TENANTS, table_name
from tests.support.identity import (
    DEFAULT_PASSWORD,
    add_member,
    login,
    register_studio,
    unique_email,
)


def _partition(pk: str) -> list[dict]:
    return (
        boto3.resource("dynamodb")
        .Table(table_name(TENANTS))
        .query(KeyConditionExpression=Key("pk").eq(pk), ConsistentRead=True)["Items"]
    )


# ---------------------------------------------------------------- register, login, /me


def test_register_creates_a_studio_whose_creator_is_admin(api):
    # Given / When
    email = unique_email()
    response = api.post(
        "/auth/register",
        json={
            "studioName": "Moonlight Animation",
            "email": email,
            "password": DEFAULT_PASSWORD,
            "displayName": "Ana",
        },
    )

    # Then the answer has the login shape
    assert response.status == 201
    body = response.json()
    assert body["role"] == "ADMIN"
    assert body["studio"]["name"] == "Moonlight Animation"
    assert body["user"] == {
        "userId": body["user"]["userId"],
        "email": email,
        "displayName": "Ana",
        "createdAt": body["user"]["createdAt"],
        "avatarUrl": None,  # no profile picture yet
    }
    assert body["expiresIn"] == 900 and body["tokenType"] == "Bearer"
    assert body["accessToken"].count(".") == 2 and body["refreshToken"]

    # And the access token works on /me
    me = api.get("/me", token=body["accessToken"])
    assert me.status == 200
    assert me.json() == {
        "user": body["user"],
        "studio": body["studio"],
        "role": "ADMIN",
        "unreadNotifications": 0,
    }


def test_login_with_mixed_case_email_and_me(api):
    # Given a studio registered with a mixed-case e-mail
    email = f"Ana.{uuid.uuid4().hex[:8]}@Example.COM"
    admin = register_studio(api, studio_name="Moonlight", email=email)

    # When signing in with another casing
    response = api.post("/auth/login", json={"email": email.upper(), "password": DEFAULT_PASSWORD})

    # Then it is the same account, stored lowercase
    assert response.status == 200
    body = response.json()
    assert body["user"]["email"] == email.lower()
    assert body["user"]["userId"] == admin.user_id
    assert body["studio"]["studioId"] == admin.studio_id
    assert body["role"] == "ADMIN"


def test_wrong_password_and_unknown_email_get_the_same_answer(api):
    # Given
    admin = register_studio(api)

    # When
    wrong = api.post("/auth/login", json={"email": admin.email, "password": "wrong-password-123"})
    unknown = api.post("/auth/login", json={"email": unique_email(), "password": DEFAULT_PASSWORD})

    # Then both are 401 with the same code and message
    assert wrong.status == unknown.status == 401
    assert {k: v for k, v in wrong.json()["error"].items() if k != "correlationId"} == {
        k: v for k, v in unknown.json()["error"].items() if k != "correlationId"
    }
    assert wrong.json()["error"]["message"] == "Invalid email or password"


def test_freelancer_in_two_studios(api):
    # Given an ADMIN of studio A who is then invited to studio B as ARTIST (existing account)
    a = register_studio(api, studio_name="Studio A")
    b_admin = register_studio(api, studio_name="Studio B")
    in_b = add_member(api, b_admin, "ARTIST", email=a.email)

    # Then /me/studios lists both with the role in each
    studios = api.get("/me/studios", token=in_b.access_token)
    assert studios.status == 200
    listed = {item["studio"]["name"]: item["role"] for item in studios.json()["items"]}
    assert listed == {"Studio A": "ADMIN", "Studio B": "ARTIST"}

    # And a login without studioId lands in the most recently used studio (B, joined last)
    assert login(api, a.email).studio_id == b_admin.studio_id

    # And a login with studioId picks that studio, which then becomes the most recently used
    in_a = login(api, a.email, studio_id=a.studio_id)
    assert (in_a.studio_id, in_a.role) == (a.studio_id, "ADMIN")
    assert login(api, a.email).studio_id == a.studio_id
    assert (
        api.get("/me/studios", token=in_a.access_token).json()["items"][0]["studio"]["studioId"]
        == a.studio_id
    )

    # And each access token is for its studio only
    assert api.get("/me", token=in_b.access_token).json()["studio"]["name"] == "Studio B"
    assert api.get("/me", token=in_a.access_token).json()["studio"]["name"] == "Studio A"


def test_login_into_a_studio_the_user_is_not_in_looks_like_a_bad_password(api):
    # Given two unrelated studios
    a = register_studio(api)
    b = register_studio(api)

    # When A's admin asks for a token in B
    response = api.post(
        "/auth/login", json={"email": a.email, "password": a.password, "studioId": b.studio_id}
    )

    # Then 401 with the same message as a wrong password
    assert response.status == 401
    assert response.json()["error"]["message"] == "Invalid email or password"


def test_duplicate_registration_is_refused_and_leaves_nothing_behind(api, monkeypatch):
    # Given an account with this e-mail, and a spy on the ids the next registration draws
    first = register_studio(api, studio_name="First")
    drawn: list[str] = []
    original = service.uuid.uuid4

    def spy():
        value = original()
        drawn.append(str(value))
        return value

    monkeypatch.setattr(service, "uuid", SimpleNamespace(uuid4=spy))

    # When someone registers another studio with the same e-mail (other casing)
    response = api.post(
        "/auth/register",
        json={
            "studioName": "Ghost",
            "email": first.email.upper(),
            "password": DEFAULT_PASSWORD,
            "displayName": "X",
        },
    )

    # Then 409 naming the e-mail
    assert response.status == 409
    assert response.json()["error"]["code"] == "EMAIL_TAKEN"
    assert response.json()["error"]["details"]["fields"][0]["field"] == "email"

    # And neither the studio nor the user nor a membership it would have created exists
    assert drawn, "the registration drew ids"
    for drawn_id in drawn:
        assert _partition(f"STUDIO#{drawn_id}") == []
        assert _partition(f"USER#{drawn_id}") == []

    # And the first account is untouched
    assert login(api, first.email).studio_id == first.studio_id


# ---------------------------------------------------------------- refresh, reuse, logout


def test_refresh_rotates_the_pair(api):
    # Given
    admin = register_studio(api)

    # When
    first = api.post("/auth/refresh", json={"refreshToken": admin.refresh_token})
    second = api.post("/auth/refresh", json={"refreshToken": first.json()["refreshToken"]})

    # Then each refresh gives a new pair that works
    assert first.status == second.status == 200
    tokens = {admin.refresh_token, first.json()["refreshToken"], second.json()["refreshToken"]}
    assert len(tokens) == 3
    assert first.json()["accessToken"] != admin.access_token
    assert api.get("/me", token=second.json()["accessToken"]).status == 200
    assert second.json()["role"] == "ADMIN" and second.json()["studio"]["studioId"] == admin.studio_id


def test_reused_refresh_token_revokes_the_whole_family(api, monkeypatch):
    # Given a token that was rotated once (the thief keeps the old one)
    admin = register_studio(api)
    rotated = api.post("/auth/refresh", json={"refreshToken": admin.refresh_token}).json()["refreshToken"]

    # When the old token is presented again after the grace window (10 s; within it, see test_sessions)
    later = datetime.fromtimestamp(time.time() + 11, UTC)
    monkeypatch.setattr(clock, "now", lambda: later)
    replay = api.post("/auth/refresh", json={"refreshToken": admin.refresh_token})

    # Then 401, and the current token of the family stops working too
    assert replay.status == 401
    assert replay.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    assert api.post("/auth/refresh", json={"refreshToken": rotated}).status == 401

    # And other sessions of the same user are not affected
    other = login(api, admin.email)
    assert api.post("/auth/refresh", json={"refreshToken": other.refresh_token}).status == 200


@pytest.mark.parametrize(
    "token",
    ["garbage", "abc.def", "0123456789abcdef0123456789abcdef.forged-secret", "../../x.y"],
)
def test_unknown_refresh_tokens_are_401(api, token):
    register_studio(api)
    assert api.post("/auth/refresh", json={"refreshToken": token}).status == 401


def test_forged_secret_for_a_real_family_revokes_it(api):
    # Given a real family id with a made-up secret
    admin = register_studio(api)
    family_id = admin.refresh_token.split(".")[0]

    # When / Then the forgery is refused and the family is revoked (someone knows its id)
    assert api.post("/auth/refresh", json={"refreshToken": f"{family_id}.made-up"}).status == 401
    assert api.post("/auth/refresh", json={"refreshToken": admin.refresh_token}).status == 401


def test_twenty_concurrent_refreshes_of_one_token_rotate_it_exactly_once(api, atomic_dynamodb):
    # Given one refresh token
    admin = register_studio(api)

    # When 20 clients present it at the same time (within the grace window: issue 9.6)
    def use(_: int):
        return api.post("/auth/refresh", json={"refreshToken": admin.refresh_token})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(use, range(20)))

    # Then exactly one rotation happened: every client got the winner's pair
    assert sorted(r.status for r in responses) == [200] * 20
    assert len({(r.json()["refreshToken"], r.json()["accessToken"]) for r in responses}) == 1
    family_id = admin.refresh_token.split(".")[0]
    [family] = _partition(f"REFRESH#{family_id}")
    assert int(family["generation"]) == 1 and family["revoked"] is False

    # And that pair goes on working
    winner = responses[0].json()
    assert api.post("/auth/refresh", json={"refreshToken": winner["refreshToken"]}).status == 200


def test_logout_revokes_the_family(api):
    # Given a session rotated once
    admin = register_studio(api)
    current = api.post("/auth/refresh", json={"refreshToken": admin.refresh_token}).json()["refreshToken"]

    # When signing out with the current token
    response = api.post("/auth/logout", json={"refreshToken": current})

    # Then 204 with no body, and the token no longer refreshes
    assert response.status == 204 and response.body == b""
    assert api.post("/auth/refresh", json={"refreshToken": current}).status == 401

    # And signing out twice, or with an unknown token, is still 204
    assert api.post("/auth/logout", json={"refreshToken": current}).status == 204
    assert api.post("/auth/logout", json={"refreshToken": "unknown.token"}).status == 204


def test_refresh_tokens_are_stored_only_as_hashes_with_a_ttl(api):
    # Given
    admin = register_studio(api)
    family_id = admin.refresh_token.split(".")[0]

    # When the family item is read
    [item] = _partition(f"REFRESH#{family_id}")

    # Then it holds a SHA-256 hex digest, never the token, and expires
    assert admin.refresh_token not in str(item)
    assert admin.refresh_token.split(".")[1] not in str(item)
    assert len(item["tokenHash"]) == 64
    assert int(item["ttl"]) > 0 and item["studioId"] == admin.studio_id


# ---------------------------------------------------------------- throttling


def test_repeated_failures_lock_the_email_with_retry_after(api):
    # Given an account
    admin = register_studio(api)

    # When the password is wrong five times (LOGIN_MAX_FAILURES)
    for _ in range(5):
        assert (
            api.post("/auth/login", json={"email": admin.email, "password": "wrong-password-1"}).status == 401
        )

    # Then even the right password is answered 429 with Retry-After within the lockout window
    locked = api.post("/auth/login", json={"email": admin.email, "password": admin.password})
    assert locked.status == 429
    assert locked.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert 0 < int(locked.headers["Retry-After"]) <= 300

    # And other accounts are not affected
    other = register_studio(api)
    assert login(api, other.email).user_id == other.user_id


def test_unknown_emails_are_throttled_the_same_way(api):
    # Given an address with no account
    email = unique_email("nobody")

    # When / Then 401 five times then 429: the same as a real account
    for _ in range(5):
        assert api.post("/auth/login", json={"email": email, "password": "wrong-password-1"}).status == 401
    response = api.post("/auth/login", json={"email": email, "password": "wrong-password-1"})
    assert response.status == 429 and "Retry-After" in response.headers


def test_a_success_clears_earlier_failures(api):
    # Given four failures then a success
    admin = register_studio(api)
    for _ in range(4):
        api.post("/auth/login", json={"email": admin.email, "password": "wrong-password-1"})
    login(api, admin.email)

    # When four more failures happen
    for _ in range(4):
        assert (
            api.post("/auth/login", json={"email": admin.email, "password": "wrong-password-1"}).status == 401
        )

    # Then the account is not locked
    assert login(api, admin.email).user_id == admin.user_id
