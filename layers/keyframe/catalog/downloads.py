"""Download links of versions: presigned GETs of originals and derived files (media bucket).

A link lives 15 minutes, answers HTTP ``Range`` requests (S3 does), and asks S3 to send the
``Content-Disposition`` (and ``Content-Type``) the file should open with.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from keyframe import settings
from keyframe.catalog.schemas import DerivedDownload, Download
from keyframe.catalog.version_queries import get_version
from keyframe.errors import NotFound
from keyframe.settings import MediaSettings
from keyframe.storage import s3

DOWNLOAD_URL_SECONDS = 900
"""Lifetime of a download URL (15 minutes, the most the API gives out)."""


DERIVED_TYPES: dict[str, tuple[str, str]] = {
    "thumbnail": ("image/jpeg", "inline"),
    "proxy": ("video/mp4", "attachment"),
    "waveform": ("image/png", "inline"),
}
"""Content type and disposition of each derived file. Images open inline in a browser tab; the proxy
is offered as a download (``attachment``) since players load it with ``<video src>``, which ignores
``Content-Disposition``."""


def content_disposition(file_name: str, disposition: str = "attachment") -> str:
    """An RFC 6266 header value (``attachment`` or ``inline``): an ASCII fallback plus the RFC 5987
    UTF-8 name."""
    fallback = (
        "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in file_name) or "download"
    )
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def _s3_client() -> Any:
    return s3.client()


def _presigned_get(
    key: str, file_name: str, *, disposition: str, content_type: str | None = None
) -> tuple[str, str]:
    """``(url, expiresAt)``: a presigned GET of ``key`` in the media bucket, valid 15 minutes, asking S3
    to answer with ``Content-Disposition`` (and ``Content-Type`` when given). Range requests work."""
    bucket = settings.load(MediaSettings).MEDIA_BUCKET
    expires_at = datetime.now(UTC) + timedelta(seconds=DOWNLOAD_URL_SECONDS)
    params = {
        "Bucket": bucket,
        "Key": key,
        "ResponseContentDisposition": content_disposition(file_name, disposition),
    }
    if content_type:
        params["ResponseContentType"] = content_type
    url = _s3_client().generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_URL_SECONDS)
    return url, expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def download_version(studio_id: str, asset_id: str, version: int) -> Download:
    """A presigned GET of a version's original file, valid 15 minutes (media bucket).

    The URL answers HTTP ``Range`` requests (S3 does) and asks S3 to send
    ``Content-Disposition: attachment`` with the original file name.

    Raises
    ------
    NotFound
        Unknown asset or version.
    """
    found = get_version(studio_id, asset_id, version)
    url, expires_at = _presigned_get(found.file.key, found.file.file_name, disposition="attachment")
    return Download(url=url, expires_at=expires_at, file_name=found.file.file_name, size=found.file.size)


def download_derived(studio_id: str, asset_id: str, version: int, name: str) -> DerivedDownload:
    """A presigned GET of a derived file (``thumbnail``, ``proxy`` or ``waveform``) of a version.

    Valid 15 minutes (media bucket, no object lookup); Range requests work. Images are served
    ``inline``, the proxy as an ``attachment`` (see :data:`DERIVED_TYPES`); the file name is
    ``{assetId}-v{version}-{name}.{ext}``.

    Raises
    ------
    NotFound
        Unknown asset or version; ``DERIVED_NOT_FOUND`` when the version has no such derived file
        (not processed yet, failed, or a kind that does not get one: audio has no thumbnail).
    """
    found = get_version(studio_id, asset_id, version)
    key = (found.derived or {}).get(name)
    if not key or name not in DERIVED_TYPES:
        raise NotFound(
            f"Version {version} has no {name}",
            code="DERIVED_NOT_FOUND",
            details={"assetId": asset_id, "version": version, "name": name},
        )
    content_type, disposition = DERIVED_TYPES[name]
    _, dot, extension = key.rpartition("/")[2].rpartition(".")
    file_name = f"{asset_id}-v{version}-{name}{dot}{extension if dot else ''}"
    url, expires_at = _presigned_get(key, file_name, disposition=disposition, content_type=content_type)
    return DerivedDownload(url=url, expires_at=expires_at, file_name=file_name, content_type=content_type)
