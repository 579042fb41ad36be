"""keyframe.mail.send through moto's SES, read back the way the local stack's mailbox reads it."""

from __future__ import annotations

import boto3
import pytest

from keyframe import mail
from keyframe.local import mailbox

pytestmark = pytest.mark.usefixtures("aws")


def test_sent_mail_is_captured_with_both_parts_and_its_link() -> None:
    # Given
    link = mail.link("/invitations/accept", token="inv1.secret")
    values = {"studioName": "Moon", "inviterName": "Bo", "role": "VIEWER", "link": link, "expiresAt": "soon"}
    # When
    message_id = mail.send("ana@example.com", "invitation", values)
    # Then
    (captured,) = mailbox.messages(to="ana@example.com")
    assert captured.id == message_id
    assert captured.subject == "Bo invited you to Moon on Keyframe"
    assert captured.template == "invitation"
    assert captured.links == [link]
    assert "Moon" in captured.html and link in captured.text
    assert mailbox.messages(to="someone-else@example.com") == []


def test_an_unverified_sender_is_a_mail_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: SES knows no identity for this sender
    from keyframe import settings

    monkeypatch.setenv("MAIL_FROM", "Keyframe <no-reply@unverified.example>")
    settings.reset()
    # When / Then
    with pytest.raises(mail.MailError):
        mail.send(
            "ana@example.com", "password-reset", {"displayName": "Ana", "link": "https://x", "minutes": 30}
        )
    assert boto3.client("sesv2").list_email_identities()["EmailIdentities"]


def test_mailbox_answers_over_wsgi() -> None:
    # Given
    mail.send(
        "bo@example.com", "password-reset", {"displayName": "Bo", "link": "https://x/r?t=1", "minutes": 30}
    )
    captured = mailbox.messages(to="bo@example.com")[0]
    statuses: list[str] = []

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    # When
    listing = b"".join(
        mailbox.wsgi_app(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/_local/mailbox", "QUERY_STRING": "to=bo%40example.com"},
            start,
        )
    )
    page = b"".join(
        mailbox.wsgi_app({"REQUEST_METHOD": "GET", "PATH_INFO": f"/_local/mailbox/{captured.id}.html"}, start)
    )
    missing = b"".join(
        mailbox.wsgi_app({"REQUEST_METHOD": "GET", "PATH_INFO": "/_local/mailbox/nope"}, start)
    )
    # Then
    assert statuses == ["200 OK", "200 OK", "404 Not Found"]
    assert b'"subject": "Reset your Keyframe password"' in listing and b"https://x/r?t=1" in page
    assert b"MAIL_NOT_FOUND" in missing
