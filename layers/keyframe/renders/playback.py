"""Private HLS playback and downloads: presigned links that players open with no auth header.

The problem: a player (hls.js, Safari's native HLS) fetches the master playlist, then each variant
playlist, then every segment, by plain GETs with no ``Authorization`` header, while the media bucket
stays private. A presigned URL of the master alone is not enough: the URIs inside it are relative
(``720p/index.m3u8``, ``segment_000.ts``) and would resolve to unsigned, forbidden URLs.

The approach chosen: **rewritten playlists written to S3 at playback time, every link presigned.**
``GET /renders/{id}/playback``

1. reads the master playlist and each variant playlist the worker stored;
2. rewrites each variant playlist so every segment URI is a presigned GET (expiring at ``expiresAt``),
   writes it to ``{attempt prefix}playback/{session}/{rendition}/index.m3u8`` and presigns it;
3. rewrites the master so each variant URI is that presigned playlist URL, writes and presigns it;
4. answers ``{url, expiresAt}``: the master's presigned URL.

Every URL of one playback is signed to expire at the same moment, ``expiresAt`` of the answer
(``RENDER_PLAYBACK_TTL_SECONDS`` after the request: a review session, default 4 h, at most 12 h,
whole seconds): each link's ``X-Amz-Expires`` is the time left until that moment when it is signed,
so a long playlist whose rewriting takes a few seconds still expires together. S3 enforces the
expiry (403 after it); the emulator does not, which is why the tests check the signed
``X-Amz-Date`` + ``X-Amz-Expires``.

**Renewing.** A client renews by calling ``GET /renders/{id}/playback`` again before ``expiresAt``
(hls.js: load the new master and carry on from the current time). The rewritten playlists of one
session live in ``playback/{expiresAt epoch}/``; a call that finds a session whose playlists are
complete (its master is written last) and that still has at least the TTL minus
:func:`renew_step` to run answers that session's master again, rewriting nothing: one listing of
the render's ``playback/`` folder, no DynamoDB request beyond the job read. So however many viewers
open or renew a render, its playlists are rewritten at most once per step (a quarter of the TTL, at
most 15 minutes), and ``expiresAt`` is never earlier than the TTL minus that step. In the cloud a
presigned URL also stops working when the credentials that signed it expire (a Lambda role's
session, usually a few hours): a client that renews before ``expiresAt`` never notices.

The alternative, a public API route ``GET /renders/{id}/playlists/{name}?token=`` authenticated by
an HMAC token and rewriting on every request, needs a route outside the Lambda authorizer (a change
to the public-route list), a Lambda invocation per playlist fetch, and its own expiry logic; the S3
approach uses only the bucket and IAM, works unchanged on the local emulator, and keeps players
talking to S3 (or a CDN in front of it) directly. Its costs: ``1 + renditions`` small PUTs per
playback (tagged ``keyframe-ephemeral=playback`` so a bucket lifecycle rule deletes them after a
day), and a presigned URL cannot outlive the credentials that signed it (a Lambda role's session),
which is why the lifetime stays short. Players must be allowed to GET from the bucket's origin
(bucket CORS).

Every playback or download answered is counted in the studio's estimated playback egress
(:mod:`keyframe.usage.egress`: one ADD on the renders table; a playback as ``totalBytes`` over its
renditions, a download as ``totalBytes``).

Downloads (``review-mp4``, ``filmstrip``) are one presigned GET with ``Content-Disposition:
attachment``; S3 serves ``Range`` requests on it, so players and download managers can seek/resume.

Watermarked renders (``options.watermark``, ``review-mp4`` only) carry a visible watermark naming the
member who requested them. So that the mark identifies whoever watches, such a render is playable and
downloadable **only by that member** (and by a studio ADMIN, who answers for the studio's security);
any other member gets 403 ``WATERMARKED_FOR_ANOTHER_MEMBER`` and requests their own watermarked copy.
The job itself (status, outputs, lineage) stays readable by every member: 403 rather than 404,
because the job is not hidden, only its pixels.
"""

from __future__ import annotations

import posixpath

from keyframe import clock
from keyframe.errors import Conflict, Forbidden
from keyframe.identity.permissions import Principal, Role
from keyframe.renders import playlists, presets, storage
from keyframe.renders.config import RendersSettings
from keyframe.renders.models import RenderJobItem, RenderStatus
from keyframe.renders.schemas import PlaybackLink
from keyframe.renders.service import load_job
from keyframe.settings import load
from keyframe.usage import egress

EPHEMERAL_TAG = "keyframe-ephemeral=playback"
"""Object tag of the rewritten playlists (a lifecycle rule on this tag expires them after 1 day)."""
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def resolve_key(base_key: str, uri: str, root: str) -> str:
    """The object key a relative ``uri`` in the playlist at ``base_key`` points to.

    Raises
    ------
    ValueError
        ``uri`` is absolute (``https://``, ``/...``) or leaves ``root`` (``../..``): a playlist may only
        point inside its own render attempt.

    Examples
    --------
    >>> resolve_key("s/r/attempt-1/master.m3u8", "720p/index.m3u8", "s/r/attempt-1/")
    's/r/attempt-1/720p/index.m3u8'
    """
    if "://" in uri or uri.startswith("/"):
        raise ValueError(f"playlist URI {uri!r} is not relative")
    key = posixpath.normpath(posixpath.join(posixpath.dirname(base_key), uri))
    if not key.startswith(root):
        raise ValueError(f"playlist URI {uri!r} leaves the render's folder")
    return key


def _deadline(ttl: int) -> int:
    """When the links of one playback or download expire: ``ttl`` seconds from now (epoch seconds)."""
    return int(clock.epoch()) + ttl


def _presign_until(bucket: str, key: str, deadline: int, **response: str) -> str:
    """A presigned GET that expires at ``deadline`` (epoch seconds): ``X-Amz-Expires`` is the time left.

    The signature's ``X-Amz-Date`` is the signing second, so ``X-Amz-Date + X-Amz-Expires`` is
    ``deadline`` (one second later at most, when a second boundary passes between here and the signer).
    """
    return storage.presign_get(bucket, key, max(1, deadline - int(clock.epoch())), **response)


def check_viewer(principal: Principal, item: RenderJobItem) -> None:
    """A watermarked render is played or downloaded only by the member it names (or an ADMIN).

    Raises
    ------
    Forbidden
        ``WATERMARKED_FOR_ANOTHER_MEMBER``: the render was requested with ``watermark`` by someone
        else, so its visible watermark names them, not the caller.
    """
    if not (item.options or {}).get("watermark"):
        return
    if principal.user_id == item.created_by or principal.role == Role.ADMIN:
        return
    raise Forbidden(
        "This render carries a visible watermark naming the member who requested it, so only they (or "
        "an ADMIN) may play or download it; request your own copy with options.watermark",
        code="WATERMARKED_FOR_ANOTHER_MEMBER",
        details={"renderJobId": item.job_id},
    )


def _succeeded(item: RenderJobItem) -> dict:
    if item.state is not RenderStatus.SUCCEEDED or not item.outputs:
        raise Conflict(
            f"The render is {item.status}; only a SUCCEEDED render can be played or downloaded",
            code="RENDER_NOT_READY",
            details={"status": item.status},
        )
    return item.outputs


def _get_text(bucket: str, key: str) -> str:
    return storage.s3().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")


def _put_playlist(bucket: str, key: str, text: str, ttl: int) -> None:
    storage.s3().put_object(
        Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=PLAYLIST_TYPE,
        CacheControl=f"private, max-age={ttl}", Tagging=EPHEMERAL_TAG,
    )  # fmt: skip


def renew_step(ttl: int) -> int:
    """How much older than a fresh one a reused session may be: a quarter of ``ttl``, at most 15 min."""
    return max(1, min(900, ttl // 4))


def _reusable_session(bucket: str, sessions: str, ttl: int) -> int | None:
    """The deadline (epoch seconds) of the session under ``sessions`` to answer again, if any.

    A session qualifies when its master playlist exists (written last, so every playlist is there)
    and its deadline is at least ``ttl - renew_step(ttl)`` away. One ``ListObjectsV2`` (media bucket).
    """
    listed = storage.s3().list_objects_v2(Bucket=bucket, Prefix=sessions)
    deadlines = []
    for obj in listed.get("Contents", []):
        folder, _, name = obj["Key"][len(sessions) :].partition("/")
        if name == "master.m3u8" and folder.isdigit():
            deadlines.append(int(folder))
    best = max(deadlines, default=None)
    if best is not None and best >= int(clock.epoch()) + ttl - renew_step(ttl):
        return best
    return None


def _count(item: RenderJobItem, outputs: dict, *, stream: bool) -> None:
    """Count the link in the studio's egress estimate: ``totalBytes`` (over the renditions for a stream)."""
    total = int(outputs.get("totalBytes") or 0)
    if stream:
        total //= max(1, len(outputs.get("renditions") or []))
    egress.count_link(egress.Source.RENDERS, item.studio_id, total)


def playback(principal: Principal, job_id: str) -> PlaybackLink:
    """A presigned master playlist of a SUCCEEDED ``hls`` render, every link inside presigned too.

    Reads the job (renders table) and the stored playlists, writes the rewritten ones under
    ``{attempt prefix}playback/{expiresAt epoch}/`` (media bucket), or answers a recent session's
    master again (see the module's *Renewing*). Every link expires at ``expiresAt``. Counts the
    link in the studio's egress estimate (one UpdateItem, renders table).

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``.
    Forbidden
        ``WATERMARKED_FOR_ANOTHER_MEMBER`` (see :func:`check_viewer`).
    Conflict
        ``RENDER_NOT_READY`` (not SUCCEEDED) or ``NOT_PLAYABLE`` (not an HLS render: use download).
    """
    item = load_job(principal.studio_id, job_id)
    check_viewer(principal, item)
    outputs = _succeeded(item)
    if not presets.preset(item.preset).playable:
        raise Conflict("This render is a file, not a stream; use /download", code="NOT_PLAYABLE")
    settings = load(RendersSettings)
    bucket = settings.MEDIA_BUCKET
    ttl = settings.RENDER_PLAYBACK_TTL_SECONDS
    root = outputs["prefix"]
    master_key = outputs["masterPlaylist"]
    sessions = f"{root}playback/"
    reused = _reusable_session(bucket, sessions, ttl)
    if reused is not None:
        master_copy = f"{sessions}{reused}/master.m3u8"
        _count(item, outputs, stream=True)
        url = _presign_until(bucket, master_copy, reused)
        return PlaybackLink(url=url, expires_at=clock.iso_seconds(reused), content_type=PLAYLIST_TYPE)
    deadline = _deadline(ttl)
    session = f"{sessions}{deadline}/"

    def variant_url(uri: str) -> str:
        key = resolve_key(master_key, uri, root)
        text = playlists.rewrite(
            _get_text(bucket, key),
            lambda segment: _presign_until(bucket, resolve_key(key, segment, root), deadline),
        )
        rewritten_key = session + key[len(root) :]
        _put_playlist(bucket, rewritten_key, text, settings.RENDER_PLAYBACK_TTL_SECONDS)
        return _presign_until(bucket, rewritten_key, deadline)

    master = playlists.rewrite(_get_text(bucket, master_key), variant_url)
    master_copy = session + "master.m3u8"
    _put_playlist(bucket, master_copy, master, settings.RENDER_PLAYBACK_TTL_SECONDS)
    _count(item, outputs, stream=True)
    url = _presign_until(bucket, master_copy, deadline)
    return PlaybackLink(url=url, expires_at=clock.iso_seconds(deadline), content_type=PLAYLIST_TYPE)


def download(principal: Principal, job_id: str) -> PlaybackLink:
    """A presigned, Range-capable GET of a SUCCEEDED review MP4 or filmstrip (``attachment``).

    Counts the link in the studio's egress estimate (one UpdateItem, renders table).

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``.
    Forbidden
        ``WATERMARKED_FOR_ANOTHER_MEMBER`` (see :func:`check_viewer`).
    Conflict
        ``RENDER_NOT_READY`` or ``NOT_DOWNLOADABLE`` (an HLS render: use playback).
    """
    item = load_job(principal.studio_id, job_id)
    check_viewer(principal, item)
    outputs = _succeeded(item)
    spec = presets.preset(item.preset)
    if spec.playable:
        raise Conflict("An HLS render is streamed, not downloaded; use /playback", code="NOT_DOWNLOADABLE")
    settings = load(RendersSettings)
    deadline = _deadline(settings.RENDER_PLAYBACK_TTL_SECONDS)
    stem = "".join(
        c if c.isalnum() or c in "-_" else "_" for c in (item.texts or {}).get("assetName", "render")
    )
    file_name = (
        f"{stem or 'render'}_v{int(item.version):03d}_{spec.name}{posixpath.splitext(spec.primary)[1]}"
    )
    url = _presign_until(
        settings.MEDIA_BUCKET,
        outputs["primary"],
        deadline,
        ResponseContentDisposition=f'attachment; filename="{file_name}"',
        ResponseContentType=spec.content_type,
    )
    _count(item, outputs, stream=False)
    return PlaybackLink(url=url, expires_at=clock.iso_seconds(deadline), content_type=spec.content_type)
