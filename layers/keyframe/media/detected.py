"""What the detectors find: the :class:`Detected` type, the accepted kinds and the refusal message.

Shared by the detectors of :mod:`keyframe.media.detect` (:mod:`~keyframe.media.signatures`,
:mod:`~keyframe.media.text_formats`), the structure checks (:mod:`~keyframe.media.structure`) and the
claim checks (:mod:`~keyframe.media.claims`). Pure: no I/O.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from keyframe.media.errors import InvalidMediaError

HEAD_BYTES = 64 * 1024
"""How many leading bytes :func:`keyframe.media.detect.detect` needs (one Range GET)."""

KINDS = ("video", "image", "audio", "scene", "archive")
DERIVED_KINDS = frozenset({"video", "image", "audio"})
"""Kinds for which the pipeline derives a thumbnail, proxy or waveform."""

ACCEPTED_SUMMARY = (
    "video (mp4, mov, mkv, webm, mpeg, mxf), image (png, jpeg, exr, tiff), audio (wav, mp3, aac, flac), "
    "scene (fbx, abc, usd/usda/usdc/usdz, blend, sif/sifz, obj, gltf/glb) or zip"
)


@dataclass(frozen=True)
class Detected:
    """The real type of a file.

    Attributes
    ----------
    kind:
        ``video``, ``image``, ``audio``, ``scene`` or ``archive``.
    format:
        Short format name (``mp4``, ``mov``, ``png``, ``usdz``, ``zip`` ...).
    content_type:
        The canonical MIME type of ``format``.
    claims:
        Kinds that a client may truthfully declare for these bytes (an MP4 holding only sound is
        ``audio/mp4``, a USDZ is also a zip).
    """

    kind: str
    format: str
    content_type: str
    claims: frozenset[str] = field(default_factory=frozenset)

    def accepts_claim(self, kind: str) -> bool:
        """True if a client declaring ``kind`` told the truth about these bytes."""
        return kind == self.kind or kind in self.claims


def found(kind: str, fmt: str, content_type: str, *also: str) -> Detected:
    """A :class:`Detected` of ``kind``/``fmt``/``content_type`` that may also be claimed as ``also``."""
    return Detected(kind, fmt, content_type, frozenset(also))


def not_accepted(what: str) -> InvalidMediaError:
    """The error for bytes that are ``what`` ("a PDF document"): names it and lists the accepted types."""
    return InvalidMediaError(
        f"The file is {what}, which is not an accepted type; accepted: {ACCEPTED_SUMMARY}",
        details={"found": what},
    )


def u32be(data: bytes, offset: int) -> int:
    """The big-endian unsigned 32-bit integer at ``offset`` of ``data`` (``struct.error`` if cut off)."""
    return struct.unpack_from(">I", data, offset)[0]
