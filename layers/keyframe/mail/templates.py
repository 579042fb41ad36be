"""E-mail templates: a subject, a plain-text body and an HTML body per template name.

Templates use :class:`string.Template` placeholders (``$studioName`` / ``${studioName}``). Every
value is inserted as given in the subject and the text part and HTML-escaped (``html.escape``) in
the HTML part, so a studio called ``<b>Moon</b>`` shows as typed and never becomes markup. A missing
value is an error (:class:`KeyError` naming it), never an e-mail with ``$studioName`` in it.

The HTML part is wrapped in one layout (:data:`LAYOUT`): a header with ``$studioName`` (when the
template has it) and a footer; an ``unsubscribeLink`` value adds an unsubscribe line to both parts.

Built-in templates and their values:

=================  ===========================================================================
``invitation``     ``studioName``, ``inviterName``, ``role``, ``link``, ``expiresAt``
``password-reset`` ``displayName``, ``link``, ``minutes``
``notification``   ``studioName``, ``title``, ``body``, ``link``; optional ``unsubscribeLink``
``digest``         ``studioName``, ``count``, ``items`` (pre-rendered lines, one per item: shown
                   as lines in the text part and as list items in the HTML part), ``link``;
                   optional ``unsubscribeLink``
=================  ===========================================================================
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from string import Template

LAYOUT = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$subject</title></head>
<body style="margin:0;padding:24px;background:#f4f4f6;font-family:system-ui,sans-serif;color:#1d1d24">
<div style="max-width:560px;margin:0 auto;background:#fff;border-radius:8px;padding:24px">
<p style="margin:0 0 16px;font-size:13px;color:#6b6b7b">Keyframe$studio</p>
$content
<p style="margin:24px 0 0;font-size:12px;color:#6b6b7b">Sent by Keyframe.$unsubscribe</p>
</div></body></html>
"""
)
"""The HTML page every template's ``html`` is put in (``$content``)."""

BUTTON = '<p><a href="{href}" style="display:inline-block;padding:10px 16px;background:#4b45d1;color:#fff;border-radius:6px;text-decoration:none">{label}</a></p>'  # noqa: E501 - one HTML line
"""A call-to-action link styled as a button (``href`` and ``label`` already escaped)."""


@dataclass(frozen=True)
class MailTemplate:
    """One e-mail template.

    Attributes
    ----------
    name:
        What callers pass to :func:`keyframe.mail.send` (``invitation``).
    subject / text / html:
        :class:`string.Template` sources. ``html`` is the inside of the layout; values are escaped
        there. ``$button`` in ``html`` becomes a button to ``$link`` labelled :attr:`button_label`.
    button_label:
        The label of ``$button`` (may hold placeholders).
    list_value:
        The value, if any, that is a list of lines (the digest's ``items``).
    """

    name: str
    subject: str
    text: str
    html: str
    button_label: str = "Open Keyframe"
    list_value: str | None = None


@dataclass(frozen=True)
class RenderedMail:
    """A template filled with its values: what is sent."""

    subject: str
    text: str
    html: str


_templates: dict[str, MailTemplate] = {}


def register(template: MailTemplate) -> None:
    """Add ``template`` (or replace the one of the same name). Domains call it at import."""
    _templates[template.name] = template


def names() -> list[str]:
    """Every registered template name, sorted."""
    return sorted(_templates)


def _scalar(value: object) -> str:
    return "" if value is None else str(value)


def render(name: str, values: Mapping[str, object]) -> RenderedMail:
    """Fill template ``name`` with ``values``.

    Raises
    ------
    LookupError
        No template is called ``name``.
    KeyError
        A placeholder of the template has no value.
    """
    try:
        template = _templates[name]
    except KeyError:
        raise LookupError(f"no e-mail template {name!r} (known: {', '.join(names())})") from None
    plain = {key: _scalar(value) for key, value in values.items() if key != template.list_value}
    escaped = {key: html.escape(value) for key, value in plain.items()}
    if template.list_value is not None:
        lines = [_scalar(line) for line in values[template.list_value]]  # type: ignore[attr-defined]
        plain[template.list_value] = "\n".join(f"- {line}" for line in lines)
        escaped[template.list_value] = (
            "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"
        )
    subject = Template(template.subject).substitute(plain).replace("\n", " ").strip()
    text = Template(template.text).substitute(plain)
    if "link" in escaped:
        label = Template(template.button_label).substitute(escaped)
        escaped["button"] = BUTTON.format(href=escaped["link"], label=label)
    content = Template(template.html).substitute(escaped)
    unsubscribe = plain.get("unsubscribeLink")
    if unsubscribe:
        text += f"\n\nStop these e-mails: {unsubscribe}\n"
    page = LAYOUT.substitute(
        subject=html.escape(subject),
        studio=f" · {escaped['studioName']}" if "studioName" in escaped else "",
        content=content,
        unsubscribe=(
            f' <a href="{escaped["unsubscribeLink"]}" style="color:#6b6b7b">Stop these e-mails</a>.'
            if unsubscribe
            else ""
        ),
    )
    return RenderedMail(subject=subject, text=text, html=page)


register(
    MailTemplate(
        name="invitation",
        subject="$inviterName invited you to $studioName on Keyframe",
        text="""$inviterName invited you to join $studioName on Keyframe as $role.

Accept the invitation (with a new account, or the one you already have):
$link

The link works once and expires at $expiresAt. If you did not expect this e-mail, ignore it.
""",
        html="""<h1 style="font-size:20px;margin:0 0 12px">Join $studioName on Keyframe</h1>
<p>$inviterName invited you to join <strong>$studioName</strong> as <strong>$role</strong>.</p>
$button
<p style="font-size:13px;color:#6b6b7b">Or paste this link into your browser: $link<br>
It works once and expires at $expiresAt. If you did not expect this e-mail, ignore it.</p>""",
        button_label="Accept the invitation",
    )
)

register(
    MailTemplate(
        name="password-reset",
        subject="Reset your Keyframe password",
        text="""Hello $displayName,

Someone (hopefully you) asked to reset the password of your Keyframe account.
Choose a new password here:
$link

The link works once and expires in $minutes minutes. Resetting signs you out everywhere.
If you did not ask for this, ignore this e-mail: your password stays as it is.
""",
        html="""<h1 style="font-size:20px;margin:0 0 12px">Reset your password</h1>
<p>Hello $displayName, someone (hopefully you) asked to reset the password of your Keyframe account.</p>
$button
<p style="font-size:13px;color:#6b6b7b">Or paste this link into your browser: $link<br>
It works once and expires in $minutes minutes. Resetting signs you out everywhere.
If you did not ask for this, ignore this e-mail: your password stays as it is.</p>""",
        button_label="Choose a new password",
    )
)

register(
    MailTemplate(
        name="notification",
        subject="$title",
        text="""$title

$body

$link
""",
        html="""<h1 style="font-size:18px;margin:0 0 12px">$title</h1>
<p>$body</p>
$button""",
        button_label="Open in Keyframe",
    )
)

register(
    MailTemplate(
        name="digest",
        subject="$count new in $studioName",
        text="""$count new in $studioName:

$items

$link
""",
        html="""<h1 style="font-size:18px;margin:0 0 12px">$count new in $studioName</h1>
$items
$button""",
        button_label="Open your inbox",
        list_value="items",
    )
)
