"""REST route of the studio's quotas (served by ``renders-api``)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from keyframe.http.auth import authorize
from keyframe.identity.permissions import Permission
from keyframe.schemas import ApiModel
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota, QuotaFigure

router = Router()


class StudioQuotas(ApiModel):
    """Each quota of your studio: ``{limit, used}`` (render minutes: this UTC month's)."""

    storage_bytes: QuotaFigure
    concurrent_renders: QuotaFigure
    render_minutes_per_month: QuotaFigure
    webhook_endpoints: QuotaFigure


@router.get(
    "/studio/quotas",
    tags=["members"],
    summary="Your studio's quotas (storage, concurrent renders, render minutes, webhooks) and their use",
    operation_id="getStudioQuotas",
)
def get_studio_quotas() -> StudioQuotas:
    """Every member may read them (``studio:read``); the limits are set by configuration."""
    principal = authorize(Permission.STUDIO_READ)
    found = quotas.figures(principal.studio_id)
    return StudioQuotas(
        storage_bytes=found[Quota.STORAGE_BYTES],
        concurrent_renders=found[Quota.CONCURRENT_RENDERS],
        render_minutes_per_month=found[Quota.RENDER_MINUTES_PER_MONTH],
        webhook_endpoints=found[Quota.WEBHOOK_ENDPOINTS],
    )
