"""Fixtures of the notification integration tests: the live fixtures, so delivery can be asserted,
and a fresh SES client per test (each test has its own moto world)."""

import pytest

from keyframe.mail import sender
from tests.integration.live.support import connections_api, live

__all__ = ["connections_api", "live"]


@pytest.fixture(autouse=True)
def _fresh_mail_client() -> None:
    sender._client.cache_clear()
