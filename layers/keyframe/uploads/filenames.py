"""File-name rules for uploads (pure: no I/O).

The name becomes the last segment of the object key
``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}`` and is shown to people, so
Keyframe *rejects* (400) rather than silently rewrites a name that could change the key's shape or
fool a reader: path separators (``/`` and ``\\``), ``.`` and ``..``, control characters (C0, DEL,
C1) and the Unicode bidirectional overrides that can disguise an extension
(``"evil\\u202egpj.exe"`` displays as ``evilexe.jpg``). Names are limited to 255 bytes of UTF-8,
like most file systems. Any other character, spaces and non-Latin scripts included, is kept as typed.
"""

from __future__ import annotations

import unicodedata

from keyframe.errors import InvalidInput, field_details

MAX_FILE_NAME_BYTES = 255

_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_file_name(name: str) -> str:
    """Return ``name`` if it is a safe single file name, else raise.

    Parameters
    ----------
    name:
        The file name as the client sent it (already stripped of surrounding whitespace).

    Returns
    -------
    str
        The same name.

    Raises
    ------
    InvalidInput
        (code ``INVALID_FILE_NAME``, ``details.reason``) for an empty name, a name over 255 UTF-8
        bytes, ``.``/``..``, a path separator, a control character or a bidirectional override.
    """

    def reject(reason: str, message: str) -> InvalidInput:
        details = field_details("fileName", message, reason=reason)
        return InvalidInput(message, code="INVALID_FILE_NAME", details=details)

    if not name:
        raise reject("empty", "The file name is empty")
    if len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        raise reject("too_long", f"The file name is longer than {MAX_FILE_NAME_BYTES} bytes")
    if name in (".", ".."):
        raise reject("dot_segment", "The file name cannot be '.' or '..'")
    if "/" in name or "\\" in name:
        raise reject("path_separator", "The file name cannot contain '/' or '\\': send the name only")
    for char in name:
        if unicodedata.category(char) == "Cc":
            raise reject("control_character", f"The file name contains control character U+{ord(char):04X}")
        if char in _BIDI_CONTROLS:
            raise reject("bidi_control", f"The file name contains the direction control U+{ord(char):04X}")
    return name
