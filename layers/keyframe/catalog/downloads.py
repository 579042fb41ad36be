"""Download links of versions: presigned GETs of originals and derived files (media bucket).

A link lives 15 minutes, answers HTTP ``Range`` requests (S3 does), and asks S3 to send the
``Content-Disposition`` (and ``Content-Type``) the file should open with. Each link issued is counted
in the studio's estimated playback egress (:mod:`keyframe.usage.egress`: one ADD, catalog table).
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from keyframe import clock, settings
from keyframe.catalog.schemas import DerivedDownload, Download
from keyframe.catalog.version_queries import get_version
from keyframe.errors import NotFound
from keyframe.settings import MediaSettings
from keyframe.storage import s3
from keyframe.usage import egress

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
    expires_at = clock.now() + timedelta(seconds=DOWNLOAD_URL_SECONDS)
    params = {
        "Bucket": bucket,
        "Key": key,
        "ResponseContentDisposition": content_disposition(file_name, disposition),
    }
    if content_type:
        params["ResponseContentType"] = content_type
    url = _s3_client().generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_URL_SECONDS)
    return url, clock.iso_seconds(expires_at)


@lru_cache(maxsize=4096)
def _object_size(bucket: str, key: str) -> int:
    """The size of a derived file (one HeadObject per key and process; 0 when it is missing).

    Cached: derived files are written once per version (a reprocess may rewrite one; the egress it
    sizes is an estimate).
    """
    try:
        return int(_s3_client().head_object(Bucket=bucket, Key=key)["ContentLength"])
    except Exception:  # sizing an estimate never fails the link
        return 0


def download_version(studio_id: str, asset_id: str, version: int) -> Download:
    """A presigned GET of a version's original file, valid 15 minutes (media bucket).

    The URL answers HTTP ``Range`` requests (S3 does) and asks S3 to send
    ``Content-Disposition: attachment`` with the original file name. Counts the link and the file's
    size in the studio's egress estimate (one UpdateItem, catalog table).

    Raises
    ------
    NotFound
        Unknown asset or version.
    """
    found = get_version(studio_id, asset_id, version)
    url, expires_at = _presigned_get(found.file.key, found.file.file_name, disposition="attachment")
    egress.count_link(egress.Source.VERSIONS, studio_id, int(found.file.size or 0))
    return Download(url=url, expires_at=expires_at, file_name=found.file.file_name, size=found.file.size)


def download_derived(studio_id: str, asset_id: str, version: int, name: str) -> DerivedDownload:
    """A presigned GET of a derived file (``thumbnail``, ``proxy`` or ``waveform``) of a version.

    Valid 15 minutes (media bucket); Range requests work. The link and the file's size (one
    HeadObject per key and process) are counted in the studio's egress estimate (one UpdateItem,
    catalog table). Images are served
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
    size = _object_size(settings.load(MediaSettings).MEDIA_BUCKET, key)
    egress.count_link(egress.Source.VERSIONS, studio_id, size)
    return DerivedDownload(url=url, expires_at=expires_at, file_name=file_name, content_type=content_type)
