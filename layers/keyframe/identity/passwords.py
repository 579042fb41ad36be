"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106 low-memory profile).

Only hashes are stored. :func:`dummy_verify` spends the same time as a real check, so an unknown
e-mail and a wrong password take about as long to refuse.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) of ``password``."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches ``stored_hash`` (False on mismatch or a corrupt hash)."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when ``stored_hash`` was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def dummy_verify(password: str) -> None:
    """Verify ``password`` against a throwaway hash (always fails) to keep timing uniform."""
    verify_password(_dummy_hash(), password)
