"""Thumbnail links in listings: one request per page of a grid, no extra DynamoDB request.

A version's thumbnail key is in its ``derived`` map, which the version list already reads. For the
asset list, the key of the *current* version's thumbnail is copied onto the asset item
(``thumbnailKey``) whenever the current version changes (a newer version becomes READY, a rollback)
or the current version is derived again; the asset list query returns it with the rest of the item.
A link is a presigned S3 GET made in memory (no request to S3 either), valid
:data:`THUMBNAIL_URL_SECONDS`, served ``inline`` as ``image/jpeg``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from keyframe import settings
from keyframe.catalog.models import AssetItem
from keyframe.catalog.schemas import ThumbnailLink
from keyframe.settings import MediaSettings

THUMBNAIL_URL_SECONDS = 900
"""How long a listing's thumbnail link works (15 minutes, like other downloads): list again after."""

THUMBNAIL = "thumbnail"
"""The name of the thumbnail in a version's ``derived`` map."""


def thumbnail_key(derived: dict[str, str] | None) -> str | None:
    """The thumbnail's S3 key in a version's ``derived`` map, if it has one (audio has none)."""
    return (derived or {}).get(THUMBNAIL) or None


def asset_thumbnail_action(derived: dict[str, str] | None) -> Any:
    """The update action that points an asset item at the thumbnail of its (new) current version."""
    key = thumbnail_key(derived)
    return AssetItem.thumbnail_key.set(key) if key else AssetItem.thumbnail_key.remove()


def thumbnail_link(key: str | None) -> ThumbnailLink | None:
    """A presigned GET of ``key`` in the media bucket (``None`` for no key).

    Signed locally with the function's credentials: no network request. S3 answers with
    ``Content-Type: image/jpeg`` and ``Content-Disposition: inline``.
    """
    if not key:
        return None
    bucket = settings.load(MediaSettings).MEDIA_BUCKET
    expires_at = datetime.now(UTC) + timedelta(seconds=THUMBNAIL_URL_SECONDS)
    url = boto3.client("s3", config=Config(signature_version="s3v4")).generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": "image/jpeg",
            "ResponseContentDisposition": "inline",
        },
        ExpiresIn=THUMBNAIL_URL_SECONDS,
    )
    return ThumbnailLink(url=url, expires_at=expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
