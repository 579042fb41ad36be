"""Login throttling that cannot be turned against users (issue 9.4): waits grow per (account, client
address); an address spraying many accounts is throttled; a stranger's failures never refuse the
owner's right password from the owner's own address. Refusals are 429 with Retry-After in the one
error shape. The address is API Gateway's ``requestContext.identity.sourceIp``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from keyframe import clock as keyframe_clock
from keyframe import settings
from tests.support.identity import register_studio, unique_email

OWNER = "198.51.100.10"
STRANGER = "203.0.113.66"
WRONG = "wrong-password-1"


def _login(api, email: str, password: str, address: str):
    body = json.dumps({"email": email, "password": password}).encode()
    return api.gateway.handle(
        "POST", "/auth/login", headers={"Content-Type": "application/json"}, body=body, source_ip=address
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """The clock (:mod:`keyframe.clock`), stopped at the test's start: ``clock(seconds)`` moves it on."""
    now = [time.time()]
    monkeypatch.setattr(keyframe_clock, "now", lambda: datetime.fromtimestamp(now[0], UTC))

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def _assert_throttled(response, limit: str) -> int:
    assert response.status == 429, response.body
    error = response.json()["error"]
    assert error["code"] == "TOO_MANY_REQUESTS" and error["correlationId"]
    wait = int(response.headers["Retry-After"])
    assert error["details"] == {"retryAfter": wait, "limit": limit}
    return wait


def test_a_strangers_failures_never_lock_the_owner_out_from_their_own_address(api, clock) -> None:
    # Given an account, and a stranger who tries 30 wrong passwords from their address
    owner = register_studio(api)
    answers = []
    for _ in range(30):
        answers.append(_login(api, owner.email, WRONG, STRANGER).status)
        clock(400)  # the stranger waits out every delay, so each try is checked
    assert set(answers) == {401}
    # When the owner signs in with the right password from their own address
    response = _login(api, owner.email, owner.password, OWNER)
    # Then it works at once
    assert response.status == 200, response.body
    assert response.json()["user"]["userId"] == owner.user_id


def test_failures_from_one_address_make_that_address_wait_longer_and_longer(api, clock) -> None:
    # Given an account
    owner = register_studio(api)
    # When the stranger fails five times (LOGIN_MAX_FAILURES) / Then no wait yet
    for _ in range(4):
        assert _login(api, owner.email, WRONG, STRANGER).status == 401
    # And each further failure makes the next try from that address wait twice as long
    waits = []
    for _ in range(5):
        assert _login(api, owner.email, WRONG, STRANGER).status == 401
        refused = _login(api, owner.email, owner.password, STRANGER)  # even the right password waits
        waits.append(_assert_throttled(refused, "account-address"))
        clock(waits[-1])
    assert waits == [1, 2, 4, 8, 16]
    # And the owner from their own address is not affected meanwhile
    assert _login(api, owner.email, owner.password, OWNER).status == 200


def test_the_wait_is_capped_and_a_success_clears_it(api, clock, monkeypatch) -> None:
    # Given waits capped at 6 s (LOGIN_LOCKOUT_SECONDS), and someone who keeps failing without pause
    monkeypatch.setenv("LOGIN_LOCKOUT_SECONDS", "6")
    monkeypatch.setenv("LOGIN_FAILURE_MEMORY_SECONDS", "60")
    settings.reset()
    owner = register_studio(api)
    for _ in range(4):
        assert _login(api, owner.email, WRONG, OWNER).status == 401
    waits = []
    for _ in range(5):
        assert _login(api, owner.email, WRONG, OWNER).status == 401
        waits.append(_assert_throttled(_login(api, owner.email, WRONG, OWNER), "account-address"))
        clock(waits[-1])
    # Then the waits grow to the cap and stay there: the count is not forgotten while failures go on
    assert waits == [1, 2, 4, 6, 6]
    # When the owner then gets it right / Then the count starts again from zero
    assert _login(api, owner.email, owner.password, OWNER).status == 200
    for _ in range(4):
        assert _login(api, owner.email, WRONG, OWNER).status == 401
    # And failures are forgotten once LOGIN_FAILURE_MEMORY_SECONDS pass without one
    clock(61)
    for _ in range(4):
        assert _login(api, owner.email, WRONG, OWNER).status == 401


def test_an_address_spraying_many_accounts_is_throttled_for_every_account(api) -> None:
    # Given 25 accounts, and an address trying one password on each (LOGIN_ADDRESS_MAX_FAILURES = 20)
    emails = [unique_email("sprayed") for _ in range(24)]
    victim = register_studio(api)
    answers = [_login(api, email, "Winter-2026-sun!", STRANGER) for email in emails]
    # Then the first 20 are plain 401s and the rest 429 for the address
    assert [a.status for a in answers[:20]] == [401] * 20
    for answer in answers[20:]:
        assert 0 < _assert_throttled(answer, "address") <= 300
    # And even a right password from that address waits
    _assert_throttled(_login(api, victim.email, victim.password, STRANGER), "address")
    # While the same accounts sign in from their owners' addresses
    assert _login(api, victim.email, victim.password, OWNER).status == 200


def test_unknown_emails_are_counted_like_known_ones(api, clock) -> None:
    email = unique_email("nobody")
    for _ in range(5):
        assert _login(api, email, WRONG, STRANGER).status == 401
    _assert_throttled(_login(api, email, WRONG, STRANGER), "account-address")


def test_the_local_stack_passes_the_client_address(api) -> None:
    # A request through the gateway without an explicit address is from 127.0.0.1, like the local
    # stack's own; throttling one address leaves another untouched
    owner = register_studio(api)
    for _ in range(5):
        assert api.post("/auth/login", json={"email": owner.email, "password": WRONG}).status == 401
    assert api.post("/auth/login", json={"email": owner.email, "password": owner.password}).status == 429
    assert _login(api, owner.email, owner.password, OWNER).status == 200
