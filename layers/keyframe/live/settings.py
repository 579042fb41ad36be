"""Configuration of the live review functions, validated from the environment at first use.

=================================  ==========================================================
LIVE_TABLE                         the live table (tickets, connections, rooms, comments)
LIVE_WEBSOCKET_URL                 the ``wss://…/live`` URL clients open (tickets route only)
LIVE_CONNECTIONS_ENDPOINT          the ``@connections`` management endpoint (fan-out; read by
                                   ``keyframe.events.publisher`` to turn delivery on)
LIVE_TICKET_TTL_SECONDS            ticket lifetime, default 60
LIVE_CONNECTION_TTL_SECONDS        connection record lifetime, default 7200 (API Gateway's 2 h)
LIVE_MAX_MESSAGES_PER_SECOND       per-connection message rate, default 20
LIVE_MAX_MESSAGE_BYTES             largest accepted frame, default 32768
LIVE_FLOOD_SECONDS                 seconds in a row over the rate that close a socket, default 3
LIVE_FANOUT_WORKERS                parallel ``PostToConnection`` calls, default 16
=================================  ==========================================================
"""

from __future__ import annotations

from pydantic import Field

from keyframe.settings import EnvSettings


class LiveSettings(EnvSettings):
    """What every live function needs (the table and the tunables)."""

    LIVE_TABLE: str = Field(min_length=3)
    LIVE_TICKET_TTL_SECONDS: int = Field(default=60, ge=5, le=600)
    LIVE_CONNECTION_TTL_SECONDS: int = Field(default=7200, ge=60)
    LIVE_MAX_MESSAGES_PER_SECOND: int = Field(default=20, ge=1)
    LIVE_MAX_MESSAGE_BYTES: int = Field(default=32 * 1024, ge=1024, le=128 * 1024)
    LIVE_FLOOD_SECONDS: int = Field(
        default=3,
        ge=1,
        le=60,
        description="a socket over LIVE_MAX_MESSAGES_PER_SECOND this many seconds in a row is closed",
    )
    LIVE_FANOUT_WORKERS: int = Field(default=16, ge=1, le=128)


class TicketSettings(EnvSettings):
    """What the ticket route needs on top: the public WebSocket URL (no default)."""

    LIVE_WEBSOCKET_URL: str = Field(pattern=r"^wss?://\S+$")


class FanoutSettings(EnvSettings):
    """What the fan-out needs: the ``@connections`` endpoint (no default)."""

    LIVE_CONNECTIONS_ENDPOINT: str = Field(pattern=r"^https?://\S+$")
