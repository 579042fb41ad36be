"""Every integration test checks the room events it causes against the live API's contract.

A deliverer registered with the one publisher sees every envelope :func:`keyframe.events.publisher.emit`
sends; each must be a declared event type whose ``data`` validates against its model in
:data:`keyframe.live.contract.EVENTS` and has no undeclared field (so the AsyncAPI document, built from
those models, cannot fall behind the code). The publisher swallows a deliverer's exceptions (delivery
is best effort), so findings are collected and fail the test at teardown. A module that emits
made-up events on purpose (the publisher's own tests) sets ``LIVE_CONTRACT = False``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keyframe.events.deliverers import register_deliverer
from keyframe.live.contract import check_envelope

_findings: list[str] = []


def _check(studio_id: str, envelopes: list[dict[str, Any]]) -> None:
    for envelope in envelopes:
        try:
            check_envelope(envelope)
        except Exception as exc:  # AssertionError or pydantic.ValidationError
            _findings.append(f"{envelope.get('type')}: {exc}")


register_deliverer(_check)


@pytest.fixture(autouse=True)
def _events_follow_the_live_contract(request: pytest.FixtureRequest) -> Iterator[None]:
    _findings.clear()
    yield
    found, _findings[:] = list(_findings), []
    if not getattr(request.module, "LIVE_CONTRACT", True):
        return
    assert not found, "events that do not match keyframe.live.contract:\n" + "\n".join(found[:5])
