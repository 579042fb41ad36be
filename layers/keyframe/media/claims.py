"""What an upload claims to be (its file name's extension, its declared content type), against its bytes.

Pure: no I/O.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from keyframe.media.detected import Detected
from keyframe.media.errors import TypeMismatchError

EXTENSION_KINDS: dict[str, str] = {
    **dict.fromkeys(
        ("mp4", "m4v", "mov", "qt", "mkv", "webm", "mpg", "mpeg", "m2v", "ts", "m2ts", "mts", "mxf", "3gp"),
        "video",
    ),
    **dict.fromkeys(("png", "jpg", "jpeg", "jpe", "exr", "tif", "tiff"), "image"),
    **dict.fromkeys(("wav", "wave", "bwf", "mp3", "mp2", "aac", "flac", "m4a"), "audio"),
    **dict.fromkeys(
        ("fbx", "abc", "usd", "usda", "usdc", "usdz", "blend", "sif", "sifz", "obj", "gltf", "glb"), "scene"
    ),
    "zip": "archive",
}
"""File extension -> the kind it claims. Unknown extensions claim nothing."""

_NEUTRAL_CONTENT_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/binary", "text/plain"}
)
_CONTENT_TYPE_KINDS: dict[str, str] = {
    "application/zip": "archive",
    "application/x-zip-compressed": "archive",
    "application/mxf": "video",
    "application/vnd.autodesk.fbx": "scene",
    "application/x-alembic": "scene",
    "application/x-blender": "scene",
    "application/x-synfig": "scene",
}


def claimed_kinds(file_name: str | None, content_type: str | None) -> dict[str, str]:
    """The kinds the upload claims, by source: ``{"extension": ..., "contentType": ...}``.

    A source that claims nothing (no or an unknown extension; ``application/octet-stream``) is left
    out, so an honest generic upload is judged by its bytes alone.
    """
    claims: dict[str, str] = {}
    suffix = PurePosixPath(file_name or "").suffix.lower().lstrip(".")
    if suffix in EXTENSION_KINDS:
        claims["extension"] = EXTENSION_KINDS[suffix]
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime not in _NEUTRAL_CONTENT_TYPES:
        major = mime.split("/")[0]
        kind = _CONTENT_TYPE_KINDS.get(mime) or {
            "video": "video",
            "image": "image",
            "audio": "audio",
            "model": "scene",
        }.get(major)
        if kind:
            claims["contentType"] = kind
    return claims


def check_claims(detected: Detected, file_name: str | None, content_type: str | None) -> None:
    """Raise when the name or the declared content type claims another kind than the bytes are.

    Raises
    ------
    TypeMismatchError
        E.g. ``clip.mp4`` / ``video/mp4`` whose bytes are a zip archive; the message names both.
    """
    for source, kind in claimed_kinds(file_name, content_type).items():
        if not detected.accepts_claim(kind):
            said = (
                f"its name {file_name!r}" if source == "extension" else f"its content type {content_type!r}"
            )
            raise TypeMismatchError(
                f"The file's bytes are {detected.kind} ({detected.format}) but {said} says {kind}",
                details={"detected": {"kind": detected.kind, "format": detected.format}, source: kind},
            )
