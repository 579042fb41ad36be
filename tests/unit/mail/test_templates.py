"""E-mail templates and messages: what a recipient reads (no network)."""

from __future__ import annotations

import email
import email.policy

import pytest

from keyframe import mail
from keyframe.mail.sender import build_message

INVITE = {
    "studioName": "Moon <b>beam</b>",
    "inviterName": "Bo & Co",
    "role": "ARTIST",
    "link": "https://app.keyframe.test/invitations/accept?token=abc.def",
    "expiresAt": "2026-12-11T10:00:00.000Z",
}


def test_invitation_names_the_studio_the_inviter_and_carries_the_link() -> None:
    # When
    rendered = mail.render("invitation", INVITE)
    # Then
    assert rendered.subject == "Bo & Co invited you to Moon <b>beam</b> on Keyframe"
    assert "Moon <b>beam</b>" in rendered.text and INVITE["link"] in rendered.text
    assert "Moon &lt;b&gt;beam&lt;/b&gt;" in rendered.html and "<b>beam</b>" not in rendered.html
    assert "Bo &amp; Co" in rendered.html
    assert 'href="https://app.keyframe.test/invitations/accept?token=abc.def"' in rendered.html


def test_a_missing_value_or_template_is_an_error_not_a_half_filled_mail() -> None:
    with pytest.raises(KeyError):
        mail.render("invitation", {k: v for k, v in INVITE.items() if k != "link"})
    with pytest.raises(LookupError):
        mail.render("no-such-template", {})


def test_another_domain_registers_its_own_template() -> None:
    # Given
    mail.register(
        mail.MailTemplate(name="test-hello", subject="Hi $name", text="Hi $name", html="<p>$name</p>")
    )
    # When
    rendered = mail.render("test-hello", {"name": "Ana"})
    # Then
    assert rendered.subject == "Hi Ana" and "<p>Ana</p>" in rendered.html


def test_digest_lists_items_and_unsubscribe_link_in_both_parts() -> None:
    values = {
        "studioName": "Moon",
        "count": 2,
        "items": ["Ana mentioned you", "Version 3 <approved>"],
        "link": "https://app.keyframe.test/inbox",
        "unsubscribeLink": "https://app.keyframe.test/unsubscribe?t=x",
    }
    rendered = mail.render("digest", values)
    assert "- Ana mentioned you\n- Version 3 <approved>" in rendered.text
    assert "<li>Version 3 &lt;approved&gt;</li>" in rendered.html
    assert "Stop these e-mails: https://app.keyframe.test/unsubscribe?t=x" in rendered.text
    assert 'href="https://app.keyframe.test/unsubscribe?t=x"' in rendered.html


def test_message_has_a_text_and_an_html_part_from_the_configured_sender() -> None:
    # When
    message = build_message(
        "ana@example.com", "invitation", INVITE, headers={"List-Unsubscribe": "<https://x>"}
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    # Then
    assert parsed["From"] == "Keyframe <no-reply@keyframe.test>" and parsed["To"] == "ana@example.com"
    assert parsed["List-Unsubscribe"] == "<https://x>"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    page = parsed.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert INVITE["link"] in text and "<!doctype html>" in page


def test_links_point_at_the_configured_front_end() -> None:
    assert (
        mail.link("/reset-password", token="a.b+c")
        == "https://app.keyframe.test/reset-password?token=a.b%2Bc"
    )
