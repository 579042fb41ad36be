"""Signed pagination cursors: round trip, and every way a cursor must be refused."""

from __future__ import annotations

import pytest

from keyframe.errors import InvalidInput
from keyframe.storage import cursors

KEY = b"k" * 32
POSITION = {"pk": {"S": "STUDIO#s1#ASSET#a1"}, "sk": {"S": "ASSET"}}
SCOPE = cursors.scope_of("assets", sort="name", order="asc")


def _decode(token, studio_id="s1", scope=SCOPE, key=KEY):
    return cursors.decode(token, studio_id=studio_id, scope=scope, key=key)


def test_round_trip():
    token = cursors.encode(POSITION, studio_id="s1", scope=SCOPE, key=KEY)

    assert _decode(token) == POSITION
    assert "=" not in token and "+" not in token and "/" not in token


@pytest.mark.parametrize("token", [None, ""])
def test_no_cursor_means_first_page(token):
    assert _decode(token) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:5] + ("A" if t[5] != "A" else "B") + t[6:],  # payload edited
        lambda t: t[:-3] + ("A" if t[-3] != "A" else "B") + t[-2:],  # signature edited
        lambda t: t.replace(".", ""),
        lambda t: t + ".x",
        lambda t: "x" * 5000,
        lambda t: "not base64!.also not",
        lambda t: t.split(".")[0] + ".",
    ],
)
def test_tampered_cursor_is_refused(change):
    token = cursors.encode(POSITION, studio_id="s1", scope=SCOPE, key=KEY)

    with pytest.raises(InvalidInput) as caught:
        _decode(change(token))

    assert caught.value.code == "INVALID_CURSOR"


def test_cursor_is_bound_to_studio_scope_and_key():
    token = cursors.encode(POSITION, studio_id="s1", scope=SCOPE, key=KEY)

    for kwargs in (
        {"studio_id": "s2"},
        {"scope": cursors.scope_of("assets", sort="name", order="desc")},
        {"key": b"other" * 8},
    ):
        with pytest.raises(InvalidInput):
            _decode(token, **kwargs)


def test_scope_is_canonical():
    assert cursors.scope_of("assets", b="2", a="1", c=None) == cursors.scope_of("assets", a="1", b="2")
    assert cursors.scope_of("assets", q="a&b=c") != cursors.scope_of("assets", q="a", b="c")


def test_default_keys_come_from_identity_and_survive_a_rotation(monkeypatch):
    from keyframe import keys

    current, previous = b"c" * 32, b"p" * 32
    monkeypatch.setattr(keys, "hmac_key", lambda purpose: previous)
    signed_before_rotation = cursors.encode(POSITION, studio_id="s1", scope=SCOPE)
    monkeypatch.setattr(keys, "hmac_key", lambda purpose: current)
    monkeypatch.setattr(keys, "hmac_keys", lambda purpose: {"new": current, "old": previous})
    signed_after = cursors.encode(POSITION, studio_id="s1", scope=SCOPE)

    assert cursors.decode(signed_before_rotation, studio_id="s1", scope=SCOPE) == POSITION
    assert cursors.decode(signed_after, studio_id="s1", scope=SCOPE) == POSITION
    monkeypatch.setattr(keys, "hmac_keys", lambda purpose: {"new": current})
    with pytest.raises(InvalidInput):
        cursors.decode(signed_before_rotation, studio_id="s1", scope=SCOPE)
