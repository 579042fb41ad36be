"""Text formats recognised by their content: USDA, ASCII FBX, Synfig, glTF (JSON) and Wavefront OBJ.

:func:`text_format` is the last step of :func:`keyframe.media.detect.detect`, for bytes that no
signature matched. Pure: no I/O.
"""

from __future__ import annotations

import json

from keyframe.media.detected import Detected, found, not_accepted

_OBJ_KEYWORDS = frozenset(
    [
        "v",
        "vt",
        "vn",
        "vp",
        "f",
        "l",
        "p",
        "o",
        "g",
        "s",
        "mtllib",
        "usemtl",
        "cstype",
        "deg",
        "curv",
        "curv2",
        "surf",
        "parm",
        "trim",
        "hole",
        "scrv",
        "sp",
        "end",
        "con",
        "mg",
        "bevel",
        "c_interp",
        "d_interp",
        "lod",
        "shadow_obj",
        "trace_obj",
        "ctech",
        "stech",
        "bmat",
        "step",
    ]
)


def _text_of(head: bytes, truncated: bool) -> str | None:
    if b"\x00" in head:
        return None
    sample = head
    for _ in range(4):
        try:
            text = sample.decode("utf-8")
            break
        except UnicodeDecodeError:
            if not truncated or not sample:
                return None
            sample = sample[:-1]  # a multi-byte character cut by the range read
    else:
        return None
    if truncated and "\n" in text:
        text = text[: text.rindex("\n")]  # the last line may be cut off
    return text.lstrip("\ufeff")


def _looks_like_obj(text: str) -> bool:
    lines = [line.strip() for line in text.splitlines()]
    statements = [line for line in lines if line and not line.startswith("#")]
    if not statements:
        return False
    keywords = [line.split(None, 1)[0] for line in statements]
    known = sum(1 for word in keywords if word in _OBJ_KEYWORDS)
    return "v" in keywords and known / len(statements) >= 0.95


def _looks_like_gltf(text: str, truncated: bool) -> bool:
    if not text.lstrip().startswith("{"):
        return False
    if not truncated:
        try:
            document = json.loads(text)
        except ValueError:
            return False
        return isinstance(document, dict) and isinstance(document.get("asset"), dict)
    return '"asset"' in text and '"version"' in text


def text_format(head: bytes, truncated: bool) -> Detected | None:
    """Identify a text file from its first bytes.

    Parameters
    ----------
    head:
        The first bytes of the file.
    truncated:
        True when ``head`` is not the whole file (its last line or character may be cut off).

    Returns
    -------
    Detected or None
        A text scene format; ``None`` when the bytes are not UTF-8 text (or hold a NUL byte).

    Raises
    ------
    InvalidMediaError
        Text of no accepted format.
    """
    text = _text_of(head, truncated)
    if text is None:
        return None
    stripped = text.lstrip()
    if stripped.startswith("#usda "):
        return found("scene", "usda", "model/vnd.usda")
    if stripped.startswith("; FBX"):
        return found("scene", "fbx", "application/vnd.autodesk.fbx")
    if stripped.startswith(("<?xml", "<canvas")) and "<canvas" in stripped[:4096]:
        return found("scene", "sif", "application/x-synfig")
    if _looks_like_gltf(stripped, truncated):
        return found("scene", "gltf", "model/gltf+json")
    if _looks_like_obj(text):
        return found("scene", "obj", "model/obj")
    raise not_accepted("a text file")
