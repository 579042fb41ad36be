"""Sending: one MIME message per recipient, through SES v2 ``SendEmail`` with raw content.

The message is built with the standard library's :class:`email.message.EmailMessage`
(``multipart/alternative``: the plain-text part first, then HTML; UTF-8), so extra headers such as
``List-Unsubscribe`` travel with it, and the AWS emulator's SES keeps both parts for the local
mailbox. The client honours ``AWS_ENDPOINT_URL`` (the local stack's emulator).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError

from keyframe.mail.settings import MailSettings
from keyframe.mail.templates import render
from keyframe.observability import logger
from keyframe.settings import load
from keyframe.storage import clients


class MailError(Exception):
    """SES refused or could not be reached; the message was not sent.

    Callers decide whether that fails their request (a password reset never tells) or is reported
    (an invitation answers ``emailSent: false`` and can be resent).
    """


def _client() -> Any:
    return clients.client("sesv2", retries={"max_attempts": 3, "mode": "standard"})


def link(path: str, **query: str) -> str:
    """A front-end URL: ``FRONTEND_URL`` + ``path`` + ``?query`` (values URL-encoded).

    >>> link("/invitations/accept", token="abc.def")  # doctest: +SKIP
    'https://app.keyframe.example/invitations/accept?token=abc.def'
    """
    base = load(MailSettings).FRONTEND_URL
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{base}/{path.lstrip('/')}{suffix}"


def build_message(
    to: str, template: str, values: Mapping[str, object], *, headers: Mapping[str, str] | None = None
) -> EmailMessage:
    """The MIME message :func:`send` sends (From ``MAIL_FROM``, To ``to``, both parts).

    Raises
    ------
    LookupError / KeyError
        Unknown template, or a value it needs is missing (:func:`keyframe.mail.templates.render`).
    """
    settings = load(MailSettings)
    rendered = render(template, values)
    message = EmailMessage()
    message["From"] = settings.MAIL_FROM
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.MAIL_FROM.rpartition("@")[2].strip(" >") or None)
    message["X-Keyframe-Template"] = template
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(rendered.text, charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


def send(
    to: str, template: str, values: Mapping[str, object], *, headers: Mapping[str, str] | None = None
) -> str:
    """Send template ``template`` filled with ``values`` to the address ``to``.

    Parameters
    ----------
    to:
        One recipient address.
    template:
        A registered template name (:mod:`keyframe.mail.templates`).
    values:
        The template's values; links should come from :func:`link`.
    headers:
        Extra headers (``List-Unsubscribe``, ``List-Unsubscribe-Post``).

    Returns
    -------
    str
        SES's message id.

    Raises
    ------
    MailError
        SES refused the message (unverified sender, suppressed recipient, throttled) or was not
        reachable after its retries. Nothing was sent.
    LookupError / KeyError
        Unknown template or a missing value: a programming error, raised as is.
    """
    settings = load(MailSettings)
    message = build_message(to, template, values, headers=headers)
    request: dict[str, Any] = {
        "FromEmailAddress": settings.MAIL_FROM,
        "Content": {"Raw": {"Data": message.as_bytes()}},
    }
    if settings.MAIL_CONFIGURATION_SET:
        request["ConfigurationSetName"] = settings.MAIL_CONFIGURATION_SET
    try:
        answer = _client().send_email(**request)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("e-mail not sent", extra={"template": template, "reason": str(exc)})
        raise MailError(str(exc)) from exc
    message_id = str(answer.get("MessageId", ""))
    logger.info("e-mail sent", extra={"template": template, "message_id": message_id})
    return message_id
