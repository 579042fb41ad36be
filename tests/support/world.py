"""One moto world for a whole test module (``scope="module"`` fixtures that build studios once).

The per-test ``aws`` fixture of ``tests/conftest.py`` does the same for one test; a module whose tests
share their studios, assets and jobs builds them once inside :func:`moto_world`::

    @pytest.fixture(scope="module")
    def world() -> Iterator[World]:
        with moto_world() as api:
            admin = register_studio(api, studio_name="Fav Studio")
            yield World(api, admin)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.api import ApiClient


@contextmanager
def moto_world(*, execute_state_machines: bool = False) -> Iterator[ApiClient]:
    """The base environment, moto's ``mock_aws`` with Keyframe's tables, buckets, queue and secret
    (:func:`tests.support.aws.create_resources`), passwords hashed at argon2's lowest cost and the
    settings read afresh, until the block ends; PynamoDB's cached connections are dropped on the way
    in and out (they would point at the previous mock). Yields a client over the real gateway,
    authorizer and handlers.

    ``execute_state_machines``: moto runs the states of a started Step Functions execution (as the
    per-test ``aws`` fixture does) instead of leaving it RUNNING."""
    from moto import mock_aws
    from moto.core.config import DefaultConfig

    from keyframe import settings
    from tests.conftest import _reset_pynamodb_connections
    from tests.support import environment
    from tests.support.aws import create_resources
    from tests.support.identity import fast_password_hashing

    environment.apply()
    config: DefaultConfig | None = (
        {"stepfunctions": {"execute_state_machine": True}} if execute_state_machines else None
    )
    with mock_aws(config=config), pytest.MonkeyPatch.context() as mp:
        _reset_pynamodb_connections()
        create_resources()
        fast_password_hashing(mp)
        settings.reset()
        yield ApiClient()
    _reset_pynamodb_connections()
