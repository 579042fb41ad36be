"""The local check ``keyframe upload`` makes before sending a byte: is this file what the pipeline accepts?

It runs the very checks of the pipeline's Validate step (``keyframe.pipeline.validation``), with the
same pure detector, :mod:`keyframe.media.detect`, on the local file instead of the stored object:

1. :func:`~keyframe.media.detect.detect` on the first :data:`~keyframe.media.detect.HEAD_BYTES`:
   the real type from the magic bytes (a text file, a PDF, random bytes are refused);
2. :func:`~keyframe.media.detect.check_claims`: the name's extension and the declared content type
   must claim the kind the bytes are (a zip renamed ``.mp4`` is refused);
3. :func:`~keyframe.media.detect.check_structure`: a truncated MP4/MOV/WAV/GLB is refused.

A file refused here would have been uploaded in full and then marked FAILED by the pipeline.
``keyframe upload --force`` skips the check (the pipeline still decides).
"""

from __future__ import annotations

from pathlib import Path

from keyframe.media.detect import HEAD_BYTES, Detected, check_claims, check_structure, detect


def check_file(path: Path, content_type: str | None) -> Detected:
    """What ``path`` really is, when the pipeline would accept it under its name and ``content_type``.

    Parameters
    ----------
    path:
        The local file (its name is the ``fileName`` the upload declares).
    content_type:
        The MIME type the upload will declare.

    Returns
    -------
    Detected
        Kind, format and canonical content type, as the pipeline will find them.

    Raises
    ------
    keyframe.media.errors.InvalidMediaError
        Empty, not an accepted type, or truncated (``code`` ``INVALID_MEDIA``).
    keyframe.media.errors.TypeMismatchError
        The bytes are another kind than the name or content type claims (``TYPE_MISMATCH``).
    OSError
        The file cannot be read.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:

        def read(offset: int, length: int) -> bytes:
            handle.seek(offset)
            return handle.read(length)

        detected = detect(read(0, HEAD_BYTES), size=size)
        check_claims(detected, path.name, content_type)
        check_structure(detected, read, size)
    return detected
