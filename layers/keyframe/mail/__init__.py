"""E-mail: templated messages (plain text + HTML) sent with Amazon SES.

The one public entry point is :func:`send`::

    from keyframe import mail

    mail.send(
        "ana@example.com",
        "invitation",
        {"studioName": "Moonbeam", "inviterName": "Bo", "role": "ARTIST", "link": link, "expiresAt": "…"},
    )

- :mod:`keyframe.mail.templates`: the templates (``invitation``, ``password-reset``, ``notification``,
  ``digest``); another domain adds its own with :func:`register`. Values are escaped in the HTML part.
- :func:`link` builds a front-end link (``FRONTEND_URL`` + path + query), e.g. the invitation link
  that carries the token.
- :mod:`keyframe.mail.sender`: builds one MIME message (``multipart/alternative``: text, then HTML)
  and sends it with SES v2 ``SendEmail`` (``Content.Raw``) from ``MAIL_FROM``.

On the local stack (``make dev``) the AWS emulator's SES keeps every message instead of delivering
it; the stack lists them at ``GET /_local/mailbox`` and logs one line per message with its links
(:mod:`keyframe.local.mailbox`).
"""

from __future__ import annotations

from keyframe.mail.sender import MailError, link, send
from keyframe.mail.templates import MailTemplate, RenderedMail, register, render

__all__ = ["MailError", "MailTemplate", "RenderedMail", "link", "register", "render", "send"]
