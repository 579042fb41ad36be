"""End-to-end harness: one ``python -m keyframe.local`` for the e2e tests, spoken to over the network.

Every e2e module declares ``pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]`` so that
under ``pytest -n 2 --dist loadgroup`` all of them run on one worker and share one stack
(``test_restart.py``, which starts stacks of its own, is its own group ``e2e-restart``). The modules
of the later features (load, scene renders, people, notifications, webhooks, outbox) are the group
``e2e-features``: a second chain that xdist can run on the other worker, with that worker's own stack
(the e2e chain alone outlasted everything else). Modules and tests marked ``slow`` (scene renders,
browser, schemathesis, load, restarts, hundreds of concurrent requests) run in ``make test-slow``,
not ``make test``; in that run the same groups apply. The stack
listens on free ports (``MOTO_PORT``/``KEYFRAME_HTTP_PORT``/``KEYFRAME_WS_PORT`` = 0) with a temporary
state folder, so it never collides with a ``make dev`` running on 3000/3001/4566.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_stack import BaseUrlSession, LocalStackProcess, start_local_stack

__all__ = ["BaseUrlSession", "LocalStackProcess"]
"""The e2e modules import the stack's types from here (they live in :mod:`tests.support.local_stack`)."""

_STACK_KEY = pytest.StashKey["LocalStackProcess"]()


@pytest.fixture(scope="session")
def local_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStackProcess]:
    """Start ``python -m keyframe.local`` on free ports (INFO logging, as ``make dev`` runs, so every
    log call on a request path runs); wait for ``GET /ready`` = 200 (60 s)."""
    stack = start_local_stack(tmp_path_factory.mktemp("local-stack"))
    request.config.stash[_STACK_KEY] = stack
    try:
        yield stack
    finally:
        stack.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Attach the stack's log tail to every failing e2e test report."""
    outcome = yield
    report = outcome.get_result()
    stack = item.config.stash.get(_STACK_KEY, None)
    if report.failed and stack is not None and "local_stack" in getattr(item, "fixturenames", ()):
        report.sections.append(("local stack log (tail)", stack.log_tail()))


@pytest.fixture
def http(local_stack: LocalStackProcess) -> Iterator[BaseUrlSession]:
    """A fresh HTTP session against the stack's API (``http.get("/health")``)."""
    with BaseUrlSession(local_stack.http_url) as session:
        yield session
