"""The outbox on the local stack: the stack polls the catalog table's stream and delivers what is stored.

An outbox item is written straight into the emulator's catalog table, as a change whose inline
publish failed leaves it (the change committed, the rooms never written); the stack's stream poller
must hand it to ``outbox-stream``, which numbers it in its rooms. The same event stored twice (at
least once) is numbered once.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_live import Member, register

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-features")]

_serialize = TypeSerializer().serialize


def _store_event(stack: LocalStackProcess, studio_id: str, event_id: str, sk_suffix: str = "") -> None:
    """Put an outbox item of ``project:updated`` for the studio room (as a committed change leaves it)."""
    occurred = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    item = {
        "pk": f"STUDIO#{studio_id}#OUTBOX",
        "sk": f"{occurred}#{event_id}{sk_suffix}",
        "recordType": "event",
        "eventId": event_id,
        "type": "project:updated",
        "studioId": studio_id,
        "occurredAt": occurred,
        "subject": "project/p-outbox",
        "data": '{"projectId": "p-outbox"}',
        "rooms": ["studio"],
        "ttl": int(time.time()) + 3600,
    }
    stack.client("dynamodb").put_item(
        TableName=stack.env["CATALOG_TABLE"], Item={k: _serialize(v) for k, v in item.items()}
    )


def _studio_events(admin: Member, after: int = 0) -> list[dict[str, Any]]:
    return admin.get(f"/rooms/studio/events?after={after}")["items"]


def _wait_for(admin: Member, event_id_data: str, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in _studio_events(admin) if e["data"].get("projectId") == event_id_data]
        if found:
            return found
        time.sleep(0.2)
    return []


@pytest.mark.slow  # tests/integration/outbox covers the stream
def test_a_stored_event_whose_publish_never_happened_is_delivered_by_the_stream(
    local_stack: LocalStackProcess, http: BaseUrlSession
) -> None:
    # Given a studio whose room already has its own events
    admin = register(http, "Outbox Studio")
    before = _studio_events(admin)
    # When an event is stored in the outbox and nobody published it, twice (at least once)
    event_id = f"evt_{uuid.uuid4().hex}"
    _store_event(local_stack, admin.studio_id, event_id)
    _store_event(local_stack, admin.studio_id, event_id, sk_suffix="#again")
    # Then the stack's stream poller delivers it to the studio room, numbered once, after the others
    found = _wait_for(admin, "p-outbox")
    assert len(found) == 1, found
    assert found[0]["type"] == "project:updated"
    assert found[0]["seq"] == (before[-1]["seq"] if before else 0) + 1
    time.sleep(1)  # the duplicate record has been handed by now too
    assert len(_wait_for(admin, "p-outbox")) == 1
