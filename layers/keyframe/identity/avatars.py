"""Profile pictures: a presigned upload straight to S3, checked and shrunk by the server, shown as a link.

1. ``POST /me/avatar/uploads``: a presigned S3 POST (:data:`UPLOAD_URL_SECONDS`) for the key
   ``avatars/uploads/{userId}/{uploadId}``; its policy refuses a file over :data:`MAX_AVATAR_BYTES`.
   No content type is trusted or required.
2. ``PUT /me/avatar {uploadId}``: the server reads the uploaded file (ListObjectsV2, GetObject), checks
   its size again (413 ``AVATAR_TOO_LARGE``), its first bytes (PNG, JPEG or WebP signatures, not
   the client's content type) and that Pillow decodes it within :data:`MAX_PIXELS` (else 400
   ``AVATAR_NOT_AN_IMAGE``), then writes a :data:`THUMBNAIL_SIZE`-pixel square WebP (centre crop,
   EXIF orientation applied, first frame of an animation) at ``avatars/users/{userId}/{avatarId}.webp``
   and points the user item at it (``avatarKey``, tenants table) on condition that the previous
   avatar is still the one read (two changes at once: the later answers 409 ``CONCURRENT_CHANGE``).
   The uploaded file is always deleted, whatever the answer; the previous picture is deleted once
   the new one is set; a picture written for a change that failed is deleted again.
3. ``DELETE /me/avatar``: removes the picture (204, also when there was none).

An avatar is the person's, not a studio's: the same picture in every studio they belong to. It is shown
as ``avatarUrl`` wherever a user or member is shown (``GET /me``, ``PATCH /me``, the member list;
``authorAvatarUrl`` on a page of comments, ``actorAvatarUrl`` in the inbox), links made by
:mod:`keyframe.identity.avatar_links`, which does not import Pillow (the functions that only show
pictures never load it). An upload never completed is deleted by
the bucket's lifecycle rule on ``avatars/uploads/`` after a day (``infra/storage.py``).
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

from botocore.exceptions import ClientError
from PIL import Image, ImageOps, UnidentifiedImageError
from pynamodb.exceptions import UpdateError

from keyframe import clock
from keyframe.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, field_details
from keyframe.identity import avatar_links
from keyframe.identity.models import USER_SK, UserItem, get_or_none, user_pk
from keyframe.identity.permissions import Principal
from keyframe.identity.schemas import AvatarUpload
from keyframe.observability import logger

MAX_AVATAR_BYTES = 5 * 1024 * 1024
"""The largest file accepted (5 MiB): the presigned POST's policy and the server's check."""
MAX_PIXELS = 40_000_000
"""The most pixels a picture may have (width x height), checked before it is decoded."""
THUMBNAIL_SIZE = 256
"""Width and height of the stored square picture, in pixels."""
UPLOAD_URL_SECONDS = 900
"""How long the presigned POST works (15 minutes)."""
UPLOADS_PREFIX = "avatars/uploads/"
"""Uploaded files waiting for ``PUT /me/avatar`` (deleted by it, or by the lifecycle rule after a day)."""
PICTURES_PREFIX = "avatars/users/"
"""The stored square pictures, ``avatars/users/{userId}/{avatarId}.webp``."""

_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("PNG", b"\x89PNG\r\n\x1a\n", 0),
    ("JPEG", b"\xff\xd8\xff", 0),
    ("WEBP", b"WEBP", 8),  # RIFF....WEBP
)


def upload_key(user_id: str, upload_id: str) -> str:
    """``avatars/uploads/{userId}/{uploadId}``."""
    return f"{UPLOADS_PREFIX}{user_id}/{upload_id}"


def picture_key(user_id: str, avatar_id: str) -> str:
    """``avatars/users/{userId}/{avatarId}.webp``."""
    return f"{PICTURES_PREFIX}{user_id}/{avatar_id}.webp"


def sniff(head: bytes) -> str | None:
    """``PNG``, ``JPEG`` or ``WEBP`` from a file's first bytes (its signature); None for anything else."""
    for name, signature, offset in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature and (name != "WEBP" or head[:4] == b"RIFF"):
            return name
    return None


def square_thumbnail(data: bytes) -> bytes:
    """The :data:`THUMBNAIL_SIZE` square WebP of an image file (centre crop, EXIF orientation applied).

    Raises
    ------
    InvalidInput
        ``AVATAR_NOT_AN_IMAGE``: not a PNG, JPEG or WebP by its signature, not decodable, or over
        :data:`MAX_PIXELS`.
    """
    kind = sniff(data[:16])
    if kind is None:
        raise _not_an_image("not a PNG, JPEG or WebP file")
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _not_an_image(f"{width}x{height} pixels is over {MAX_PIXELS}")
            image.seek(0)
            upright = ImageOps.exif_transpose(image.convert("RGBA"))
            square = ImageOps.fit(upright, (THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _not_an_image("the file could not be read as an image") from exc
    out = io.BytesIO()
    square.save(out, format="WEBP", quality=85)
    return out.getvalue()


def _not_an_image(why: str) -> InvalidInput:
    return InvalidInput(
        f"The avatar must be a PNG, JPEG or WebP image: {why}",
        code="AVATAR_NOT_AN_IMAGE",
        details=field_details("uploadId", why),
    )


def _expiry(seconds: int) -> str:
    return clock.iso_seconds(clock.now() + timedelta(seconds=seconds))


def create_upload(principal: Principal) -> AvatarUpload:
    """A presigned POST for a new picture of the caller (signed in memory; nothing is stored yet)."""
    upload_id = uuid.uuid4().hex
    post = avatar_links.client().generate_presigned_post(
        Bucket=avatar_links.bucket(),
        Key=upload_key(principal.user_id, upload_id),
        Conditions=[["content-length-range", 1, MAX_AVATAR_BYTES]],
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    return AvatarUpload(
        upload_id=upload_id,
        url=post["url"],
        fields=post["fields"],
        max_bytes=MAX_AVATAR_BYTES,
        expires_at=_expiry(UPLOAD_URL_SECONDS),
    )


def _user(user_id: str) -> UserItem:
    user = get_or_none(UserItem, user_pk(user_id), USER_SK)
    if user is None:
        raise NotFound("Your account no longer exists")
    return user


def _read_upload(key: str) -> bytes:
    """The uploaded file (at most :data:`MAX_AVATAR_BYTES`).

    Raises
    ------
    NotFound
        ``AVATAR_UPLOAD_NOT_FOUND``: nothing was uploaded with that id (or it was already used).
    PayloadTooLarge
        ``AVATAR_TOO_LARGE``.
    """
    client = avatar_links.client()
    # a listing of the key itself, not HeadObject: its size, and "none" without ListBucket on the
    # whole bucket (HeadObject of a missing key answers 403 without it)
    listed = client.list_objects_v2(Bucket=avatar_links.bucket(), Prefix=key, MaxKeys=1).get("Contents", [])
    if not listed or listed[0]["Key"] != key:
        raise NotFound(
            "No avatar was uploaded with this id (or it was already used)",
            code="AVATAR_UPLOAD_NOT_FOUND",
            details=field_details("uploadId", "no such upload"),
        )
    size = int(listed[0]["Size"])
    if size > MAX_AVATAR_BYTES:
        raise PayloadTooLarge(
            f"The avatar is {size} bytes; the limit is {MAX_AVATAR_BYTES}",
            code="AVATAR_TOO_LARGE",
            details=field_details("uploadId", f"over {MAX_AVATAR_BYTES} bytes", maxBytes=MAX_AVATAR_BYTES),
        )
    body = client.get_object(Bucket=avatar_links.bucket(), Key=key, Range=f"bytes=0-{MAX_AVATAR_BYTES}")[
        "Body"
    ]
    data = bytes(body.read())
    if len(data) > MAX_AVATAR_BYTES:  # replaced by a larger file between the two reads
        raise PayloadTooLarge(
            f"The avatar is over {MAX_AVATAR_BYTES} bytes",
            code="AVATAR_TOO_LARGE",
            details=field_details("uploadId", f"over {MAX_AVATAR_BYTES} bytes", maxBytes=MAX_AVATAR_BYTES),
        )
    return data


def _delete(key: str | None) -> None:
    """Delete one object; a failure is logged (the lifecycle rule or a later change cleans up)."""
    if not key:
        return
    try:
        avatar_links.client().delete_object(Bucket=avatar_links.bucket(), Key=key)
    except ClientError:
        logger.exception("avatar object not deleted", extra={"key": key})


def set_avatar(principal: Principal, upload_id: str) -> UserItem:
    """Make the caller's uploaded file their picture (see the module); returns the updated user item.

    Lists, reads and deletes ``avatars/uploads/{userId}/{uploadId}``, writes ``avatars/users/{userId}/…``,
    updates the user item (tenants table), deletes the previous picture.

    Raises
    ------
    NotFound
        ``AVATAR_UPLOAD_NOT_FOUND`` (404), or the account is gone.
    PayloadTooLarge
        ``AVATAR_TOO_LARGE`` (413).
    InvalidInput
        ``AVATAR_NOT_AN_IMAGE`` (400).
    Conflict
        ``CONCURRENT_CHANGE`` (409): the picture changed while this one was being made.
    """
    uploaded = upload_key(principal.user_id, upload_id)
    try:
        user = _user(principal.user_id)
        picture = square_thumbnail(_read_upload(uploaded))
        previous = user.avatar_key
        key = picture_key(principal.user_id, uuid.uuid4().hex)
        avatar_links.client().put_object(
            Bucket=avatar_links.bucket(), Key=key, Body=picture, ContentType="image/webp"
        )
        try:
            _point_at(user, key, previous)
        except BaseException:
            _delete(key)
            raise
    finally:
        _delete(uploaded)
    _delete(previous)
    return user


def remove_avatar(principal: Principal) -> None:
    """Remove the caller's picture (user item, tenants table; the object in the media bucket).

    Raises
    ------
    NotFound
        The account is gone.
    Conflict
        ``CONCURRENT_CHANGE``: the picture changed meanwhile (read the profile and try again).
    """
    user = _user(principal.user_id)
    previous = user.avatar_key
    if previous is None:
        return
    _point_at(user, None, previous)
    _delete(previous)


def _point_at(user: UserItem, key: str | None, previous: str | None) -> None:
    """Set (or remove) ``avatarKey`` if it is still ``previous``."""
    still = UserItem.avatar_key == previous if previous else UserItem.avatar_key.does_not_exist()
    action = UserItem.avatar_key.set(key) if key else UserItem.avatar_key.remove()
    try:
        user.update(actions=[action], condition=UserItem.pk.exists() & still)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            if get_or_none(UserItem, user.pk, USER_SK) is None:
                raise NotFound("Your account no longer exists") from exc
            raise Conflict(
                "Your picture changed meanwhile: read your profile and try again", code="CONCURRENT_CHANGE"
            ) from exc
        raise
