"""Playback positions: where a member stopped playing a render, to resume there (favorites table).

One item per (member, render job); the latest ``PUT`` wins. The render job must be one of the
caller's studio (renders table), so another studio's job answers 404 ``RENDER_NOT_FOUND``.
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from keyframe import clock
from keyframe.favorites.models import PlaybackPositionItem, member_pk, playback_sk
from keyframe.favorites.schemas import PlaybackPosition


def _require_job(studio_id: str, render_job_id: str) -> None:
    """The render job must exist in the studio (renders table).

    The renders domain is imported here, on the first playback request, not at the cold start of
    ``catalog-api``, which serves these routes: its service brings the notifications and mail
    modules with it (about 35 ms of every cold start of that function otherwise).

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``: unknown job or another studio's.
    """
    from keyframe.renders.service import load_job  # noqa: PLC0415  (see above)

    load_job(studio_id, render_job_id)


def _view(item: PlaybackPositionItem) -> PlaybackPosition:
    return PlaybackPosition(
        render_job_id=item.render_job_id,
        position_seconds=float(item.position_seconds),
        updated_at=item.updated_at,
    )


def save_position(
    studio_id: str, user_id: str, render_job_id: str, position_seconds: float
) -> PlaybackPosition:
    """Remember that the member stopped ``render_job_id`` at ``position_seconds`` (>= 0).

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``: unknown job or another studio's.
    """
    _require_job(studio_id, render_job_id)
    item = PlaybackPositionItem(
        member_pk(studio_id, user_id),
        playback_sk(render_job_id),
        studio_id=studio_id,
        user_id=user_id,
        render_job_id=render_job_id,
        position_seconds=round(float(position_seconds), 3),
        updated_at=clock.now_iso(),
    )
    item.save()
    return _view(item)


def get_position(studio_id: str, user_id: str, render_job_id: str) -> PlaybackPosition:
    """Where the member stopped ``render_job_id``: position 0 and ``updatedAt`` null if never played.

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``: unknown job or another studio's.
    """
    _require_job(studio_id, render_job_id)
    try:
        item = PlaybackPositionItem.get(
            member_pk(studio_id, user_id), playback_sk(render_job_id), consistent_read=True
        )
    except DoesNotExist:
        return PlaybackPosition(render_job_id=render_job_id, position_seconds=0.0, updated_at=None)
    return _view(item)
