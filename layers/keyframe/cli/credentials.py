"""``~/.keyframe/credentials.json``: the token ``keyframe login`` stores (file mode 0600).

Shape: ``{"api", "email", "studioId", "accessToken", "refreshToken"}``. ``KEYFRAME_HOME`` moves
the folder (tests use a temporary one).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def home() -> Path:
    """Keyframe's folder in the user's home (``KEYFRAME_HOME`` or ``~/.keyframe``)."""
    return Path(os.environ.get("KEYFRAME_HOME") or Path.home() / ".keyframe")


def path() -> Path:
    """Where the credentials live."""
    return home() / "credentials.json"


@dataclass(frozen=True)
class Credentials:
    """A signed-in user of one studio, as stored by ``keyframe login``."""

    api: str
    email: str
    studio_id: str
    access_token: str
    refresh_token: str


def from_auth_response(body: dict[str, Any], api: str, email: str) -> Credentials:
    """Credentials from a login/refresh answer (``accessToken``, ``refreshToken``, ``studio``)."""
    return Credentials(
        api=api,
        email=email,
        studio_id=(body.get("studio") or {}).get("studioId", ""),
        access_token=body["accessToken"],
        refresh_token=body.get("refreshToken", ""),
    )


def load() -> Credentials | None:
    """The stored credentials, or ``None`` when there are none (or the file is unreadable)."""
    try:
        data = json.loads(path().read_text())
        return Credentials(
            api=data["api"],
            email=data.get("email", ""),
            studio_id=data.get("studioId", ""),
            access_token=data["accessToken"],
            refresh_token=data.get("refreshToken", ""),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(credentials: Credentials) -> Path:
    """Write the credentials readable by the user only (0600, folder 0700); returns the path."""
    target = path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = asdict(credentials)
    body = json.dumps(
        {
            "api": data["api"],
            "email": data["email"],
            "studioId": data["studio_id"],
            "accessToken": data["access_token"],
            "refreshToken": data["refresh_token"],
        },
        indent=2,
    )
    temporary = target.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(body)
    os.chmod(temporary, 0o600)
    os.replace(temporary, target)
    return target
