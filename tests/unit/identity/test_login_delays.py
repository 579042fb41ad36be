"""The waits of one (account, address) pair after failed sign-ins (no network)."""

from __future__ import annotations

from keyframe.identity.throttle import delay_after
from keyframe.settings import AuthSettings, load


def _settings(**overrides: object) -> AuthSettings:
    return load(AuthSettings).model_copy(update=overrides)


def test_no_wait_before_the_limit_then_doubling_up_to_the_cap() -> None:
    settings = _settings(LOGIN_MAX_FAILURES=5, LOGIN_LOCKOUT_SECONDS=300)
    waits = [delay_after(n, settings) for n in range(1, 16)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_the_cap_holds_for_very_many_failures() -> None:
    assert delay_after(10_000, _settings(LOGIN_MAX_FAILURES=1, LOGIN_LOCKOUT_SECONDS=60)) == 60
