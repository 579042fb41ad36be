"""The usage domain's vocabulary: the per-studio quotas by name, one quota's figure, the longest range.

Plain values (an enum, one small pydantic model, a number): the ``/studio/quotas`` and ``/studio/usage``
routes' contracts name them without loading the quota counters' PynamoDB models or the usage figures
(:mod:`keyframe.usage.quotas`, :mod:`keyframe.usage.figures`), which a route loads when it runs.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

MAX_DAYS = 366
"""The longest range ``GET /studio/usage`` answers, in days (both ends included)."""


class Quota(StrEnum):
    """A per-studio quota; the value is its name in the API (``GET /studio/quotas``, ``details.quota``)."""

    STORAGE_BYTES = "storageBytes"
    CONCURRENT_RENDERS = "concurrentRenders"
    RENDER_MINUTES_PER_MONTH = "renderMinutesPerMonth"
    WEBHOOK_ENDPOINTS = "webhookEndpoints"
    RENDER_VCPUS = "renderVcpus"


class QuotaFigure(BaseModel):
    """One quota of a studio: its limit and how much is used now."""

    limit: int
    used: int
