"""The delivery targets of published events: a registry that loads nothing.

:mod:`keyframe.events.publisher` stores an event and hands its envelopes to every registered
deliverer. A target registers at its process's start (the WebSocket fan-out through
:func:`keyframe.live.hooks.install`, the favourites' notices through
:func:`keyframe.favorites.notices.install`). Registering must not load the publisher or the target:
every Lambda function registers at its init, and most of its requests publish nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Deliverer = Callable[[str, list[dict[str, Any]]], object]
"""``deliver(studio_id, envelopes)``: pushes envelopes (``{type, room, seq, ts, correlationId, data}``
dicts, as :mod:`keyframe.events.publisher` builds them) to their clients."""

_deliverers: list[Deliverer] = []


def register_deliverer(deliverer: Deliverer) -> None:
    """Add a delivery target (idempotent: the same callable is registered once)."""
    if deliverer not in _deliverers:
        _deliverers.append(deliverer)


def unregister_deliverer(deliverer: Deliverer) -> None:
    """Remove a delivery target; nothing happens if it was not registered."""
    if deliverer in _deliverers:
        _deliverers.remove(deliverer)


def registered() -> list[Deliverer]:
    """The registered targets in registration order (a copy: safe to iterate while others register)."""
    return list(_deliverers)
