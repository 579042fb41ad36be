"""Configuration of analytics, validated from the environment at first use.

=================================  ==========================================================
ANALYTICS_STREAM_NAME              the Kinesis Data Firehose delivery stream records are put to
                                   (the cloud; set by ``infra/grants.py``)
ANALYTICS_DIRECTORY                a folder records are appended to as JSON lines, instead of
                                   Firehose (the local stack: ``.keyframe/analytics``)
ANALYTICS_EVENTS_PER_MINUTE        client events one member may send per minute, default 1200
=================================  ==========================================================

One of the first two is required wherever a record is written (no default: a process that records
must be told where); with both, the directory wins.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from keyframe.settings import EnvSettings


class AnalyticsSettings(EnvSettings):
    """Where analytics records go, and the client rate limit.

    Raises
    ------
    pydantic.ValidationError
        Neither ``ANALYTICS_STREAM_NAME`` nor ``ANALYTICS_DIRECTORY`` is set.
    """

    ANALYTICS_STREAM_NAME: str | None = Field(
        default=None,
        pattern=r"^[a-zA-Z0-9_.-]{1,64}$",
        description="the Firehose stream of analytics records (the cloud: keyframe-<stage>-analytics)",
    )
    ANALYTICS_DIRECTORY: str | None = Field(
        default=None,
        min_length=1,
        description="append analytics records to files here instead (make dev: .keyframe/analytics)",
    )
    ANALYTICS_EVENTS_PER_MINUTE: int = Field(
        default=1200, ge=1, description="client analytics events one member may send per minute"
    )

    @model_validator(mode="after")
    def _one_destination(self) -> AnalyticsSettings:
        if not self.ANALYTICS_STREAM_NAME and not self.ANALYTICS_DIRECTORY:
            raise ValueError("set ANALYTICS_STREAM_NAME (Firehose) or ANALYTICS_DIRECTORY (local files)")
        return self
