"""Thumbnail links in listings: one request per page of a grid, no extra DynamoDB request.

A version's thumbnail key is in its ``derived`` map, which the version list already reads. For the
asset list, the key of the *current* version's thumbnail is copied onto the asset item
(``thumbnailKey``) whenever the current version changes (a newer version becomes READY, a rollback)
or the current version is derived again; the asset list query returns it with the rest of the item.
A link is a presigned S3 GET made in memory (no request to S3 either), valid
:data:`THUMBNAIL_URL_SECONDS`, served ``inline`` as ``image/jpeg``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from typing import Any

from keyframe import clock, settings
from keyframe.catalog.models import AssetItem
from keyframe.catalog.schemas import ThumbnailLink
from keyframe.settings import MediaSettings
from keyframe.storage import s3

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
    expires_at = clock.now() + timedelta(seconds=THUMBNAIL_URL_SECONDS)
    url = _signer(*(os.environ.get(name) for name in _SIGNER_ENVIRONMENT)).generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": "image/jpeg",
            "ResponseContentDisposition": "inline",
        },
        ExpiresIn=THUMBNAIL_URL_SECONDS,
    )
    return ThumbnailLink(url=url, expires_at=clock.iso_seconds(expires_at))


_SIGNER_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
)
"""The environment a signing client depends on: a change of any of them builds a new client."""


@lru_cache(maxsize=4)
def _signer(*environment: str | None) -> Any:
    """The S3 client that signs thumbnail links, built once per ``environment`` (not once per list item:
    building a boto3 client costs milliseconds, a page has up to a hundred thumbnails)."""
    return s3.client()
