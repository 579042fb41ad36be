"""Settings: every function's configuration, validated with pydantic at cold start.

Resource names (tables, buckets, secrets, state machines) have no defaults: a function that needs
one and does not get it fails on its first invocation with a clear ``ValidationError`` naming the
variable. Tunables (token lifetimes, limits) have documented defaults. Each group is a small model so
a function validates only what it uses; :func:`load` caches one instance per model per process and
:func:`reset` forgets them (tests change the environment between cases).

Every group, here and in the domains (``keyframe.<domain>.settings`` / ``.config``), derives from
:class:`EnvSettings`: field names are the variables' names, values come from ``os.environ`` only
through :func:`load`. ``MEDIA_BUCKET`` is validated in one place, :class:`MediaSettings`; a group
that needs the bucket derives from it.

Environment variables (the README lists them all):

=========================  =============================================================
STAGE                      ``local``, ``dev`` or ``prod``
TENANTS_TABLE ...          physical table names, one per spec in ``keyframe.storage.tables``
MEDIA_BUCKET               the private media bucket
JWT_SECRET_NAME            Secrets Manager secret holding the signing keys
JWT_ISSUER / JWT_AUDIENCE  the ``iss``/``aud`` claims written and required
CORS_ALLOW_ORIGINS         comma-separated allow-list ("*" is refused in prod)
=========================  =============================================================
"""

from __future__ import annotations

import os
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EnvSettings(BaseModel):
    """The one base of environment settings: a frozen model whose fields are variable names.

    Other variables of the environment are ignored. Read a group with :func:`load` (validated once
    per process, cached until :func:`reset`); never instantiate one from ``os.environ`` by hand.
    A missing or invalid variable raises :class:`pydantic.ValidationError` whose error names it.
    """

    # validators are built on the first load(): a function builds only the settings it reads
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


T = TypeVar("T", bound=EnvSettings)


class CoreSettings(EnvSettings):
    """Settings every function has."""

    STAGE: str = Field(pattern=r"^[a-z0-9-]{1,20}$")
    CORS_ALLOW_ORIGINS: str = ""
    MAX_BODY_BYTES: int = Field(default=1_048_576, ge=1024)

    @field_validator("CORS_ALLOW_ORIGINS")
    @classmethod
    def _no_wildcard(cls, value: str) -> str:
        if "*" in value:
            raise ValueError("list the browser origins; '*' would let any site call the API")
        return value

    @property
    def cors_origins(self) -> list[str]:
        """The CORS allow-list as a list (empty: no browser origin allowed)."""
        return [o.strip() for o in self.CORS_ALLOW_ORIGINS.split(",") if o.strip()]


class AuthSettings(EnvSettings):
    """What the token issuer and the authorizer need."""

    JWT_SECRET_NAME: str = Field(min_length=1)
    JWT_ISSUER: str = Field(min_length=1)
    JWT_AUDIENCE: str = Field(min_length=1)
    ACCESS_TOKEN_TTL_SECONDS: int = Field(default=900, ge=60, le=3600)
    REFRESH_TOKEN_TTL_SECONDS: int = Field(default=30 * 24 * 3600, ge=3600)
    REFRESH_REUSE_GRACE_SECONDS: int = Field(
        default=10,
        ge=0,
        le=10,
        description="seconds in which a just-rotated refresh token gets the same new pair again "
        "(two tabs refreshing at once; 0 = any reuse revokes the session)",
    )
    INVITATION_TTL_SECONDS: int = Field(default=7 * 24 * 3600, ge=300)
    PASSWORD_RESET_TTL_SECONDS: int = Field(
        default=1800, ge=300, le=86_400, description="a password-reset link works this long, once"
    )
    PASSWORD_RESET_MIN_SECONDS: float = Field(
        default=0.5,
        ge=0,
        le=5,
        description="a password-reset request takes at least this long whether the e-mail has an "
        "account or not (same timing: no account enumeration)",
    )
    PASSWORD_RESET_MAX_PER_ADDRESS: int = Field(
        default=20, ge=1, description="password-reset requests one address may send an hour (then 429)"
    )
    PASSWORD_RESET_MAX_PER_EMAIL: int = Field(
        default=3,
        ge=1,
        description="reset e-mails one address receives an hour at most (further requests answer 202, "
        "send nothing)",
    )
    LOGIN_MAX_FAILURES: int = Field(
        default=5,
        ge=1,
        description="failed sign-ins of one account from one address before each further one makes "
        "that address wait (1, 2, 4 … s)",
    )
    LOGIN_LOCKOUT_SECONDS: int = Field(
        default=300,
        ge=1,
        description="the longest wait of an (account, address) pair; the wait of a throttled address, "
        "whose failures are forgotten after this long without one",
    )
    LOGIN_FAILURE_MEMORY_SECONDS: int = Field(
        default=86_400,
        ge=1,
        description="an (account, address) pair's failures are forgotten after this long without one "
        "(a success forgets them at once)",
    )
    LOGIN_ADDRESS_MAX_FAILURES: int = Field(
        default=20,
        ge=1,
        description="failed sign-ins from one address, across accounts, before it waits "
        "LOGIN_LOCKOUT_SECONDS (password spraying)",
    )


class TenantsSettings(EnvSettings):
    """The tenants table."""

    TENANTS_TABLE: str = Field(min_length=3)


class MediaSettings(EnvSettings):
    """The media bucket (every key under ``studios/{studioId}/``): 3-63 characters, lowercase.

    The one definition of ``MEDIA_BUCKET``: groups that need the bucket derive from this class.
    """

    MEDIA_BUCKET: str = Field(min_length=3, max_length=63)

    @field_validator("MEDIA_BUCKET")
    @classmethod
    def _lowercase(cls, value: str) -> str:
        if value != value.lower():
            raise ValueError("bucket names are lowercase")
        return value


@cache
def _load(model: type[EnvSettings]) -> EnvSettings:
    return model.model_validate(dict(os.environ))


def load(model: type[T]) -> T:
    """Validate ``model`` (an :class:`EnvSettings`) from ``os.environ``, once per process until :func:`reset`.

    Raises
    ------
    pydantic.ValidationError
        When a required variable is missing or invalid; the message names it.
    """
    return _load(model)  # type: ignore[return-value]


def reset() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    _load.cache_clear()
