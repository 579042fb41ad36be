"""Fixtures of the reviews integration tests: the live fixtures, so fan-out can be asserted too."""

from tests.integration.live.support import connections_api, live

__all__ = ["connections_api", "live"]
