"""Fixtures of the notification integration tests: the live fixtures, so delivery can be asserted."""

from tests.integration.live.support import connections_api, live

__all__ = ["connections_api", "live"]
