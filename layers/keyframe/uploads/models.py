"""PynamoDB items of the uploads domain (table: uploads).

Keys (every one begins with ``STUDIO#{studioId}#UPLOAD#``, so another studio's upload id is simply
not found; the pipeline's items in the same table use ``STUDIO#{studioId}#PIPELINE#…``):

==========================  ======================================  ===========================
item                        pk                                      sk
==========================  ======================================  ===========================
upload session              ``STUDIO#{studioId}#UPLOAD#{uploadId}``  ``SESSION``
studio storage counter      ``STUDIO#{studioId}#UPLOAD#USAGE``       ``USAGE`` (:mod:`keyframe.usage`)
==========================  ======================================  ===========================

``gsi1`` is sparse: only sessions that still need the server's attention carry it, so each kind is
one Query away (nothing Scans):

==============  =====================================  ======================================
status          gsi1pk                                 gsi1sk
==============  =====================================  ======================================
OPEN            ``STUDIO#{studioId}#UPLOAD#OPEN``        ``{expiresAt}#{uploadId}``
COMPLETING      ``STUDIO#{studioId}#UPLOAD#COMPLETING``  ``{updatedAt}#{uploadId}``
==============  =====================================  ======================================

Expired OPEN sessions are aborted and their quota released lazily; COMPLETING sessions that no
request has touched for a few minutes (a complete that crashed) are re-driven to where their bytes
are. COMPLETED and ABORTED sessions leave the index.
"""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import (
    BinaryAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import UPLOADS

SESSION_SK = "SESSION"


class UploadStatus(StrEnum):
    """Life of an upload session: OPEN -> COMPLETING -> COMPLETED, or OPEN -> ABORTED."""

    OPEN = "OPEN"
    COMPLETING = "COMPLETING"
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"


def session_pk(studio_id: str, upload_id: str) -> str:
    """Partition key of an upload session."""
    return f"STUDIO#{studio_id}#UPLOAD#{upload_id}"


def open_index_pk(studio_id: str) -> str:
    """``gsi1pk`` of a studio's OPEN sessions."""
    return f"STUDIO#{studio_id}#UPLOAD#OPEN"


def completing_index_pk(studio_id: str) -> str:
    """``gsi1pk`` of a studio's COMPLETING sessions."""
    return f"STUDIO#{studio_id}#UPLOAD#COMPLETING"


class UploadSession(Model):
    """One multipart upload of one file to one asset. Table: uploads.

    Attributes
    ----------
    s3_upload_id:
        S3's multipart ``UploadId`` (never shown to clients: they use ``upload_id``).
    key:
        Object key ``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}``.
    size, part_size:
        Bytes.
    part_checksums:
        The per-part digests the client declared, raw and concatenated in part order, or absent:
        SHA-256 (32 bytes each, at most 320,000 bytes for 10,000 parts) or CRC32 (4 bytes each).
    part_checksum_algorithm:
        ``CRC32`` or ``SHA256``, the algorithm of ``part_checksums``; absent (sessions stored
        before CRC32 was offered, or without checksums) reads as SHA-256 when there are checksums.
    expires_at:
        ISO time after which an OPEN session is aborted and its quota released (only an OPEN one).
    result:
        The 202 body of the first successful complete (what a retried complete returns).
    ttl:
        Epoch seconds when DynamoDB deletes the item: a day after expiry while OPEN, a week after
        COMPLETED or ABORTED, never while COMPLETING (the item is kept until it is re-driven).
    """

    Meta = table_meta(UPLOADS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=SESSION_SK)
    gsi1 = gsi(UPLOADS, 1)()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)

    studio_id = UnicodeAttribute(attr_name="studioId")
    upload_id = UnicodeAttribute(attr_name="uploadId")
    asset_id = UnicodeAttribute(attr_name="assetId")
    project_id = UnicodeAttribute(null=True, attr_name="projectId")
    bucket = UnicodeAttribute()
    key = UnicodeAttribute()
    s3_upload_id = UnicodeAttribute(attr_name="s3UploadId")
    file_name = UnicodeAttribute(attr_name="fileName")
    size = NumberAttribute()
    content_type = UnicodeAttribute(attr_name="contentType")
    sha256 = UnicodeAttribute(null=True)
    change_note = UnicodeAttribute(null=True, attr_name="changeNote")
    part_size = NumberAttribute(attr_name="partSize")
    part_count = NumberAttribute(attr_name="partCount")
    part_checksums = BinaryAttribute(null=True, legacy_encoding=False, attr_name="partChecksums")
    part_checksum_algorithm = UnicodeAttribute(null=True, attr_name="partChecksumAlgorithm")
    status = UnicodeAttribute(default=UploadStatus.OPEN.value)
    failure_reason = UnicodeAttribute(null=True, attr_name="failureReason")
    created_by = UnicodeAttribute(attr_name="createdBy")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    expires_at = UnicodeAttribute(attr_name="expiresAt")
    completed_at = UnicodeAttribute(null=True, attr_name="completedAt")
    result = JSONAttribute(null=True)
    ttl = TTLAttribute(null=True)
