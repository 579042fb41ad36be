"""WebSocket fan-out: push event envelopes to the connections of their room.

:func:`keyframe.live.hooks.install` registers :func:`deliver` with the publisher's deliverers (the
publisher knows nothing of sockets) and :func:`close_member_sockets` with
:mod:`keyframe.identity.revocation`, loading this module with the first event. Every Lambda handler and
container entrypoint calls it at its start, so the API, the WebSocket functions, the pipeline tasks and
the render container all deliver through the same code. Both do nothing
unless ``LIVE_CONNECTIONS_ENDPOINT`` is set (CDK sets it on every function that emits, and so does
the local stack).

For each room of the envelopes it lists the connections subscribed to it *in the envelopes' studio*
(one Query per room, the ``studio`` room holds every connection of the studio), and posts each
envelope to each with ``PostToConnection`` (:class:`keyframe.live.posting.ConnectionPoster`: signed
POSTs on a kept-alive pool, without botocore's per-call CPU) through a bounded thread pool
(``LIVE_FANOUT_WORKERS``, default 16).
A connection answering 410 Gone is removed (and its rooms told ``presence:leave``). Envelopes for
one connection are posted in order, so a client sees a room's ``seq`` increase.

Closing a removed member's sockets is not a rule of delivery: the identity domain calls
:func:`close_member_sockets` explicitly (through :mod:`keyframe.identity.revocation`) before it
emits ``member:removed`` or ``member:role-changed``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from keyframe.live import connections, presence
from keyframe.live.posting import ConnectionPoster, Gone
from keyframe.live.settings import FanoutSettings, LiveSettings
from keyframe.observability import logger
from keyframe.settings import load
from keyframe.storage import clients


def enabled() -> bool:
    """True when this process has a ``@connections`` endpoint (``LIVE_CONNECTIONS_ENDPOINT``)."""
    return bool(os.environ.get("LIVE_CONNECTIONS_ENDPOINT"))


def _client(endpoint: str, pool_size: int) -> Any:
    return clients.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        max_pool_connections=pool_size,
        connect_timeout=2,
        read_timeout=5,
        retries={"max_attempts": 2, "mode": "standard"},
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


@cache
def _poster(endpoint: str, pool_size: int) -> ConnectionPoster:
    return ConnectionPoster(endpoint, pool_size)


def connection_poster() -> ConnectionPoster:
    """The process's :class:`~keyframe.live.posting.ConnectionPoster` for ``LIVE_CONNECTIONS_ENDPOINT``
    (SigV4-signed ``PostToConnection`` on a kept-alive pool of ``LIVE_FANOUT_WORKERS`` connections)."""
    return _poster(load(FanoutSettings).LIVE_CONNECTIONS_ENDPOINT, load(LiveSettings).LIVE_FANOUT_WORKERS)


def _post_all(poster: ConnectionPoster, connection_id: str, payloads: list[bytes]) -> bool:
    """Post ``payloads`` to one connection in order; False when it is gone (410)."""
    try:
        for payload in payloads:
            poster.post(connection_id, payload)
    except Gone:
        return False
    return True


def close_member_sockets(studio_id: str, user_id: str) -> list[str]:
    """Close every socket of ``user_id`` in ``studio_id`` (``DeleteConnection``) and drop the records.

    Returns
    -------
    list of str
        The connection ids closed (none when ``LIVE_CONNECTIONS_ENDPOINT`` is not set).
    """
    if not enabled():
        return []
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


def deliver(studio_id: str, envelopes: list[dict[str, Any]]) -> None:
    """Post each envelope to the connections of its room in ``studio_id``; never outside the studio.

    Parameters
    ----------
    studio_id:
        The studio the envelopes belong to; only its connections are listed (live table, gsi1).
    envelopes:
        ``{type, room, seq, ts, correlationId, data}`` dicts as built by the publisher.
        Nothing is posted when ``LIVE_CONNECTIONS_ENDPOINT`` is not set.
    """
    if not enabled():
        return
    targets: dict[str, list[bytes]] = defaultdict(list)
    members: dict[str, list[str]] = {}  # one lookup per room, however many envelopes it has
    for envelope in envelopes:
        payload = json.dumps(envelope, separators=(",", ":")).encode()
        room = envelope["room"]
        if room not in members:
            members[room] = connections.room_connection_ids(studio_id, room)
        for connection_id in members[room]:
            targets[connection_id].append(payload)
    if not targets:
        return
    poster = connection_poster()
    workers = min(load(LiveSettings).LIVE_FANOUT_WORKERS, len(targets))
    if workers == 1:
        results = {cid: _post_all(poster, cid, payloads) for cid, payloads in targets.items()}
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout") as pool:
            futures = {
                cid: pool.submit(_post_all, poster, cid, payloads) for cid, payloads in targets.items()
            }
            results = {cid: future.result() for cid, future in futures.items()}
    for connection_id, alive in results.items():
        if not alive:
            record = connections.close_connection(connection_id)
            logger.info("removed a gone connection", extra={"connection_id": connection_id})
            if record is not None:
                presence.announce_leave(record)
