"""Estimated playback egress per UTC day: the bytes behind each playback or download link issued.

Downloads and playback are presigned S3 GETs that players fetch from the bucket directly; Keyframe
never sees the bytes go out. What it sees is each link it issues, so the figure is an **estimate: a
link issued is counted as one whole fetch** of what it points to:

==================================  ===========================================================
link                                bytes counted
==================================  ===========================================================
version download (original)         the version's file size (stored with the version)
version derived file (proxy, ...)   the object's size (one HeadObject per key and process)
render download (review MP4, ...)   the render's ``outputs.totalBytes``
render playback (HLS master)        ``outputs.totalBytes`` / renditions: a player streams one
                                    rendition at a time (a renewal counts again)
==================================  ===========================================================

A viewer who stops early, seeks or re-reads from a cache makes it an over-count; a link fetched by
several players, an under-count. Thumbnails and profile pictures signed into lists are not counted
(small, and their sizes are not stored).

**How it is counted.** :func:`count_link` makes one ``UpdateItem`` with an atomic ``ADD`` of
``bytes`` and ``links + 1`` on the day's item ``STUDIO#{s}#EGRESS`` / ``DAY#{yyyy-mm-dd}`` in the
table of the caller's domain (catalog for versions, renders for renders, which each function already
writes), after the link is signed. That is the one extra write on the read path, made synchronously:

- fire-and-forget (a thread) loses counts: Lambda freezes the sandbox once the response is returned,
  and a frozen sandbox may never run again;
- the outbox would store and stream an event per link (a PutItem plus a stream consumer's work,
  more than the ADD itself) for something no room or webhook wants;
- analytics records land in S3 through Firehose, which ``GET /studio/usage`` cannot read without
  Athena.

A failed count is logged and the link is answered anyway: the figure is an estimate, a link is not.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pynamodb.models import Model

from keyframe import clock
from keyframe.observability import logger
from keyframe.usage.models import RenderEgressDay, VersionEgressDay, day_sk, egress_pk


class Source(StrEnum):
    """Which links: a version's files (catalog table) or a render's outputs (renders table)."""

    VERSIONS = "versions"
    RENDERS = "renders"


_MODELS: dict[Source, type[Model]] = {Source.VERSIONS: VersionEgressDay, Source.RENDERS: RenderEgressDay}


def count_link(source: Source, studio_id: str, nbytes: int) -> None:
    """Count one link issued now to ``nbytes`` bytes (one UpdateItem ``ADD`` on today's item).

    Writes the catalog table (``Source.VERSIONS``) or the renders table (``Source.RENDERS``). Never
    raises: a failure is logged (``egress not counted``) and the caller answers its link.
    """
    model: Any = _MODELS[source]
    item = model(egress_pk(studio_id), day_sk(clock.now().date()))
    try:
        item.update(actions=[model.bytes.add(max(0, int(nbytes))), model.links.add(1)])
    except Exception:  # an estimate must never fail the link it counts
        logger.warning("egress not counted", extra={"source": source.value, "studio_id": studio_id})


def by_day(studio_id: str, first: date, last: date) -> list[dict[str, Any]]:
    """Every UTC day ``first..min(last, today)``: ``{"date", "bytes", "links"}`` (zeros when none).

    Two Queries of ``STUDIO#{s}#EGRESS`` between the days (catalog and renders tables), summed.
    """
    end = min(last, clock.now().date())
    if first > end:  # a range wholly in the future (DynamoDB refuses a BETWEEN whose bounds cross)
        return []
    totals: dict[str, list[int]] = {}
    for model in _MODELS.values():
        found: Any = model
        for item in found.query(egress_pk(studio_id), found.sk.between(day_sk(first), day_sk(end))):
            figure = totals.setdefault(item.sk.removeprefix("DAY#"), [0, 0])
            figure[0] += int(item.bytes or 0)
            figure[1] += int(item.links or 0)
    days = []
    day = first
    while day <= end:
        nbytes, links = totals.get(day.isoformat(), [0, 0])
        days.append({"date": day, "bytes": nbytes, "links": links})
        day += timedelta(days=1)
    return days
