"""Root fixtures: a clean environment for every test, moto resources and the API client."""

from __future__ import annotations

from collections.abc import Iterator

import moto.core.models  # noqa: F401 - first: every botocore client made after it carries moto's stubber
import pytest

from tests.support import botocore_models, environment

environment.apply()
botocore_models.share_loader()
botocore_models.share_secrets_provider()


_LOADGROUP_BROKEN = pytest.StashKey[str]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Notice when ``--dist loadgroup`` would not keep an ``xdist_group`` on one worker.

    The e2e modules share one local stack and the infrastructure modules one CDK synth per worker;
    if the grouping silently stops working (pytest 9.2 with pytest-xdist 3.8, pytest-xdist#1386),
    both are paid twice. xdist marks a grouped test by appending ``@<group>`` to its node id.
    """
    if not getattr(session.config.option, "loadgroup", False):
        return
    for item in session.items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid.rpartition("::")[2]:
            session.config.stash[_LOADGROUP_BROKEN] = (
                f"--dist loadgroup has no effect ({item.nodeid} carries no @group suffix): this "
                "pytest / pytest-xdist pair ignores xdist_group; see the pytest pin in pyproject.toml"
            )
            return


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each module that shares a module-scoped fixture (a moto world, a synthesized document)
    on one xdist worker, as if it declared ``xdist_group(<module>)``, and every test of the one CDK
    synth (the session fixture ``synthesis``) in the ``infra`` group, as most infrastructure modules
    declare (a module that forgets it made the other worker synthesize too).

    ``--dist loadgroup`` hands ungrouped tests out one by one, so such a module's tests were split
    between both workers and each built the fixture. Runs before xdist turns groups into node id
    suffixes (``tryfirst``); a module that names a group keeps its own.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        if "synthesis" in getattr(item, "fixturenames", ()):
            # the session-scoped CDK synth (tests/infrastructure/conftest.py): ~16 s, once per worker
            item.add_marker(pytest.mark.xdist_group("infra"))
            continue
        info = getattr(item, "_fixtureinfo", None)
        definitions = info.name2fixturedefs.values() if info is not None else ()
        if any(d and d[-1].scope == "module" for d in definitions):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail every grouped test, with the reason, when the grouping is broken (see above)."""
    problem = item.config.stash.get(_LOADGROUP_BROKEN, None)
    if problem and item.get_closest_marker("xdist_group"):
        pytest.fail(problem, pytrace=False)


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts from the base environment with no cached settings or secrets."""
    from aws_lambda_powertools.utilities import parameters

    from keyframe import settings

    for key, value in environment.BASE_ENV.items():
        monkeypatch.setenv(key, value)
    settings.reset()
    parameters.clear_caches()
    yield
    settings.reset()
    parameters.clear_caches()


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's ``mock_aws`` with Keyframe's tables, media bucket and signing secret created."""
    from moto import mock_aws

    from keyframe.local.atomic import make_dynamodb_atomic
    from keyframe.local.dynamodb_json import answer_items_as_json
    from tests.support.aws import create_resources

    make_dynamodb_atomic()
    answer_items_as_json()

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        create_resources()
        yield


def _reset_pynamodb_connections() -> None:
    """Drop every PynamoDB model's connection (and so its botocore client).

    Not needed between moto worlds: moto's stubber is a botocore handler of every client made after
    moto is imported, so a model's client from an earlier world talks to the current one (the ``aws``
    fixture keeps them: building ~8 clients per test was a quarter of an integration test's CPU).
    """
    from pynamodb.models import Model

    stack = list(Model.__subclasses__())
    while stack:
        cls = stack.pop()
        cls._connection = None
        stack.extend(cls.__subclasses__())


@pytest.fixture(autouse=True)
def _fast_passwords(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at minimal cost in every test but the identity unit tests of the real parameters."""
    from tests.support.identity import fast_password_hashing

    if "unit/identity" not in str(request.node.path):
        fast_password_hashing(monkeypatch)


@pytest.fixture
def api(aws: None):
    """An :class:`tests.support.api.ApiClient` over the real gateway, authorizer and handlers."""
    from tests.support.api import ApiClient

    return ApiClient()
