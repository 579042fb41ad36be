"""Request shapes: e-mail normalisation, password rules, unknown fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keyframe.identity.schemas import (
    AcceptInvitationRequest,
    InvitationRequest,
    LoginRequest,
    RegisterRequest,
)

GOOD = {"studioName": "Moonlight", "email": "Ana@Example.COM", "password": "p" * 12, "displayName": "Ana"}


def _fields(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in error.errors()}


def test_email_is_lowercased_and_names_are_stripped():
    request = RegisterRequest.model_validate({**GOOD, "studioName": "  Moonlight  "})
    assert request.email == "ana@example.com"
    assert request.studio_name == "Moonlight"


def test_password_is_kept_exactly_as_typed():
    assert LoginRequest.model_validate({"email": "a@example.com", "password": "  spaced out  "}).password == (
        "  spaced out  "
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "p" * 11}, "password"),
        ({"password": "p" * 257}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"studioName": ""}, "studioName"),
        ({"displayName": "x" * 101}, "displayName"),
        ({"password": 123456789012}, "password"),
        ({"isAdmin": True}, "isAdmin"),
    ],
)
def test_bad_registration_names_the_field(change, field):
    with pytest.raises(ValidationError) as caught:
        RegisterRequest.model_validate({**GOOD, **change})
    assert field in _fields(caught.value)


def test_login_studio_id_must_look_like_an_id():
    with pytest.raises(ValidationError) as caught:
        LoginRequest.model_validate({"email": "a@example.com", "password": "p" * 12, "studioId": "../other"})
    assert _fields(caught.value) == {"studioId"}


def test_invitation_role_must_be_a_known_role():
    with pytest.raises(ValidationError) as caught:
        InvitationRequest.model_validate({"email": "a@example.com", "role": "OWNER"})
    assert _fields(caught.value) == {"role"}


def test_accept_invitation_display_name_is_optional():
    assert AcceptInvitationRequest.model_validate({"token": "a.b", "password": "p" * 12}).display_name is None
