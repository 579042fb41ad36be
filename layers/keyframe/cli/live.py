"""The live review socket as a client sees it: open with a ticket, join rooms, read events, send actions.

``POST /live/tickets`` gives a single-use URL (``ws://…/live?ticket=…``); :class:`LiveSocket` opens it
(``websockets``' sync client), a reader thread keeps every room event (frames carrying ``seq``) and
hands replies (``subscribed``, ``ack``, ``error`` …) to :meth:`LiveSocket.send` by their
``correlationId``. Used by ``keyframe render --watch`` and ``make demo``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import ClientConnection, connect

REPLY_TYPES = frozenset({"subscribed", "unsubscribed", "ack", "pong", "error"})


class LiveError(Exception):
    """The socket gave no answer in time, closed, or nothing matched what was awaited."""

    def __init__(self, message: str, code: str | None = None, correlation_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.correlation_id = correlation_id


def of_type(kind: str, **data: Any) -> Callable[[dict[str, Any]], bool]:
    """A predicate: an event of type ``kind`` whose ``data`` has these values."""
    return lambda e: e.get("type") == kind and all((e.get("data") or {}).get(k) == v for k, v in data.items())


@dataclass
class LiveSocket:
    """A member's live review socket: a reader thread keeps room events, replies answer :meth:`send`.

    ``on_event(envelope)`` is called from the reader thread for every room event (frames with ``seq``).
    """

    owner: str
    url: str
    on_event: Callable[[dict[str, Any]], None]
    events: list[dict[str, Any]] = field(default_factory=list)
    _ws: ClientConnection | None = None
    _replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _reader: threading.Thread | None = None
    _closed: str | None = None

    def open(self) -> LiveSocket:
        """Connect (the ticket in the URL is consumed) and start reading."""
        self._ws = connect(self.url, proxy=None, open_timeout=10, close_timeout=2)
        self._reader = threading.Thread(target=self._read, name=f"live-{self.owner}", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._ws is not None
        try:
            for raw in self._ws:
                frame = json.loads(raw)
                with self._changed:
                    if "seq" in frame:
                        self.events.append(frame)
                    elif frame.get("type") in REPLY_TYPES:
                        key = frame.get("correlationId") or (frame.get("data") or {}).get("correlationId")
                        self._replies[str(key)] = frame
                    self._changed.notify_all()
                if "seq" in frame:
                    self.on_event(frame)
        except Exception as exc:  # closed, network, bad JSON, or a printing bug: waits then fail fast
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "closed"
        with self._changed:
            self._closed = reason
            self._changed.notify_all()

    def send(self, action: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        """Send ``{"action", "correlationId", **fields}``; returns the reply frame (``ack``, ``error`` …).

        Raises
        ------
        LiveError
            No reply within ``timeout`` seconds, or the socket closed.
        """
        assert self._ws is not None
        correlation_id = f"cli-{uuid.uuid4().hex[:12]}"
        self._ws.send(json.dumps({"action": action, "correlationId": correlation_id, **fields}))
        deadline = time.monotonic() + timeout
        with self._changed:
            while correlation_id not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    why = (
                        f"the socket closed ({self._closed})"
                        if self._closed
                        else f"no reply in {timeout:.0f} s"
                    )
                    raise LiveError(
                        f"{self.owner}'s '{action}' got no answer: {why}", correlation_id=correlation_id
                    )
                self._changed.wait(left)
            return self._replies.pop(correlation_id)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        """The first event received (already or within ``timeout`` seconds) matching ``predicate``.

        Raises
        ------
        LiveError
            Nothing matched in time, or the socket closed.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    why = (
                        f"the socket closed ({self._closed})"
                        if self._closed
                        else f"not within {timeout:.0f} s"
                    )
                    raise LiveError(f"{self.owner}'s socket did not see {what}: {why}")
                self._changed.wait(left)

    @property
    def closed(self) -> str | None:
        """Why the socket closed (``None`` while it is open)."""
        return self._closed

    def close(self) -> None:
        """Close the socket and let the reader end."""
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
