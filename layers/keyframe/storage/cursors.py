"""Opaque, signed pagination cursors bound to a studio and a query (reusable by any domain).

A cursor is ``base64url(json(position)) + "." + base64url(HMAC-SHA256(key, studio \\n scope \\n payload))``
with no padding. ``position`` is whatever the caller needs to resume (a DynamoDB key here); ``scope``
is a canonical string of the query (:func:`scope_of`): resource and every filter and sort parameter,
but not the page size, so a client may change ``limit`` between pages. A cursor that was tampered
with, issued for another studio or for another query fails the MAC check and answers
``400 INVALID_CURSOR``; no decoded value is trusted before the check.

The key comes from :func:`keyframe.keys.hmac_key` with the purpose ``"pagination-cursor"``
(derived from the JWT signing secret), so cursors need no key of their own and rotate with it; during
a rotation a cursor signed with the previous key still verifies (:func:`keyframe.keys.hmac_keys`).

Usage::

    scope = cursors.scope_of("assets", projectId=pid, sort="name", order="asc")
    start = cursors.decode(token, studio_id=sid, scope=scope)          # None for the first page
    ...
    next_token = cursors.encode(last_key, studio_id=sid, scope=scope) if last_key else None
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from keyframe import keys
from keyframe.errors import InvalidInput, field_details

PURPOSE = "pagination-cursor"
MAX_CURSOR_LENGTH = 4096
"""Longer strings are refused before any decoding."""


def signing_key(purpose: str) -> bytes:
    """The HMAC key for ``purpose`` (derived from the signing secret, :mod:`keyframe.keys`)."""
    return keys.hmac_key(purpose)


def verification_keys(purpose: str) -> list[bytes]:
    """Every key a cursor for ``purpose`` may have been signed with (current first, then previous)."""
    return list(keys.hmac_keys(purpose).values())


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, studio_id: str, scope: str, payload: str) -> bytes:
    message = "\n".join((studio_id, scope, payload)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).digest()


def scope_of(resource: str, **params: Any) -> str:
    """A canonical description of a query: ``resource?k=v&...`` (sorted, ``None`` values dropped).

    Parameters
    ----------
    resource:
        What is listed, including any path ids (``"assets/123/versions"``).
    params:
        Filters and sort options that shape the result order and membership.
    """
    parts = [
        f"{quote(str(k), safe='')}={quote(str(v), safe='')}"
        for k, v in sorted(params.items())
        if v is not None
    ]
    return f"{resource}?{'&'.join(parts)}"


def encode(position: Mapping[str, Any], *, studio_id: str, scope: str, key: bytes | None = None) -> str:
    """Sign ``position`` for ``studio_id`` and ``scope``.

    Parameters
    ----------
    position:
        JSON-serialisable resume point.
    key:
        HMAC key; defaults to :func:`signing_key` (``"pagination-cursor"``).

    Returns
    -------
    str
        The opaque cursor (URL-safe).
    """
    payload = _b64encode(json.dumps(position, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    mac = _mac(key or signing_key(PURPOSE), studio_id, scope, payload)
    return f"{payload}.{_b64encode(mac)}"


def decode(
    token: str | None, *, studio_id: str, scope: str, key: bytes | None = None
) -> dict[str, Any] | None:
    """Verify and open a cursor made by :func:`encode`; ``None``/empty gives ``None`` (first page).

    Parameters
    ----------
    key:
        The HMAC key; by default every current or previous derived key is tried.

    Raises
    ------
    InvalidInput
        ``INVALID_CURSOR`` (400): malformed, tampered, or issued for another studio or query.
    """
    if token is None or token == "":
        return None
    invalid = InvalidInput(
        "The cursor is invalid or belongs to another query; start again without it",
        code="INVALID_CURSOR",
        details=field_details("cursor", "invalid or from another query"),
    )
    if len(token) > MAX_CURSOR_LENGTH or token.count(".") != 1:
        raise invalid
    payload, signature = token.split(".")
    try:
        given = _b64decode(signature)
    except (ValueError, TypeError) as exc:
        raise invalid from exc
    keys = [key] if key else verification_keys(PURPOSE)
    if not any(hmac.compare_digest(given, _mac(k, studio_id, scope, payload)) for k in keys):
        raise invalid
    try:
        position = json.loads(_b64decode(payload))
    except (ValueError, TypeError) as exc:  # pragma: no cover - only reachable with the key
        raise invalid from exc
    if not isinstance(position, dict):  # pragma: no cover - only reachable with the key
        raise invalid
    return position
