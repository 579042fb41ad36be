"""The S3 side of an upload: multipart calls and presigned part URLs on the media bucket.

Every function here is a thin, typed wrapper over one S3 operation; they translate S3's
``NoSuchUpload``/``404`` into ``None``/``False`` so the service can reason about an upload that
was completed, aborted or expired meanwhile. Presigned URLs are SigV4 (``signature_version="s3v4"``)
and path-style when an endpoint override is set (the local stack), so they work against moto.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from keyframe.storage import s3


@dataclass(frozen=True)
class ChecksumAlgorithm:
    """A per-part checksum S3 verifies: its name in CreateMultipartUpload, its digest width, the header
    a part PUT must carry (signed into the part's URL) and the CompleteMultipartUpload part field.

    Attributes
    ----------
    name:
        ``SHA256`` or ``CRC32`` (S3's ``ChecksumAlgorithm``).
    width:
        Bytes of one raw digest (32 or 4).
    header:
        ``x-amz-checksum-sha256`` or ``x-amz-checksum-crc32``; its value is the base64 digest.
    field:
        ``ChecksumSHA256`` or ``ChecksumCRC32`` (UploadPart's parameter and a completed part's field).
    """

    name: str
    width: int
    header: str
    field: str


SHA256 = ChecksumAlgorithm("SHA256", 32, "x-amz-checksum-sha256", "ChecksumSHA256")
CRC32 = ChecksumAlgorithm("CRC32", 4, "x-amz-checksum-crc32", "ChecksumCRC32")
ALGORITHMS = {algorithm.name: algorithm for algorithm in (SHA256, CRC32)}
"""The per-part checksums a client may declare at the open, by S3 name."""
CHECKSUM_HEADER = SHA256.header
"""The header a client must send with a part PUT whose URL was signed with a SHA-256 checksum."""


@dataclass(frozen=True)
class StoredPart:
    """One part S3 holds for an open multipart upload (from ListParts).

    Attributes
    ----------
    part_number:
        1-based.
    size:
        Bytes.
    etag:
        The part's ETag without quotes.
    checksum_sha256:
        Base64 SHA-256 S3 computed, when the upload declared the algorithm (AWS only; moto omits it).
    """

    part_number: int
    size: int
    etag: str
    checksum_sha256: str | None = None


class PartsRejected(Exception):
    """S3 refused CompleteMultipartUpload's part list (``InvalidPart``, ``EntityTooSmall`` …).

    Attributes
    ----------
    code, message:
        S3's error code and message.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


_REJECTED_PARTS = frozenset(
    {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "BadDigest", "InvalidRequest"}
)


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


@cache
def _client_for(region: str | None, endpoint: str | None) -> Any:
    return s3.client(
        region_name=region,
        endpoint_url=endpoint,
        addressing_style="path" if endpoint else None,
        request_checksum_calculation="when_required",
    )


def client() -> Any:
    """The S3 client for this process's region and endpoint (cached per pair)."""
    return _client_for(os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"), _endpoint())


def _missing(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    return code in ("NoSuchUpload", "NoSuchKey", "404", "NotFound")


def create(
    bucket: str, key: str, content_type: str, *, part_checksums: ChecksumAlgorithm | None = None
) -> str:
    """CreateMultipartUpload on ``bucket``/``key``; returns S3's ``UploadId``.

    ``part_checksums`` declares that algorithm (``ChecksumAlgorithm``; a composite checksum of the
    parts' checksums): every part must then be sent with its checksum, which S3 verifies, and the
    completion names each part's. Without it S3 gives the object its default full-object checksum.
    """
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, "ContentType": content_type}
    if part_checksums is not None:
        params["ChecksumAlgorithm"] = part_checksums.name
    return client().create_multipart_upload(**params)["UploadId"]


def presign_part(
    bucket: str,
    key: str,
    s3_upload_id: str,
    part_number: int,
    *,
    expires_in: int,
    checksum: tuple[ChecksumAlgorithm, str] | None = None,
) -> str:
    """A presigned SigV4 ``PUT`` URL for one part, valid ``expires_in`` seconds.

    With ``checksum`` (the algorithm and the part's base64 digest) its header
    (``x-amz-checksum-sha256``/``-crc32``) is signed: the client must send it with exactly that
    value, and S3 rejects a part whose bytes do not match.
    """
    params: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "UploadId": s3_upload_id,
        "PartNumber": part_number,
    }
    if checksum is not None:
        params[checksum[0].field] = checksum[1]
    return client().generate_presigned_url(
        "upload_part", Params=params, ExpiresIn=expires_in, HttpMethod="PUT"
    )


def list_parts(bucket: str, key: str, s3_upload_id: str) -> list[StoredPart] | None:
    """Every part S3 holds for the upload, by part number; ``None`` when the upload is gone."""
    paginator = client().get_paginator("list_parts")
    parts: list[StoredPart] = []
    try:
        for page in paginator.paginate(Bucket=bucket, Key=key, UploadId=s3_upload_id):
            for part in page.get("Parts", []):
                parts.append(
                    StoredPart(
                        part_number=int(part["PartNumber"]),
                        size=int(part["Size"]),
                        etag=part["ETag"].strip('"'),
                        checksum_sha256=part.get("ChecksumSHA256"),
                    )
                )
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    return sorted(parts, key=lambda p: p.part_number)


def complete(bucket: str, key: str, s3_upload_id: str, parts: list[dict[str, Any]]) -> bool:
    """CompleteMultipartUpload with ``parts`` (``PartNumber``, ``ETag``, and ``ChecksumSHA256`` or
    ``ChecksumCRC32`` when the upload declared part checksums).

    Returns
    -------
    bool
        False when S3 no longer knows the upload (completed by an earlier call, or aborted).

    Raises
    ------
    PartsRejected
        S3 refused the part list (a part changed since it was listed); the upload stays open.
    """
    try:
        client().complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=s3_upload_id, MultipartUpload={"Parts": parts}
        )
    except ClientError as exc:
        if _missing(exc):
            return False
        error = exc.response.get("Error", {})
        if error.get("Code") in _REJECTED_PARTS:
            raise PartsRejected(error.get("Code", ""), error.get("Message", "")) from exc
        raise
    return True


def abort(bucket: str, key: str, s3_upload_id: str) -> None:
    """AbortMultipartUpload (S3 drops the parts); an upload already gone is fine."""
    try:
        client().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=s3_upload_id)
    except ClientError as exc:
        if not _missing(exc):
            raise


def object_size(bucket: str, key: str) -> int | None:
    """HeadObject: the object's size in bytes, or ``None`` when there is no object."""
    try:
        return int(client().head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def delete_object(bucket: str, key: str) -> None:
    """DeleteObject. Used in exactly one place: a completed object whose size is not the declared one."""
    client().delete_object(Bucket=bucket, Key=key)
