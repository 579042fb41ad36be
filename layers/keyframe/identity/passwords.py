"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106 low-memory profile).

Only hashes are stored. :func:`dummy_verify` spends the same time as a real check, so an unknown
e-mail and a wrong password take about as long to refuse.

Rules for a new password (register, a new account from an invitation, ``POST /me/password``, a
reset): 12 to 256 characters (the request schemas) and not one of the 30,000 most common passwords
of the ``zxcvbn`` package's list, compared case-insensitively (:func:`is_common`). At 12 characters
and more the list still holds a few hundred entries (``password1234``, ``qwertyuiop12``…).
"""

from __future__ import annotations

import importlib
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
def _common_passwords() -> frozenset[str]:
    # Loaded on first use, not at import: the list module costs ~175 ms to import (measured with
    # `python -X importtime` on this project's machine), which sign-in and refresh never need.
    module = importlib.import_module("zxcvbn.frequency_lists")
    return frozenset(module.FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """True when ``password`` (case-insensitively) is in zxcvbn's list of common passwords."""
    return password.lower() in _common_passwords()


def reject_common(password: str) -> str:
    """``password`` unchanged; a pydantic ``AfterValidator`` of new passwords.

    Raises
    ------
    ValueError
        The password is a common one (pydantic turns it into a 400 naming the field).
    """
    if is_common(password):
        raise ValueError("this password is one of the most common ones; choose another")
    return password


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def dummy_verify(password: str) -> None:
    """Verify ``password`` against a throwaway hash (always fails) to keep timing uniform."""
    verify_password(_dummy_hash(), password)
