"""Closing a member's open sockets when their access to a studio ends or changes.

Identity does not know how sockets are held. A socket layer registers a closer with
:func:`register_socket_closer` at its process's start (the live review domain does so in
:func:`keyframe.live.hooks.install`); :mod:`keyframe.identity.members` calls
:func:`close_member_sockets` explicitly when it removes a member or changes their role, before it
announces the change, so a removed member hears nothing more and a member whose role changed
reconnects with a ticket that carries the new role.
"""

from __future__ import annotations

from collections.abc import Callable

from keyframe.observability import logger

SocketCloser = Callable[[str, str], object]
"""``close(studio_id, user_id)``: closes every socket of the member in the studio."""

_closers: list[SocketCloser] = []


def register_socket_closer(closer: SocketCloser) -> None:
    """Add a socket closer (idempotent: the same callable is registered once)."""
    if closer not in _closers:
        _closers.append(closer)


def close_member_sockets(studio_id: str, user_id: str) -> None:
    """Close the sockets of ``user_id`` in ``studio_id`` through every registered closer.

    Best effort, like delivery: a closer that fails is logged and the others still run; the
    membership change itself is already committed.
    """
    for close in list(_closers):
        try:
            close(studio_id, user_id)
        except Exception:
            logger.exception("closing a member's sockets failed", extra={"user_id": user_id})
