"""REST routes of the studio's quotas and usage (served by ``renders-api``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import Field

from keyframe.errors import InvalidInput
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.identity.permissions import Permission
from keyframe.schemas import ApiModel
from keyframe.usage.vocabulary import MAX_DAYS, Quota, QuotaFigure

router = Router()


class StudioQuotas(ApiModel):
    """Each quota of your studio: ``{limit, used}`` (render minutes: this UTC month's)."""

    storage_bytes: QuotaFigure
    concurrent_renders: QuotaFigure
    render_minutes_per_month: QuotaFigure
    webhook_endpoints: QuotaFigure
    render_vcpus: QuotaFigure = Field(
        description="vCPUs held by queued and running renders: 2 per video render, 2 per array child "
        "(chunk) of a scene render"
    )


@router.get(
    "/studio/quotas",
    tags=["members"],
    summary="Your studio's quotas (storage, renders, render vCPUs, render minutes, webhooks) and their use",
    operation_id="getStudioQuotas",
)
def get_studio_quotas() -> StudioQuotas:
    """Every member may read them (``studio:read``); the limits are set by configuration."""
    from keyframe.usage import quotas

    principal = authorize(Permission.STUDIO_READ)
    found = quotas.figures(principal.studio_id)
    return StudioQuotas(
        storage_bytes=found[Quota.STORAGE_BYTES],
        concurrent_renders=found[Quota.CONCURRENT_RENDERS],
        render_minutes_per_month=found[Quota.RENDER_MINUTES_PER_MONTH],
        webhook_endpoints=found[Quota.WEBHOOK_ENDPOINTS],
        render_vcpus=found[Quota.RENDER_VCPUS],
    )


class UploadUsage(ApiModel):
    """Uploads completed in the range: how many and their bytes."""

    count: int
    bytes: int


class StorageDayUsage(ApiModel):
    """The studio's storage at the end of one UTC day (today: now), and that day's net change."""

    date: date
    bytes: int = Field(description="completed uploads plus open sessions' declared sizes at the day's end")
    change_bytes: int = Field(description="reservations minus releases of the day (negative: freed)")


class PresetUsage(ApiModel):
    """Render jobs of one preset that ended in the range (wall-clock seconds, as the minutes quota)."""

    count: int
    seconds: float
    minutes: float
    vcpu_seconds: float = Field(
        description="video presets: seconds x the job's 2 vCPUs; scene presets: the seconds of each "
        "chunk's latest try in the render's last attempt x a chunk's 2 vCPUs (the probe and assembly "
        "steps are not counted)"
    )


class EgressDayUsage(ApiModel):
    """Playback and download links issued on one UTC day and the bytes they point to."""

    date: date
    bytes: int
    links: int


class EgressUsage(ApiModel):
    """**Estimated** playback egress: players fetch presigned S3 links Keyframe never sees, so each
    link issued counts as one whole fetch of what it points to (a version's file, a render download,
    an HLS render's bytes over its renditions). Thumbnails and profile pictures are not counted."""

    bytes: int
    links: int
    by_day: list[EgressDayUsage] = Field(description="every day of the range up to today")


class StudioUsage(ApiModel):
    """Your studio's usage on the UTC days ``from..to`` (both included).

    ``storageBytes`` is the current figure (completed uploads plus open sessions' declared sizes);
    ``storageByDay`` has every day of the range up to today, a day without change carrying the
    previous day's balance.
    """

    from_: date = Field(alias="from")
    to: date
    storage_bytes: int
    storage_by_day: list[StorageDayUsage]
    uploads_completed: UploadUsage
    renders_by_preset: dict[str, PresetUsage]
    playback_egress: EgressUsage
    active_members: int


@router.get(
    "/studio/usage",
    tags=["members"],
    summary="Your studio's usage over a range of days (storage, uploads, renders by preset, egress, members)",
    operation_id="getStudioUsage",
    openapi_extensions=answers("INVALID_INPUT"),
)
def get_studio_usage(
    from_: Annotated[date, Query(alias="from", description="First UTC day (ISO date)")],
    to: Annotated[date, Query(description="Last UTC day (ISO date), at most 366 days after from")],
) -> StudioUsage:
    """Admins and producers (``usage:read``); others 403.

    Exact figures from stored data: storage bytes now (quota counter) and at the end of each day of
    the range up to today (the counter minus later days' changes), ``upload:completed`` activity
    entries (count, bytes), render jobs ended in range (seconds, minutes, vCPU-seconds by preset: a video
    render's seconds x its 2 vCPUs, a scene render's chunk seconds x a chunk's 2 vCPUs, each chunk's
    latest try), distinct actors of the activity log.
    Playback egress is an estimate: each playback or download link issued, counted as one fetch of
    what it points to.

    Raises ``INVALID_INPUT`` (400) when ``from`` is after ``to`` or the range is over 366 days;
    a value that is not an ISO date is ``VALIDATION_ERROR`` (400).
    """
    principal = authorize(Permission.USAGE_READ)
    if from_ > to:
        raise InvalidInput(
            "from must be on or before to", details={"from": from_.isoformat(), "to": to.isoformat()}
        )
    if (to - from_).days + 1 > MAX_DAYS:
        raise InvalidInput(f"the range is at most {MAX_DAYS} days", details={"maxDays": MAX_DAYS})
    from keyframe.usage import figures

    found = figures.usage(principal.studio_id, from_, to)
    return StudioUsage(
        **{"from": from_},
        to=to,
        storage_bytes=found["storageBytes"],
        storage_by_day=[StorageDayUsage(**day) for day in found["storageByDay"]],
        uploads_completed=UploadUsage(**found["uploads"]),
        renders_by_preset={
            preset: PresetUsage(
                count=int(f["count"]),
                seconds=f["seconds"],
                minutes=round(f["seconds"] / 60, 3),
                vcpu_seconds=f["vcpuSeconds"],
            )
            for preset, f in found["renders"].items()
        },
        playback_egress=EgressUsage(
            bytes=sum(day["bytes"] for day in found["egressByDay"]),
            links=sum(day["links"] for day in found["egressByDay"]),
            by_day=[EgressDayUsage(**day) for day in found["egressByDay"]],
        ),
        active_members=found["activeMembers"],
    )
