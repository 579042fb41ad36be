"""The per-studio quotas, set by configuration (environment variables of every function).

=====================================  ===================================================================
STUDIO_QUOTA_BYTES                     bytes a studio may hold (completed uploads + open upload
                                       sessions' declared sizes), default 100 GiB
MAX_CONCURRENT_RENDERS_PER_STUDIO      QUEUED + RUNNING renders a studio may have, default 4
RENDER_MINUTES_PER_MONTH               render minutes (wall clock of finished attempts) a studio may
                                       use per calendar month (UTC), default 6000
WEBHOOK_ENDPOINTS_PER_STUDIO           outbound webhook endpoints a studio may register, default 10
RENDER_VCPUS_PER_STUDIO                vCPUs a studio's QUEUED + RUNNING renders may hold at once, default
                                       64: a video render holds its job definition's 2, a scene render 2
                                       per array child (chunk), so one scene render has at most 32 chunks
                                       by default sizing
STUDIO_QUOTAS                          optional JSON object of per-studio overrides:
                                       ``{"<studioId>": {"storageBytes": 1099511627776, ...}}`` with keys
                                       ``storageBytes``, ``concurrentRenders``, ``renderMinutesPerMonth``,
                                       ``webhookEndpoints``, ``renderVcpus``
=====================================  ===================================================================
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, Json

from keyframe.settings import EnvSettings

GIB = 1024**3


class QuotaOverride(BaseModel):
    """One studio's own limits (any subset; the rest come from the defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    storageBytes: int | None = Field(default=None, ge=1)
    concurrentRenders: int | None = Field(default=None, ge=1, le=1000)
    renderMinutesPerMonth: int | None = Field(default=None, ge=0)
    webhookEndpoints: int | None = Field(default=None, ge=0, le=1000)
    renderVcpus: int | None = Field(default=None, ge=2, le=100_000)


class QuotaSettings(EnvSettings):
    """The quota defaults and per-studio overrides (see the module docstring)."""

    STUDIO_QUOTA_BYTES: int = Field(default=100 * GIB, ge=1)
    MAX_CONCURRENT_RENDERS_PER_STUDIO: int = Field(default=4, ge=1, le=1000)
    RENDER_MINUTES_PER_MONTH: int = Field(
        default=6000, ge=0, description="render minutes (wall clock of finished attempts) per UTC month"
    )
    WEBHOOK_ENDPOINTS_PER_STUDIO: int = Field(
        default=10, ge=0, le=1000, description="outbound webhook endpoints a studio may register"
    )
    RENDER_VCPUS_PER_STUDIO: int = Field(
        default=64, ge=2, le=100_000, description="vCPUs a studio's queued and running renders may hold"
    )
    STUDIO_QUOTAS: Json[dict[str, QuotaOverride]] = Field(
        default="{}",  # type: ignore[arg-type]  # text, parsed like the environment's (validate_default)
        validate_default=True,
        description='per-studio overrides, JSON: {"<studioId>": {"storageBytes": …, "concurrentRenders": …, '
        '"renderMinutesPerMonth": …, "webhookEndpoints": …, "renderVcpus": …}}',
    )
