"""Links to profile pictures (``avatarUrl``), for every listing that shows people.

A link is a presigned GET of the picture's key in the media bucket, signed in memory with the
function's credentials (no request to S3), valid :data:`AVATAR_URL_SECONDS`, served ``inline`` as
``image/webp``. Apart from :mod:`keyframe.identity.avatars` (which makes the pictures, with Pillow) so
that the functions that only show pictures (members, comments, the inbox) never import Pillow.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from keyframe import settings
from keyframe.identity.models import USER_SK, UserItem, user_pk
from keyframe.settings import MediaSettings
from keyframe.storage import s3

AVATAR_URL_SECONDS = 3600
"""How long an ``avatarUrl`` works (an hour: read the profile or the listing again after)."""


def bucket() -> str:
    """The media bucket's name (``MEDIA_BUCKET``)."""
    return settings.load(MediaSettings).MEDIA_BUCKET


def client() -> Any:
    """A SigV4 S3 client for the current credentials and endpoint (cached per both)."""
    return _signer(*(os.environ.get(name) for name in _SIGNER_ENVIRONMENT))


_SIGNER_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
)


@lru_cache(maxsize=4)
def _signer(*_environment: str | None) -> Any:
    """One SigV4 client per credentials and endpoint (path-style on an emulator endpoint)."""
    return s3.client(addressing_style="path" if os.environ.get("AWS_ENDPOINT_URL") else None)


def avatar_url(key: str | None) -> str | None:
    """A presigned GET of a stored picture, valid :data:`AVATAR_URL_SECONDS` (None for no picture)."""
    if not key:
        return None
    return str(
        client().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket(),
                "Key": key,
                "ResponseContentType": "image/webp",
                "ResponseContentDisposition": "inline",
            },
            ExpiresIn=AVATAR_URL_SECONDS,
        )
    )


def avatar_urls(user_ids: set[str]) -> dict[str, str]:
    """User id -> ``avatarUrl`` of those of ``user_ids`` who have a picture (BatchGetItem on the
    tenants table, 100 keys a request; signing makes no request). For listings that show people
    (a page of comments); accounts that are gone are left out."""
    keys = [(user_pk(user_id), USER_SK) for user_id in sorted(user_ids)]
    found: dict[str, str] = {}
    for user in UserItem.batch_get(keys, attributes_to_get=["userId", "avatarKey"]) if keys else ():
        url = avatar_url(user.avatar_key)
        if url:
            found[user.user_id] = url
    return found
