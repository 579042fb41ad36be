"""Settings of the uploads API, validated from the environment at first use.

=============================  ==============================================================
UPLOADS_TABLE                  upload sessions and per-studio usage counters (no default)
MEDIA_BUCKET                   the media bucket (``keyframe.settings.MediaSettings``)
UPLOAD_MIN_PART_SIZE_BYTES     smallest upload part the server plans (default 8 MiB; at least
                               S3's 5 MiB; tests and the bench may lower it to 5 MiB)
UPLOAD_URL_TTL_SECONDS         lifetime of a presigned part URL (default and maximum 3600 s)
UPLOAD_SESSION_TTL_SECONDS     how long an open session may stay open before it expires (default
                               and maximum 7 days, the bucket's lifecycle rule for aborting
                               incomplete multipart uploads; minimum 1 day, see below)
UPLOAD_URLS_PER_RESPONSE       most part URLs in one response (default 1000; ask for the rest
                               with ``?fromPart=``)
=============================  ==============================================================

Session expiry throws uploaded bytes away: an OPEN session past ``UPLOAD_SESSION_TTL_SECONDS`` is
aborted (its multipart upload and every part already sent are dropped, its quota released). So the
lifetime is never shorter than a day (an artist who pauses overnight can still resume) and never
longer than the bucket's 7-day rule (after which S3 has dropped the parts anyway). Expiry touches
OPEN sessions only: a session that is COMPLETING, COMPLETED or ABORTED is never expired.
"""

from __future__ import annotations

from pydantic import Field

from keyframe.settings import EnvSettings
from keyframe.uploads.sizing import GIB, MIB, S3_MIN_PART_SIZE

DEFAULT_MIN_PART_SIZE = 8 * MIB
SESSION_DAYS = 7
SESSION_SECONDS = SESSION_DAYS * 24 * 3600
"""Default and longest session lifetime: the bucket's abort-incomplete-multipart-uploads rule."""
MIN_SESSION_SECONDS = 24 * 3600
"""Shortest session lifetime allowed: expiry drops uploaded parts, so never less than a day."""


class UploadSettings(EnvSettings):
    """What the uploads API reads from its environment (load with ``keyframe.settings.load``)."""

    UPLOADS_TABLE: str = Field(min_length=3)
    UPLOAD_MIN_PART_SIZE_BYTES: int = Field(default=DEFAULT_MIN_PART_SIZE, ge=S3_MIN_PART_SIZE, le=5 * GIB)
    UPLOAD_URL_TTL_SECONDS: int = Field(default=3600, ge=60, le=3600)
    UPLOAD_SESSION_TTL_SECONDS: int = Field(
        default=SESSION_SECONDS, ge=MIN_SESSION_SECONDS, le=SESSION_SECONDS
    )
    UPLOAD_URLS_PER_RESPONSE: int = Field(default=1000, ge=1, le=2000)
