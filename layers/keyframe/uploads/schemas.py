"""Request and response shapes of the uploads API (camelCase JSON, unknown fields rejected)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from keyframe.schemas import OWN_TEXT_RULES, ApiModel, MultilineText, RequestModel
from keyframe.uploads.sizing import S3_MAX_PARTS

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
"""A SHA-256 digest as 64 hexadecimal characters."""

Crc32Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{8}$", to_lower=True)]
"""A CRC32 (the ISO-HDLC one of zlib and S3) as 8 hexadecimal characters, big-endian."""

_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
ContentType = Annotated[str, StringConstraints(max_length=255, pattern=rf"^{_TOKEN}/{_TOKEN}$")]
"""A MIME type such as ``video/mp4`` (no parameters)."""


# ---------------------------------------------------------------- requests


class OpenUploadRequest(RequestModel):
    """``POST /assets/{assetId}/uploads``: announce a file that will become the asset's next version."""

    file_name: Annotated[str, OWN_TEXT_RULES] = Field(
        max_length=1024, description="the file's name only (no folders), <= 255 bytes"
    )
    size: int = Field(gt=0, description="file size in bytes (1 byte to 5 TiB, within the studio's quota)")
    content_type: ContentType = Field(description="declared MIME type, e.g. video/mp4")
    sha256: Sha256Hex | None = Field(default=None, description="SHA-256 of the whole file, hex")
    change_note: MultilineText | None = Field(
        default=None, max_length=2000, description="what changed in this version"
    )
    part_checksums: list[Sha256Hex] | None = Field(
        default=None,
        max_length=S3_MAX_PARTS,
        description="optional SHA-256 (hex) of each part, in part order, for the server's part plan; "
        "S3 then rejects a part whose bytes differ",
    )
    part_crc32: list[Crc32Hex] | None = Field(
        default=None,
        max_length=S3_MAX_PARTS,
        description="optional CRC32 (8 hex characters) of each part, in part order, for the server's part "
        "plan, instead of partChecksums (not both): each part URL then signs x-amz-checksum-crc32, S3 "
        "rejects a part whose bytes differ and the object gets the parts' composite CRC32. Cheaper to "
        "compute than SHA-256",
    )


class CompletedPartIn(RequestModel):
    """One uploaded part: its number and the ETag its PUT answered."""

    part_number: int = Field(ge=1, le=100_000)
    etag: str = Field(min_length=1, max_length=128)


class CompleteUploadRequest(RequestModel):
    """``POST /assets/{assetId}/uploads/{uploadId}/complete``: every part, each once."""

    parts: list[CompletedPartIn] = Field(min_length=1, max_length=S3_MAX_PARTS + 100)
    sha256: Sha256Hex | None = Field(
        default=None,
        description="SHA-256 of the whole file, hex, when the open did not declare it (a client may hash "
        "while it sends the parts); equal to the declared one when it did",
    )


# ---------------------------------------------------------------- responses


class PartUrl(ApiModel):
    """Where to PUT one part: the presigned URL and any header that must be sent with it."""

    part_number: int
    url: str
    headers: dict[str, str] | None = Field(
        default=None,
        description="headers signed into the URL (x-amz-checksum-sha256 or x-amz-checksum-crc32), to send as "
        "is",
    )


class UploadedPart(ApiModel):
    """A part S3 already holds."""

    part_number: int
    size: int = Field(description="bytes")
    etag: str


class OpenUploadResponse(ApiModel):
    """The session: the server's part plan and presigned PUT URLs for the first parts."""

    upload_id: str
    asset_id: str
    status: str
    file_name: str
    size: int = Field(description="bytes")
    part_size: int = Field(description="bytes in every part but the last")
    part_count: int
    parts: list[PartUrl]
    next_part_number: int | None = Field(
        default=None, description="more URLs exist from this part: GET the session with ?fromPart="
    )
    expires_at: str = Field(description="when these URLs stop working (at most 1 hour)")
    session_expires_at: str = Field(description="when the open session is aborted if not completed")


class PipelineView(ApiModel):
    """The pipeline execution a completed upload started."""

    execution_arn: str
    status: str
    started_at: str | None = None


class UploadStatusResponse(ApiModel):
    """``GET …/uploads/{uploadId}``: what S3 holds, what is missing, fresh URLs for the missing parts.

    ``uploadedParts``/``missingParts``/``parts`` describe an OPEN session; a finished one lists none.
    ``version`` and ``pipeline`` appear once the pipeline reports them.
    """

    upload_id: str
    asset_id: str
    status: str
    file_name: str
    size: int
    part_size: int
    part_count: int
    uploaded_parts: list[UploadedPart]
    missing_parts: list[int]
    parts: list[PartUrl]
    next_part_number: int | None = None
    expires_at: str | None = Field(default=None, description="when the URLs in parts stop working")
    session_expires_at: str
    failure_reason: str | None = None
    version: int | None = None
    pipeline: dict[str, Any] | None = None


class CompleteUploadResponse(ApiModel):
    """The 202 of ``complete`` (a retried complete answers the same body)."""

    upload_id: str
    status: str
    pipeline: PipelineView
