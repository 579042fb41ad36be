"""Sessions (issue 9.6): signing out ends the access token at once; a refresh token replayed within
the grace window gets the same new pair (two tabs refreshing at once stay signed in); any other reuse
still revokes the whole session, its access tokens included."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from keyframe import clock as keyframe_clock
from keyframe import settings
from keyframe.storage.tables import TENANTS, table_name
from tests.support.identity import login, register_studio


def _refresh(api, token: str):
    return api.post("/auth/refresh", json={"refreshToken": token})


def _family(token: str) -> dict:
    pk = "REFRESH#" + token.split(".", maxsplit=1)[0]
    table = boto3.resource("dynamodb").Table(table_name(TENANTS))
    [item] = table.query(KeyConditionExpression=Key("pk").eq(pk), ConsistentRead=True)["Items"]
    return item


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """The clock (:mod:`keyframe.clock`), stopped at the real time of the test's start: ``clock(seconds)``
    moves it on (so a slow machine cannot stretch the seconds between two requests)."""
    now = [time.time()]
    monkeypatch.setattr(keyframe_clock, "now", lambda: datetime.fromtimestamp(now[0], UTC))

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def test_logout_ends_the_access_token_at_once_and_only_that_sessions(api) -> None:
    # Given a member signed in twice (two devices), both access tokens working
    admin = register_studio(api)
    other_device = login(api, admin.email)
    assert api.get("/me", token=admin.access_token).status == 200
    # When the first device signs out
    assert api.post("/auth/logout", json={"refreshToken": admin.refresh_token}).status == 204
    # Then its access token is refused on the very next request, in the one error shape
    refused = api.get("/me", token=admin.access_token)
    assert refused.status == 401, refused.body
    assert set(refused.json()["error"]) >= {"code", "message", "correlationId"}
    # And the other device's session goes on
    assert api.get("/me", token=other_device.access_token).status == 200
    assert _refresh(api, other_device.refresh_token).status == 200


def test_logout_with_a_refreshed_token_ends_every_access_token_of_the_session(api) -> None:
    admin = register_studio(api)
    rotated = _refresh(api, admin.refresh_token).json()
    assert api.post("/auth/logout", json={"refreshToken": rotated["refreshToken"]}).status == 204
    assert api.get("/me", token=admin.access_token).status == 401
    assert api.get("/me", token=rotated["accessToken"]).status == 401


def test_a_second_refresh_within_the_grace_window_gets_the_same_new_pair(api, clock) -> None:
    # Given a refresh token refreshed once
    admin = register_studio(api)
    first = _refresh(api, admin.refresh_token)
    assert first.status == 200
    # When the same token is presented again 9 s later (the other tab)
    clock(9)
    second = _refresh(api, admin.refresh_token)
    # Then it gets the same new pair, which works, and the session is not revoked
    assert second.status == 200, second.body
    assert second.json()["refreshToken"] == first.json()["refreshToken"]
    assert second.json()["accessToken"] == first.json()["accessToken"]
    assert (first.json()["expiresIn"], second.json()["expiresIn"]) == (900, 891)
    assert api.get("/me", token=second.json()["accessToken"]).status == 200
    assert api.get("/me", token=admin.access_token).status == 200
    third = _refresh(api, second.json()["refreshToken"])
    assert third.status == 200 and third.json()["refreshToken"] != first.json()["refreshToken"]
    # And the family was rotated twice, never revoked, and never holds a token in clear
    family = _family(admin.refresh_token)
    assert int(family["generation"]) == 2 and family["revoked"] is False
    for token in (admin.refresh_token, first.json()["refreshToken"], third.json()["refreshToken"]):
        assert token.split(".")[1] not in str(family)


def test_reuse_after_the_grace_window_revokes_the_session_and_its_access_tokens(api, clock) -> None:
    # Given a token refreshed once, and the window (10 s) passed
    admin = register_studio(api)
    rotated = _refresh(api, admin.refresh_token).json()
    clock(11)
    # When the old token is presented again
    replay = _refresh(api, admin.refresh_token)
    # Then 401 REFRESH_TOKEN_REUSED, the current refresh token is dead, and so is every access token
    assert replay.status == 401 and replay.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    assert _refresh(api, rotated["refreshToken"]).status == 401
    assert api.get("/me", token=rotated["accessToken"]).status == 401


def test_a_token_two_rotations_old_is_reuse_even_within_the_window(api) -> None:
    admin = register_studio(api)
    first = _refresh(api, admin.refresh_token).json()
    second = _refresh(api, first["refreshToken"]).json()
    replay = _refresh(api, admin.refresh_token)
    assert replay.status == 401 and replay.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    assert _refresh(api, second["refreshToken"]).status == 401


def test_a_grace_window_of_zero_makes_any_reuse_revoke(api, monkeypatch) -> None:
    monkeypatch.setenv("REFRESH_REUSE_GRACE_SECONDS", "0")
    settings.reset()
    admin = register_studio(api)
    rotated = _refresh(api, admin.refresh_token).json()
    assert _refresh(api, admin.refresh_token).json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    assert _refresh(api, rotated["refreshToken"]).status == 401


def test_after_logout_no_token_of_the_session_refreshes_even_within_the_window(api) -> None:
    admin = register_studio(api)
    rotated = _refresh(api, admin.refresh_token).json()
    assert api.post("/auth/logout", json={"refreshToken": rotated["refreshToken"]}).status == 204
    assert _refresh(api, admin.refresh_token).status == 401
    assert _refresh(api, rotated["refreshToken"]).status == 401


def test_two_tabs_refreshing_at_once_both_stay_signed_in(api, atomic_dynamodb) -> None:
    # Given one refresh token shared by several tabs
    admin = register_studio(api)

    # When 8 tabs refresh with it at the same moment
    def use(_: int):
        return _refresh(api, admin.refresh_token)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(use, range(8)))

    # Then every tab gets 200 and the same pair: one rotation happened, and nobody was signed out
    assert [r.status for r in responses] == [200] * 8, [r.body for r in responses]
    assert len({r.json()["refreshToken"] for r in responses}) == 1
    assert len({r.json()["accessToken"] for r in responses}) == 1
    assert int(_family(admin.refresh_token)["generation"]) == 1
    pair = responses[0].json()
    assert api.get("/me", token=pair["accessToken"]).status == 200
    assert _refresh(api, pair["refreshToken"]).status == 200
