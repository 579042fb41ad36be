"""Reading a request body once, strictly, before any route sees it.

Every REST function goes through :func:`read_json_body` (called by
:class:`keyframe.http.app.KeyframeResolver`), public routes such as ``POST /auth/login`` included:

* the media type is parsed as RFC 9110 section 8.3.1 defines it (type, subtype and parameter names
  are case-insensitive; parameters may be quoted): ``application/json`` with no ``charset`` or
  ``charset=utf-8`` is accepted; any other type or charset answers 415 ``UNSUPPORTED_MEDIA_TYPE``;
* the bytes must be UTF-8 (400 ``INVALID_ENCODING``), one JSON value (400 ``MALFORMED_JSON``;
  ``NaN``/``Infinity`` are not JSON), no object may repeat a key (400 ``DUPLICATE_KEY``) and arrays
  and objects nest at most :data:`MAX_DEPTH` levels (400 ``BODY_TOO_DEEP``).

The route then receives the parsed value re-serialised, so Powertools' own parser never sees the
original bytes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from keyframe.errors import InvalidInput, KeyframeError

MAX_DEPTH = 32
"""Deepest nesting of arrays/objects a request body may have (the outermost value is level 1)."""

JSON_MEDIA_TYPE = "application/json"

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t !-~\x80-\xff])*"'
_PARAMETERS = rf"(?:[ \t]*;[ \t]*(?:{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))?)*"
_MEDIA_TYPE = re.compile(rf"^({_TOKEN})/({_TOKEN})({_PARAMETERS})[ \t]*$")
_PARAMETER = re.compile(rf"({_TOKEN})=({_TOKEN}|{_QUOTED})")


class UnsupportedMediaType(KeyframeError):
    """The body's media type or charset is not one the API reads (HTTP 415)."""

    default_code = "UNSUPPORTED_MEDIA_TYPE"


@dataclass(frozen=True)
class MediaType:
    """A parsed ``Content-Type``: lower-cased ``type/subtype`` and parameters (names lower-cased)."""

    essence: str
    parameters: dict[str, str]


def parse_media_type(value: str) -> MediaType | None:
    """Parse a ``Content-Type`` value per RFC 9110 (``None`` when it is not a media type).

    Examples
    --------
    >>> parse_media_type('Application/JSON; Charset="UTF-8"')
    MediaType(essence='application/json', parameters={'charset': 'UTF-8'})
    """
    match = _MEDIA_TYPE.match(value.strip(" \t"))
    if not match:
        return None
    parameters: dict[str, str] = {}
    for name, raw in _PARAMETER.findall(match.group(3)):
        text = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
        parameters.setdefault(name.lower(), text)
    return MediaType(f"{match.group(1)}/{match.group(2)}".lower(), parameters)


def check_json_media_type(value: str | None) -> None:
    """Accept ``application/json`` (any case) with no charset or ``charset=utf-8``.

    Raises
    ------
    UnsupportedMediaType
        Missing, malformed or other media type, or another charset (``details.contentType``).
    """
    media = parse_media_type(value or "")
    if media is None or media.essence != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(
            "Send the request body as application/json", details={"contentType": value or ""}
        )
    charset = media.parameters.get("charset")
    if charset is not None and charset.lower() != "utf-8":
        raise UnsupportedMediaType(
            "Send the request body as application/json in UTF-8 (charset=utf-8 or no charset)",
            details={"contentType": value, "charset": charset},
        )


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput(
                f"The key {key!r} appears twice in one JSON object",
                code="DUPLICATE_KEY",
                details={"key": key},
            )
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep() -> InvalidInput:
    return InvalidInput(
        f"The request body nests arrays and objects deeper than {MAX_DEPTH} levels",
        code="BODY_TOO_DEEP",
        details={"maxDepth": MAX_DEPTH},
    )


def _depth_exceeds(text: str, limit: int) -> bool:
    """True when brackets outside strings nest deeper than ``limit`` (exact for valid JSON; checked
    before parsing, so a deep body costs one linear scan and no recursion)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    level = 0
    for char in re.sub(r"[^\[\]{}]", "", without_strings):
        level = level + 1 if char in "[{" else level - 1
        if level > limit:
            return True
    return False


def parse_json(raw: bytes) -> Any:
    """Decode and parse one request body strictly (see the module docstring).

    Raises
    ------
    InvalidInput
        ``INVALID_ENCODING``, ``MALFORMED_JSON``, ``DUPLICATE_KEY`` or ``BODY_TOO_DEEP`` (all 400).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The request body is not valid UTF-8",
            code="INVALID_ENCODING",
            details={"position": exc.start},
        ) from exc
    if _depth_exceeds(text, MAX_DEPTH):
        raise _too_deep()
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers of over 4300 digits
        raise InvalidInput(
            "The request body is not valid JSON",
            code="MALFORMED_JSON",
            details={
                "fields": [{"field": "body", "message": str(exc), "type": "json_invalid", "in": "body"}]
            },
        ) from exc
    return value
