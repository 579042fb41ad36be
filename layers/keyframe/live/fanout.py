"""WebSocket fan-out: push event envelopes to the connections of their room.

:func:`deliver` is the deliverer that :mod:`keyframe.events.publisher` calls after it has stored an
event (whenever ``LIVE_CONNECTIONS_ENDPOINT`` is set), in whatever process emitted it: the API, the
WebSocket message function, a pipeline task or the render container.

For each envelope it lists the connections subscribed to the envelope's room *of the envelope's
studio* (the ``studio`` room holds every connection of the studio), and posts the envelope to each
with ``PostToConnection`` through a bounded thread pool (``LIVE_FANOUT_WORKERS``, default 16).
A connection answering 410 Gone is removed (and its rooms told ``presence:leave``). Envelopes for
one connection are posted in order, so a client sees a room's ``seq`` increase.

``member:removed`` and ``member:role-changed`` envelopes (emitted to the ``studio`` room by the
identity domain with ``data.userId``) first close that member's sockets with ``DeleteConnection``:
a removed member stops receiving at once, and a member whose role changed reconnects with a new
ticket that carries the new role.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from keyframe.live import connections, presence
from keyframe.live.settings import FanoutSettings, LiveSettings
from keyframe.observability import logger
from keyframe.settings import load

MEMBER_EVENTS = frozenset({"member:removed", "member:role-changed"})
"""Envelope types that close the named member's sockets before delivery."""


@cache
def _client(endpoint: str, pool_size: int) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        config=Config(
            max_pool_connections=pool_size,
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def management_client() -> Any:
    """The boto3 ``apigatewaymanagementapi`` client of ``LIVE_CONNECTIONS_ENDPOINT`` (one per process).

    Its connection pool matches ``LIVE_FANOUT_WORKERS`` so parallel posts do not queue for sockets.
    """
    return _client(load(FanoutSettings).LIVE_CONNECTIONS_ENDPOINT, load(LiveSettings).LIVE_FANOUT_WORKERS)


def is_gone(error: ClientError) -> bool:
    """True when the ``@connections`` API says the connection no longer exists (410 GoneException)."""
    code = error.response.get("Error", {}).get("Code")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code == "GoneException" or status == 410


def _post_all(client: Any, connection_id: str, payloads: list[bytes]) -> bool:
    """Post ``payloads`` to one connection in order; False when it is gone."""
    for payload in payloads:
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=payload)
        except ClientError as exc:
            if is_gone(exc):
                return False
            logger.warning(
                "post to connection failed", extra={"connection_id": connection_id, "error": str(exc)}
            )
        except BotoCoreError as exc:
            logger.warning(
                "post to connection failed", extra={"connection_id": connection_id, "error": str(exc)}
            )
    return True


def close_member_sockets(studio_id: str, user_id: str) -> list[str]:
    """Close every socket of ``user_id`` in ``studio_id`` (``DeleteConnection``) and drop the records.

    Returns
    -------
    list of str
        The connection ids closed.
    """
    client = management_client()
    closed = []
    for connection_id in connections.user_connection_ids(studio_id, user_id):
        try:
            client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if not is_gone(exc):
                logger.warning("delete connection failed", extra={"connection_id": connection_id})
        record = connections.close_connection(connection_id)
        if record is not None:
            presence.announce_leave(record)
        closed.append(connection_id)
    return closed


def _member_ids(envelopes: Iterable[dict[str, Any]]) -> set[str]:
    return {
        str(e["data"]["userId"])
        for e in envelopes
        if e.get("type") in MEMBER_EVENTS and isinstance(e.get("data"), dict) and e["data"].get("userId")
    }


def deliver(studio_id: str, envelopes: list[dict[str, Any]]) -> None:
    """Post each envelope to the connections of its room in ``studio_id``; never outside the studio.

    Parameters
    ----------
    studio_id:
        The studio the envelopes belong to; only its connections are listed (live table, gsi1).
    envelopes:
        ``{type, room, seq, ts, correlationId, data}`` dicts as built by the publisher.
    """
    for user_id in _member_ids(envelopes):
        close_member_sockets(studio_id, user_id)
    targets: dict[str, list[bytes]] = defaultdict(list)
    for envelope in envelopes:
        payload = json.dumps(envelope, separators=(",", ":")).encode()
        for connection_id in connections.room_connection_ids(studio_id, envelope["room"]):
            targets[connection_id].append(payload)
    if not targets:
        return
    client = management_client()
    workers = min(load(LiveSettings).LIVE_FANOUT_WORKERS, len(targets))
    if workers == 1:
        results = {cid: _post_all(client, cid, payloads) for cid, payloads in targets.items()}
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout") as pool:
            futures = {
                cid: pool.submit(_post_all, client, cid, payloads) for cid, payloads in targets.items()
            }
            results = {cid: future.result() for cid, future in futures.items()}
    for connection_id, alive in results.items():
        if not alive:
            record = connections.close_connection(connection_id)
            logger.info("removed a gone connection", extra={"connection_id": connection_id})
            if record is not None:
                presence.announce_leave(record)
