"""Standard Webhooks signing (https://www.standardwebhooks.com), with the ``standardwebhooks`` library.

Every attempt carries ``webhook-id`` (the event id: the same on every retry and replay, so a
receiver deduplicates by it), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per valid
secret, space-separated: during a rotation's grace period both the new and the old secret sign).
Secrets are ``whsec_`` + base64 of 32 random bytes, as the specification suggests.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret ``whsec_<base64 of 32 random bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(message_id: str, body: str, signing_secrets: Iterable[str], at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt (plus ``content-type``).

    Parameters
    ----------
    message_id:
        The ``webhook-id`` (the event id).
    body:
        The exact JSON text sent.
    signing_secrets:
        Every currently valid secret (newest first); each adds one ``v1,`` signature.
    at:
        The attempt's time (aware UTC).
    """
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in signing_secrets]
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
