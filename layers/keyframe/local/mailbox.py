"""The local stack's mailbox: every e-mail the functions sent, as the embedded emulator's SES kept it.

moto's SES does not deliver; it keeps each message (``sent_messages`` of its backend, in the stack's
own process). This module reads them back:

- :func:`messages`: every captured e-mail, newest first, parsed (subject, both parts, links);
- :func:`wsgi_app`: ``GET /_local/mailbox`` (JSON list; ``?to=`` filters by recipient) and
  ``GET /_local/mailbox/{id}`` (one message; ``/_local/mailbox/{id}.html`` shows its HTML part, so a
  developer can click its links), served by the local HTTP API only: it is not an API route and is
  not deployed;
- :class:`MailboxWatcher`: logs one line per new e-mail in ``make dev``'s output (recipient, subject
  and its links).

With ``AWS_ENDPOINT_URL`` (a running LocalStack) the emulator is not in this process and the mailbox
is empty; LocalStack lists its own captured mail at ``/_aws/ses``. The mailbox is not saved across
restarts.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.ses.models import RawMessage, ses_backends

log = logging.getLogger("keyframe.local.mail")

PATH = "/_local/mailbox"
LINK = re.compile(r"https?://[^\s<>\"')]+")


@dataclass(frozen=True)
class CapturedMail:
    """One captured e-mail (JSON: camelCase keys of :meth:`as_json`)."""

    id: str
    sender: str
    to: list[str]
    subject: str
    text: str
    html: str
    links: list[str] = field(default_factory=list)
    template: str | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"id", "from", "to", "subject", "template", "text", "html", "links"}``."""
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data


def _parse(message_id: str, source: str, destinations: list[str], raw: str) -> CapturedMail:
    parsed = email.message_from_string(raw, policy=email.policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    text = text_part.get_content() if text_part is not None else ""  # type: ignore[attr-defined]
    body_html = html_part.get_content() if html_part is not None else ""  # type: ignore[attr-defined]
    to = [str(address) for address in (parsed.get_all("To") or [])] or list(destinations)
    return CapturedMail(
        id=message_id,
        sender=str(parsed.get("From") or source),
        to=to,
        subject=str(parsed.get("Subject") or ""),
        text=text,
        html=body_html,
        links=list(dict.fromkeys(LINK.findall(text))),
        template=parsed.get("X-Keyframe-Template"),
    )


def _captured() -> Iterable[Any]:
    for regions in ses_backends.values():
        for backend in regions.values():
            yield from list(backend.sent_messages)


_parsed: dict[str, CapturedMail] = {}
"""Each captured e-mail as parsed the first time it was read, by id (a sent e-mail never changes)."""


def _captured_mail(sent: Any) -> CapturedMail:
    """``sent`` (moto's SES record) as a :class:`CapturedMail`, parsed once per message id."""
    mail = _parsed.get(sent.id)
    if mail is not None:
        return mail
    if isinstance(sent, RawMessage):
        mail = _parse(sent.id, sent.source, list(sent.destinations), sent.raw_data)
    else:  # SendEmail with simple content: one body only
        destinations = [a for addresses in sent.destinations.values() for a in addresses]
        body = str(getattr(sent, "body", ""))
        mail = CapturedMail(
            id=sent.id,
            sender=sent.source,
            to=destinations,
            subject=str(getattr(sent, "subject", "")),
            text=body,
            html=body,
            links=list(dict.fromkeys(LINK.findall(body))),
        )
    _parsed[sent.id] = mail
    return mail


def messages(to: str | None = None) -> list[CapturedMail]:
    """Every e-mail captured so far, newest first; with ``to``, only those sent to that address.

    Each message is parsed once (the watcher reads the mailbox every 0.5 s; parsing every e-mail
    again each time cost the stack 7 % of its CPU under the e2e tests).
    """
    found: list[CapturedMail] = []
    for sent in _captured():
        mail = _captured_mail(sent)
        if to is None or any(to.lower() in address.lower() for address in mail.to):
            found.append(mail)
    found.reverse()
    return found


def _respond(
    start_response: Callable[..., Any], status: str, body: bytes, content_type: str = "application/json"
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _error(start_response: Callable[..., Any], status: str, code: str, message: str) -> list[bytes]:
    body = {"error": {"code": code, "message": message, "correlationId": "local-mailbox"}}
    return _respond(start_response, status, json.dumps(body).encode())


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Answer ``GET /_local/mailbox[/{id}[.html]]`` (the module docstring)."""
    if environ.get("REQUEST_METHOD") != "GET":
        return _error(
            start_response, "405 Method Not Allowed", "METHOD_NOT_ALLOWED", "The mailbox is read-only"
        )
    path = environ.get("PATH_INFO", "")
    rest = path[len(PATH) :].strip("/")
    to = (parse_qs(environ.get("QUERY_STRING") or "").get("to") or [""])[0].strip()
    found = messages(to or None)
    if not rest:
        body = {"items": [mail.as_json() for mail in found]}
        return _respond(start_response, "200 OK", json.dumps(body).encode())
    wanted, as_html = (rest[: -len(".html")], True) if rest.endswith(".html") else (rest, False)
    for mail in found:
        if mail.id == wanted:
            if as_html:
                return _respond(start_response, "200 OK", mail.html.encode(), "text/html; charset=utf-8")
            return _respond(start_response, "200 OK", json.dumps(mail.as_json()).encode())
    return _error(start_response, "404 Not Found", "MAIL_NOT_FOUND", "No captured e-mail with this id")


def is_mailbox_path(path: str) -> bool:
    """True for ``/_local/mailbox`` and the paths under it."""
    return path == PATH or path.startswith(PATH + "/")


class MailboxWatcher:
    """Logs each new captured e-mail once (``mail to … "subject" link: …``), every ``interval`` s."""

    def __init__(self, base_url: str, interval: float = 0.5) -> None:
        self.base_url = base_url
        self.interval = interval
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> list[CapturedMail]:
        """Log and return the e-mails not logged before (oldest first)."""
        new = [mail for mail in reversed(messages()) if mail.id not in self._seen]
        for mail in new:
            self._seen.add(mail.id)
            links = " ".join(mail.links) or "(no link)"
            log.info(
                "mail to %s: %r %s (view: %s%s/%s.html)",
                ", ".join(mail.to), mail.subject, links, self.base_url, PATH, mail.id,
            )  # fmt: skip
        return new

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # never let the log line take the stack down
                log.exception("reading the mailbox failed")

    def start(self) -> None:
        """Poll on a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="mailbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
