"""The Validate step's checks on a stored upload, reading as little of it as possible.

1. ``HeadObject``: it exists, its size;
2. one ``Range`` GET of the first :data:`~keyframe.media.detect.HEAD_BYTES`: the real type from the
   magic bytes (:func:`keyframe.media.detect.detect`), never from the name or declared content type;
3. the claims (extension, declared content type) must agree with the bytes (``TYPE_MISMATCH``);
4. cheap structure checks with a few more Range GETs (ISO BMFF boxes: truncated MP4/MOV);
5. when the client declared a SHA-256, the whole object streamed through the hash in
   :data:`HASH_CHUNK_BYTES` chunks (``CHECKSUM_MISMATCH``); never held in memory.

Bucket: the media bucket (read only).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyframe.media.detect import HEAD_BYTES, Detected, check_claims, check_structure, detect
from keyframe.media.errors import ChecksumMismatchError, InvalidMediaError
from keyframe.pipeline.errors import TransientError

HASH_CHUNK_BYTES = 8 * 1024 * 1024
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "RequestTimeout",
        "TransactionConflictException",
        "503",
        "500",
    }
)


@contextmanager
def transient_errors() -> Iterator[None]:
    """Turn throttling, 5xx and connection errors of boto3 into :class:`TransientError` (retried)."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _TRANSIENT_CODES or status >= 500:
            raise TransientError(f"AWS was busy or failing ({code or status}); will retry") from exc
        raise
    except BotoCoreError as exc:  # connection refused/closed, read timeouts
        raise TransientError(f"AWS could not be reached ({type(exc).__name__}); will retry") from exc


def normalise_sha256(value: str) -> str:
    """A declared SHA-256 as lowercase hex (accepts 64 hex characters or standard base64).

    Raises
    ------
    InvalidMediaError
        Neither form (``INVALID_CHECKSUM``).
    """
    text = value.strip()
    if len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidMediaError(
            "The declared SHA-256 is neither 64 hex digits nor base64", code="INVALID_CHECKSUM"
        )
    return raw.hex()


class StoredObject:
    """Ranged reads of one S3 object, reusing the first block read.

    Parameters
    ----------
    s3:
        A boto3 S3 client.
    bucket, key:
        The object.
    """

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                raise InvalidMediaError("The uploaded file is not in storage", code="UPLOAD_MISSING") from exc
            raise
        self.size = int(head["ContentLength"])
        self._head = b""

    def read(self, offset: int, length: int) -> bytes:
        """At most ``length`` bytes from ``offset`` (fewer at the end of the object)."""
        if length <= 0 or offset >= self.size:
            return b""
        if offset + length <= len(self._head) or (self._head and len(self._head) == self.size):
            return self._head[offset : offset + length]
        end = min(self.size, offset + length) - 1
        body = self.s3.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={offset}-{end}")["Body"]
        return body.read()

    def head(self) -> bytes:
        """The first :data:`HEAD_BYTES` (one Range GET, then cached)."""
        if not self._head:
            self._head = self.read(0, HEAD_BYTES)
        return self._head

    def sha256(self, chunk_bytes: int = HASH_CHUNK_BYTES) -> str:
        """The whole object's SHA-256 (hex), streamed in chunks."""
        digest = hashlib.sha256()
        body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"]
        for chunk in body.iter_chunks(chunk_bytes):
            digest.update(chunk)
        return digest.hexdigest()


def inspect_upload(
    s3: Any,
    bucket: str,
    key: str,
    *,
    file_name: str | None,
    content_type: str | None,
    sha256: str | None,
) -> tuple[Detected, int]:
    """Validate the stored upload ``bucket``/``key``.

    Returns
    -------
    tuple
        ``(detected, size)``: the real kind/format/content type, and the size in bytes.

    Raises
    ------
    InvalidMediaError
        Missing, empty, not an accepted type, truncated or malformed (``INVALID_MEDIA``,
        ``UPLOAD_MISSING``).
    TypeMismatchError
        The bytes are another kind than the name or content type claims (``TYPE_MISMATCH``).
    ChecksumMismatchError
        The object's SHA-256 differs from ``sha256`` (``CHECKSUM_MISMATCH``).
    """
    stored = StoredObject(s3, bucket, key)
    if stored.size == 0:
        raise InvalidMediaError("The file is empty")
    detected = detect(stored.head(), size=stored.size)
    check_claims(detected, file_name, content_type)
    check_structure(detected, stored.read, stored.size)
    if sha256:
        expected = normalise_sha256(sha256)
        actual = stored.sha256()
        if actual != expected:
            raise ChecksumMismatchError(
                "The stored file's SHA-256 does not match the one declared: "
                "it was corrupted or changed in transit",
                details={"expected": expected, "actual": actual},
            )
    return detected, stored.size
