"""``~/.keyframe/credentials.json``: the tokens ``keyframe login`` stores, one entry per API base URL.

Shape (file mode 0600, folder 0700)::

    {"current": "http://127.0.0.1:3000",
     "apis": {"http://127.0.0.1:3000": {"email", "studioId", "accessToken", "refreshToken"}, ...}}

``current`` is the API of the last ``keyframe login``. Signing in to the local stack therefore never
replaces the token of a deployed API, and a token is only ever sent to the API that issued it. A
file of the first shape (one ``{"api", "email", …}`` object) is read as a single entry. ``KEYFRAME_HOME``
moves the folder (tests use a temporary one).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def home() -> Path:
    """Keyframe's folder in the user's home (``KEYFRAME_HOME`` or ``~/.keyframe``)."""
    return Path(os.environ.get("KEYFRAME_HOME") or Path.home() / ".keyframe")


def path() -> Path:
    """Where the credentials live."""
    return home() / "credentials.json"


def normalise(api: str) -> str:
    """The key of an API base URL (no trailing slash)."""
    return api.strip().rstrip("/")


@dataclass(frozen=True)
class Credentials:
    """A signed-in user of one studio on one API, as stored by ``keyframe login``."""

    api: str
    email: str
    studio_id: str
    access_token: str
    refresh_token: str

    def to_entry(self) -> dict[str, str]:
        """The JSON entry stored under the API's URL."""
        return {
            "email": self.email,
            "studioId": self.studio_id,
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
        }


def from_auth_response(body: dict[str, Any], api: str, email: str) -> Credentials:
    """Credentials from a login/refresh answer (``accessToken``, ``refreshToken``, ``studio``)."""
    return Credentials(
        api=normalise(api),
        email=email,
        studio_id=(body.get("studio") or {}).get("studioId", ""),
        access_token=body["accessToken"],
        refresh_token=body.get("refreshToken", ""),
    )


def _entry(api: str, data: dict[str, Any]) -> Credentials:
    return Credentials(
        api=normalise(api),
        email=str(data.get("email", "")),
        studio_id=str(data.get("studioId", "")),
        access_token=str(data["accessToken"]),
        refresh_token=str(data.get("refreshToken", "")),
    )


def _read() -> tuple[str | None, dict[str, Credentials]]:
    """``(current API, {api: credentials})`` from the file; empty when absent or unreadable."""
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return None, {}
    if not isinstance(data, dict):
        return None, {}
    try:
        if "apis" not in data and "api" in data:  # the first shape: one entry
            entry = _entry(data["api"], data)
            return entry.api, {entry.api: entry}
        entries = {normalise(api): _entry(api, value) for api, value in (data.get("apis") or {}).items()}
    except (KeyError, TypeError, AttributeError):
        return None, {}
    current = data.get("current")
    return (normalise(current) if isinstance(current, str) else None), entries


def _write(current: str | None, entries: dict[str, Credentials]) -> Path:
    target = path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = json.dumps(
        {"current": current, "apis": {api: c.to_entry() for api, c in sorted(entries.items())}}, indent=2
    )
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(body)
    os.chmod(temporary, 0o600)
    os.replace(temporary, target)
    return target


def load(api: str | None = None) -> Credentials | None:
    """The credentials stored for ``api`` (default: the API of the last login), or ``None``."""
    current, entries = _read()
    key = normalise(api) if api else current
    return entries.get(key) if key else None


def current_api() -> str | None:
    """The API of the last ``keyframe login`` still signed in, or ``None``."""
    current, entries = _read()
    return current if current in entries else None


def save(credentials: Credentials) -> Path:
    """Store ``credentials`` for their API (others are kept) and make it current; returns the path.

    The file is written readable by the user only (0600, folder 0700), atomically.
    """
    _, entries = _read()
    entries[credentials.api] = credentials
    return _write(credentials.api, entries)


def update(credentials: Credentials) -> Path:
    """Replace the stored entry of ``credentials.api`` (a refreshed token) without changing ``current``."""
    current, entries = _read()
    entries[credentials.api] = credentials
    return _write(current or credentials.api, entries)


def remove(api: str) -> Credentials | None:
    """Forget the credentials of ``api``; returns what was stored (``None`` when nothing was)."""
    current, entries = _read()
    gone = entries.pop(normalise(api), None)
    if gone is not None:
        if current == gone.api:
            current = next(iter(sorted(entries)), None)
        _write(current, entries)
    return gone
