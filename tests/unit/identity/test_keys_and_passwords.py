"""Signing keys from the secret document, derived HMAC keys, and password hashing (no network)."""

from __future__ import annotations

import pytest

from keyframe import keys
from keyframe.identity import passwords

SECRET_DOCUMENT = {
    "kid": "k2",
    "secret": "s" * 40,
    "previous": [{"kid": "k1", "secret": "p" * 40}],
}


@pytest.fixture
def fake_secret(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Answer Powertools' get_secret from memory and record how it was called."""
    calls: list[dict] = []

    def get_secret(name: str, **kw: object) -> dict:
        calls.append({"name": name, **kw})
        return SECRET_DOCUMENT

    monkeypatch.setattr(keys.parameters, "get_secret", get_secret)
    return calls


def test_signing_keys_read_the_named_secret_as_json_with_a_5_minute_cache(fake_secret):
    # When
    keyset = keys.signing_keys()

    # Then the top-level key signs and both keys verify
    assert keyset.current.kid == "k2"
    assert set(keyset.by_kid) == {"k1", "k2"}
    assert fake_secret == [
        {"name": "keyframe/test/jwt-signing-keys", "transform": "json", "max_age": 300, "force_fetch": False}
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"kid": "k", "secret": "short"},
        {"secret": "s" * 40},
        {"kid": "", "secret": "s" * 40},
        {"kid": "k", "secret": "s" * 40, "previous": [{"kid": "old"}]},
        "not a dict",
    ],
)
def test_malformed_secret_documents_are_rejected(document):
    with pytest.raises(ValueError, match="malformed"):
        keys.KeySet.from_document(document)


def test_hmac_keys_are_per_purpose_and_stable(fake_secret):
    # When keys are derived for two purposes
    cursor_a, cursor_b, other = (
        keys.hmac_key("cursor:assets"),
        keys.hmac_key("cursor:assets"),
        keys.hmac_key("x"),
    )

    # Then each purpose has its own 32-byte key, the same on every call, never the raw secret
    assert cursor_a == cursor_b and len(cursor_a) == 32
    assert cursor_a != other
    assert cursor_a != SECRET_DOCUMENT["secret"].encode()[:32]


def test_hmac_keys_for_every_listed_kid_current_first(fake_secret):
    derived = keys.hmac_keys("cursor:assets")
    assert list(derived) == ["k2", "k1"]
    assert derived["k2"] == keys.hmac_key("cursor:assets")


def test_empty_purpose_is_refused(fake_secret):
    with pytest.raises(ValueError):
        keys.hmac_key("")


def test_forced_refetch_is_rate_limited(monkeypatch: pytest.MonkeyPatch):
    # Given no refetch happened recently
    monkeypatch.setattr(keys, "_last_refetch", 0.0)

    # When two refetches are asked back to back
    # Then only the first is allowed
    assert keys.refetch_allowed() is True
    assert keys.refetch_allowed() is False


def test_password_hash_is_argon2id_salted_and_verifies():
    # Given
    stored = passwords.hash_password("correct horse battery")

    # Then
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert stored != passwords.hash_password("correct horse battery")  # salted
    assert passwords.verify_password(stored, "correct horse battery")
    assert not passwords.verify_password(stored, "correct horse batterY")
    assert not passwords.needs_rehash(stored)


def test_corrupt_hash_never_verifies_and_needs_rehash():
    assert not passwords.verify_password("not-a-hash", "whatever password")
    assert passwords.needs_rehash("not-a-hash")


def test_dummy_verify_never_raises():
    assert passwords.dummy_verify("anything at all") is None
