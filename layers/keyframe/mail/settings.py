"""What :mod:`keyframe.mail` reads from the environment (validated at the first send)."""

from __future__ import annotations

from pydantic import Field, field_validator

from keyframe.settings import EnvSettings


class MailSettings(EnvSettings):
    """The sender, the front end the links point to, and an optional SES configuration set."""

    MAIL_FROM: str = Field(
        min_length=3,
        description="the From address of every e-mail (an SES-verified identity: the address or its domain)",
    )
    FRONTEND_URL: str = Field(
        min_length=8,
        description="the web front end's base URL; e-mail links (invitations, password resets) point there",
    )
    MAIL_CONFIGURATION_SET: str = Field(
        default="", description="SES configuration set for sending events (empty: none)"
    )

    @field_validator("FRONTEND_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("an http(s) URL, e.g. https://app.keyframe.example")
        return value.rstrip("/")
