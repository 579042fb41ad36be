"""What a file really is, from its bytes: magic numbers, container structure, text heuristics.

The name and the declared content type of an upload are claims; :func:`detect` looks only at the
first bytes (:data:`HEAD_BYTES` is enough for every accepted format) and :func:`check_structure` reads
a few more (ISO BMFF top-level box headers, the RIFF size) through a ``read(offset, length)`` callable
so that a truncated file is found without downloading it. :func:`check_claims` then compares what was
found with what was claimed.

This module is the detector's one entry point (the pipeline's Validate step and the ``keyframe upload``
preflight import only it); the work is done by one module a job, all pure:
:mod:`~keyframe.media.signatures` (binary magic numbers), :mod:`~keyframe.media.text_formats` (text
heuristics), :mod:`~keyframe.media.structure` (truncation checks), :mod:`~keyframe.media.claims`
(extension and content type against the bytes), on the types of :mod:`~keyframe.media.detected`.

Accepted (kind: formats):

- video: mp4 (and 3GP), mov, mkv, webm, mpeg (program stream / elementary), mpegts (TS and M2TS), mxf
- image: png, jpeg, exr, tiff
- audio: wav, mp3 (and MPEG layer I/II), aac (ADTS), flac, m4a
- scene: fbx (binary and ASCII), abc (Ogawa), usda, usdc, usdz, blend (plain or gzip), sif, sifz, obj,
  gltf, glb
- archive: zip
"""

from __future__ import annotations

from keyframe.media.claims import EXTENSION_KINDS, check_claims, claimed_kinds
from keyframe.media.detected import (
    ACCEPTED_SUMMARY,
    DERIVED_KINDS,
    HEAD_BYTES,
    KINDS,
    Detected,
    not_accepted,
)
from keyframe.media.errors import InvalidMediaError
from keyframe.media.signatures import binary_format, mpeg_audio_frame_length
from keyframe.media.structure import Box, check_structure, walk_boxes
from keyframe.media.text_formats import text_format

__all__ = [
    "ACCEPTED_SUMMARY",
    "DERIVED_KINDS",
    "EXTENSION_KINDS",
    "HEAD_BYTES",
    "KINDS",
    "Box",
    "Detected",
    "check_claims",
    "check_structure",
    "claimed_kinds",
    "detect",
    "mpeg_audio_frame_length",
    "walk_boxes",
]


def detect(head: bytes, *, size: int | None = None) -> Detected:
    """Identify a file from its first bytes.

    Parameters
    ----------
    head:
        The first bytes of the file (up to :data:`HEAD_BYTES`; fewer when the file is smaller).
    size:
        The whole file's size in bytes, when known (tells whether ``head`` is the whole file).

    Returns
    -------
    Detected
        Kind, format and canonical content type.

    Raises
    ------
    InvalidMediaError
        Empty, or not an accepted type; the message names what the bytes look like (a PDF, a text
        file ...) and lists the accepted types.
    """
    if not head:
        raise InvalidMediaError("The file is empty")
    truncated = size is None or size > len(head)
    detected = binary_format(head) or text_format(head, truncated)
    if detected:
        return detected
    raise not_accepted("of no recognised type")
