"""Install the live fan-out in a process without loading it: the hooks every handler registers at init.

:func:`install` registers :func:`deliver` with :mod:`keyframe.events.deliverers` and
:func:`close_member_sockets` with :mod:`keyframe.identity.revocation`. Each imports
:mod:`keyframe.live.fanout` (the connection lookups, the poster, presence) on its first call, so a
function's cold start does not pay for the fan-out (about 2 % of an API function's init) and a request
that publishes nothing never loads it.
"""

from __future__ import annotations

from typing import Any

from keyframe.events.deliverers import register_deliverer
from keyframe.identity import revocation


def deliver(studio_id: str, envelopes: list[dict[str, Any]]) -> None:
    """Post the envelopes to the connections of their rooms (:func:`keyframe.live.fanout.deliver`)."""
    from keyframe.live import fanout  # noqa: PLC0415 (loaded with the first event, not at init)

    fanout.deliver(studio_id, envelopes)


def close_member_sockets(studio_id: str, user_id: str) -> list[str]:
    """Close a member's sockets in a studio (:func:`keyframe.live.fanout.close_member_sockets`).

    Returns the connection ids closed.
    """
    from keyframe.live import fanout  # noqa: PLC0415 (loaded with the first membership change)

    return fanout.close_member_sockets(studio_id, user_id)


def install() -> None:
    """Register the fan-out with the publisher and the socket closer with identity (idempotent).

    Called at the start of every handler and container entrypoint that may emit events. Delivery
    and closing do nothing unless ``LIVE_CONNECTIONS_ENDPOINT`` is set.
    """
    register_deliverer(deliver)
    revocation.register_socket_closer(close_member_sockets)
