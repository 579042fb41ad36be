"""Configuration of the render functions and the render container, validated at first use.

=====================================  ===================================================================
RENDERS_TABLE                          the renders table (jobs, per-studio slot counters)
MEDIA_BUCKET                           the private media bucket (sources and render outputs)
IDEMPOTENCY_TABLE                      Powertools Idempotency records (``Idempotency-Key`` replays)
RENDER_STATE_MACHINE_ARN               the render state machine (API: start; cancel: stop)
RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN     optional: the Batch queue for ``priority: HIGH`` (NORMAL and LOW
                                       always use the state machine's ``${JobQueueArn}``, and so does
                                       HIGH when this is unset)
RENDER_RETRY_AFTER_SECONDS             ``Retry-After`` of a 429 over the concurrent renders quota
                                       (``keyframe.usage``), default 15
RENDER_PLAYBACK_TTL_SECONDS            a review session: how long playback and download links work,
                                       default 14400 (4 h), at most 12 h
RENDER_IDEMPOTENCY_TTL_SECONDS         how long an ``Idempotency-Key`` is remembered, default 86400
RENDER_FONT_FILE                       optional TrueType font for burn-in/watermark (default: fontconfig)
RENDER_WORK_DIR                        optional scratch folder of the container (default: the temp dir)
=====================================  ===================================================================
"""

from __future__ import annotations

from pydantic import Field

from keyframe.settings import EnvSettings, MediaSettings


class RendersSettings(MediaSettings):
    """What every render code path needs: the table, the bucket (``MEDIA_BUCKET``, validated by
    :class:`keyframe.settings.MediaSettings`) and the limits."""

    RENDERS_TABLE: str = Field(min_length=3)
    RENDER_RETRY_AFTER_SECONDS: int = Field(default=15, ge=1, le=3600)
    RENDER_PLAYBACK_TTL_SECONDS: int = Field(default=4 * 3600, ge=1, le=12 * 3600)


class ExecutionSettings(EnvSettings):
    """What starting and stopping render executions needs (the API functions)."""

    RENDER_STATE_MACHINE_ARN: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
    RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN: str = ""


class IdempotencySettings(EnvSettings):
    """The Powertools Idempotency table and how long a key is remembered (seconds)."""

    IDEMPOTENCY_TABLE: str = Field(min_length=3)
    RENDER_IDEMPOTENCY_TTL_SECONDS: int = Field(default=24 * 3600, ge=60)


class WorkerSettings(EnvSettings):
    """Extra knobs of the render container."""

    RENDER_FONT_FILE: str = ""
    RENDER_WORK_DIR: str = ""
