"""The signing secret of Keyframe, read from Secrets Manager, and the HMAC keys derived from it.

The secret named by ``JWT_SECRET_NAME`` holds JSON::

    {"kid": "2026-01", "secret": "<at least 32 characters>",
     "previous": [{"kid": "2025-12", "secret": "..."}],
     "tokenKeys": [{"kid": "<KMS key id>", "activeFrom": 1764864000}]}

``tokenKeys`` lists the KMS keys that sign access tokens (:mod:`keyframe.identity.token_keys`: ES256,
the private keys never leave KMS; the HMAC keys below never sign a token). The HMAC keys sign what
the API hands out and takes back (pagination cursors): the top-level key signs, every listed key
(top-level and ``previous``) verifies, so a rotation is: write the new key on top and move the old
one to ``previous``, then drop it a rotation later. The secret is cached for :data:`CACHE_SECONDS`
per process (Powertools Parameters); a token signed with a ``kid`` this process does not know yet
triggers one refetch (at most every :data:`REFETCH_INTERVAL_SECONDS`), so a fresh rotation is
picked up without waiting.

Part of the shared kernel: identity signs tokens with it, and other uses take a derived key through
:func:`hmac_key` (e.g. HMAC-signed pagination cursors, :mod:`keyframe.storage.cursors`):
each purpose gets its own derived key, so a value signed for one purpose never verifies for another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from keyframe.settings import AuthSettings, load

CACHE_SECONDS = 300
"""How long a process keeps the secret before reading Secrets Manager again (seconds)."""

REFETCH_INTERVAL_SECONDS = 30
"""Minimum time between two forced refetches caused by an unknown ``kid`` (seconds)."""

MIN_SECRET_LENGTH = 32
"""Shortest accepted HMAC secret (characters; HS256 wants at least 256 bits of key)."""

_DERIVATION_PREFIX = b"keyframe/derived-key/v1/"


class _KeyDocument(BaseModel):
    # built on the first secret read, not when an API function starts (1.4 % of its init: the model
    # machinery this module no longer builds is built by the next eager model instead)
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    kid: str = Field(min_length=1, max_length=128)
    secret: str = Field(min_length=MIN_SECRET_LENGTH)


class _SecretDocument(_KeyDocument):
    previous: list[_KeyDocument] = Field(default_factory=list)


@dataclass(frozen=True)
class SigningKey:
    """One HMAC key.

    Attributes
    ----------
    kid:
        Key id, written in the JWT header and used to find the key when verifying.
    secret:
        Raw key bytes (UTF-8 of the secret string).
    """

    kid: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class KeySet:
    """The keys of one secret version: ``current`` signs, every key in ``by_kid`` verifies."""

    current: SigningKey
    by_kid: dict[str, SigningKey]

    @classmethod
    def of(cls, current: SigningKey, *previous: SigningKey) -> KeySet:
        """A key set from keys given explicitly (tests, tools)."""
        by_kid = {key.kid: key for key in previous}
        by_kid[current.kid] = current
        return cls(current=current, by_kid=by_kid)

    @classmethod
    def from_document(cls, document: object) -> KeySet:
        """Parse the secret's JSON document.

        Raises
        ------
        ValueError
            When the document is not the expected shape or a secret is too short.
        """
        try:
            parsed = _SecretDocument.model_validate(document)
        except ValidationError as exc:
            raise ValueError(f"the signing-key secret is malformed: {exc.error_count()} error(s)") from None
        current = SigningKey(parsed.kid, parsed.secret.encode())
        previous = [SigningKey(k.kid, k.secret.encode()) for k in parsed.previous]
        return cls.of(current, *previous)

    def find(self, kid: str | None) -> SigningKey | None:
        """The key with id ``kid``, or ``None``."""
        return self.by_kid.get(kid) if kid else None


_refetch_lock = threading.Lock()
_last_refetch = 0.0


def secret_document(*, force_fetch: bool = False) -> dict[str, Any]:
    """The signing secret's JSON (``JWT_SECRET_NAME``, Powertools cache of 5 minutes).

    Raises
    ------
    pydantic.ValidationError
        ``JWT_SECRET_NAME`` is not set.
    aws_lambda_powertools.utilities.parameters.exceptions.GetParameterError
        Secrets Manager cannot be read.
    ValueError
        The secret is not a JSON object.
    """
    name = load(AuthSettings).JWT_SECRET_NAME
    document = parameters.get_secret(name, transform="json", max_age=CACHE_SECONDS, force_fetch=force_fetch)
    if not isinstance(document, dict):
        raise ValueError("the signing secret is not a JSON object")
    return document


def parse_secret_string(text: str) -> dict[str, Any]:
    """A secret value as a dict (tools that write the secret: rotation, bootstrap).

    Raises
    ------
    ValueError
        Not a JSON object.
    """
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("the signing secret is not a JSON object")
    return document


def dump_secret(document: dict[str, Any]) -> str:
    """The secret value to store for ``document`` (compact JSON)."""
    return json.dumps(document, separators=(",", ":"))


def signing_keys(*, force_fetch: bool = False) -> KeySet:
    """The current HMAC key set from the secret named by ``JWT_SECRET_NAME`` (cached 5 minutes).

    Parameters
    ----------
    force_fetch:
        Bypass the cache (used once when a token names an unknown ``kid``).

    Raises
    ------
    pydantic.ValidationError
        ``JWT_SECRET_NAME`` is not set.
    aws_lambda_powertools.utilities.parameters.exceptions.GetParameterError
        Secrets Manager cannot be read.
    ValueError
        The secret's JSON is malformed.
    """
    return KeySet.from_document(secret_document(force_fetch=force_fetch))


def refetch_allowed() -> bool:
    """True (and remember the time) when a forced refetch may run now; rate-limited per process."""
    global _last_refetch  # noqa: PLW0603 - one process-wide timestamp
    with _refetch_lock:
        now = time.monotonic()
        if now - _last_refetch < REFETCH_INTERVAL_SECONDS:
            return False
        _last_refetch = now
        return True


def derive_key(key: SigningKey, purpose: str) -> bytes:
    """HMAC-SHA256(key, prefix + purpose): a 32-byte key for one purpose, independent of others.

    Raises
    ------
    ValueError
        Empty ``purpose``.
    """
    if not purpose:
        raise ValueError("purpose must be a non-empty string")
    return hmac.new(key.secret, _DERIVATION_PREFIX + purpose.encode(), hashlib.sha256).digest()


def hmac_key(purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` (e.g. ``"cursor:assets"``) derived from the current signing key.

    Use it to sign values the API hands out and takes back (pagination cursors...). After a key
    rotation, values signed with the previous key stop verifying with this key; use
    :func:`hmac_keys` to accept them during the overlap.

    Raises
    ------
    ValueError
        Empty ``purpose``.
    """
    return derive_key(signing_keys().current, purpose)


def hmac_keys(purpose: str) -> dict[str, bytes]:
    """``{kid: derived key}`` for every listed key (current first), to verify across a rotation."""
    keys = signing_keys()
    ordered = [keys.current] + [k for kid, k in keys.by_kid.items() if kid != keys.current.kid]
    return {key.kid: derive_key(key, purpose) for key in ordered}
