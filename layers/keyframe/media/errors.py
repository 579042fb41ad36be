"""Media errors: a file that is not what it must be, as opposed to a failure of the machinery.

The class name matters: a Lambda task that raises one of these reports it as ``errorType``, which
Step Functions uses as the error name (``Retry`` never lists them; ``Catch`` sends them to MarkFailed).
"""

from __future__ import annotations

from keyframe.errors import InvalidInput


class InvalidMediaError(InvalidInput):
    """The file's bytes are not an accepted, readable media or scene file (never worth a retry)."""

    default_code = "INVALID_MEDIA"


class TypeMismatchError(InvalidMediaError):
    """The bytes are an accepted type, but not the kind the name or declared content type claims
    (a zip renamed ``.mp4``)."""

    default_code = "TYPE_MISMATCH"


class ChecksumMismatchError(InvalidMediaError):
    """The stored object's SHA-256 differs from the one the client declared."""

    default_code = "CHECKSUM_MISMATCH"
