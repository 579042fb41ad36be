"""Fixtures of the live review integration tests (see :mod:`tests.integration.live.support`)."""

from tests.integration.live.support import connections_api, live

__all__ = ["connections_api", "live"]
