"""Stage configuration: what differs between ``dev`` and ``prod``, read from CDK context.

Context keys (``cdk deploy -c key=value`` or ``python app.py -c key=value``):

==============  ==============================================================================
``stage``       ``dev`` (default) or ``prod``
``suffix``      optional developer suffix: ``-c suffix=alice`` deploys ``Keyframe-dev-alice`` so
                every developer can own a stack in the same account
``corsOrigins`` comma-separated browser origins allowed by the API and the media bucket
                (default: ``http://localhost:5173`` in dev, none in prod)
``alarmEmail``  e-mail address subscribed to the alarm topic (default: no subscription)
``jwtIssuer``   the ``iss`` claim the identity API writes and the authorizer requires
``mailDomain``  the domain e-mails are sent from (``no-reply@<domain>``; an SES domain identity is
                created for it: publish its DKIM records), default ``<stage name>.keyframe.example``
``frontendUrl`` the web front end e-mail links point to (default: the first CORS origin, else
                ``https://<mailDomain>``)
``apiGatewayAccountRole``  ``true`` on the one stack that creates the account's (per region) API
                Gateway CloudWatch logging role; every other stack uses the role already set
==============  ==============================================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

SUFFIX_PATTERN = re.compile(r"^[a-z0-9]{1,12}$")
"""A developer suffix: lowercase letters and digits, short enough for every resource name limit."""


@dataclass(frozen=True)
class StageDefaults:
    """The per-stage values a developer does not choose."""

    removal_policy: RemovalPolicy
    deletion_protection: bool
    log_retention: logs.RetentionDays
    access_log_retention_days: int
    api_throttle_rate: float
    api_throttle_burst: int
    live_throttle_rate: float
    live_throttle_burst: int
    cors_origins: tuple[str, ...]
    waf_auth_requests_per_ip: int = 300
    """Requests to ``/auth/*`` one IP may send in 5 minutes before WAF answers 429 (a whole studio
    behind one NAT signs in and refreshes through the same address)."""
    waf_requests_per_ip: int = 20_000
    """Requests to any route one IP may send in 5 minutes (about 66 per second) before WAF answers 429."""
    backup: bool = False
    """Whether an AWS Backup plan copies the tables and the media bucket daily (kept 35 days)."""
    deployment_config: str = "ALL_AT_ONCE"
    """How CodeDeploy moves an API function's ``live`` alias to a new version: a
    ``aws_codedeploy.LambdaDeploymentConfig`` name. Every stage rolls back on the function's alarms."""
    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)
    """Reserved concurrency of each function of a class (``FunctionSpec.kind``: ``authorizer``,
    ``api``, ``task``, ``websocket``). A class not listed is not reserved (it shares the account's
    unreserved pool). The reservation is both a guarantee and a ceiling: a runaway class cannot starve
    the others, and AWS keeps at least 100 of the account's concurrency unreserved."""


STAGES: dict[str, StageDefaults] = {
    "dev": StageDefaults(
        removal_policy=RemovalPolicy.DESTROY,
        deletion_protection=False,
        log_retention=logs.RetentionDays.TWO_WEEKS,
        access_log_retention_days=30,
        api_throttle_rate=50,
        api_throttle_burst=100,
        live_throttle_rate=20,
        live_throttle_burst=50,
        cors_origins=("http://localhost:5173",),
        waf_auth_requests_per_ip=100,
        waf_requests_per_ip=5_000,
        # Nothing reserved: a fresh account's concurrency quota can be as low as 10, and a reservation
        # that leaves fewer than 100 unreserved fails the deploy. Developer stacks share the pool.
        reserved_concurrency={},
        # A developer's deploy should not wait 5 minutes per function; the alarms still roll back.
        deployment_config="ALL_AT_ONCE",
    ),
    "prod": StageDefaults(
        removal_policy=RemovalPolicy.RETAIN,
        deletion_protection=True,
        log_retention=logs.RetentionDays.ONE_YEAR,
        access_log_retention_days=365,
        api_throttle_rate=500,
        api_throttle_burst=1000,
        live_throttle_rate=200,
        live_throttle_burst=400,
        cors_origins=(),
        waf_auth_requests_per_ip=300,
        waf_requests_per_ip=20_000,
        # Per function: 8 API, 6 task and 4 socket functions reserve 400 + 60 + 100 = 560 of the
        # default 1000, leaving 440 unreserved (no REST authorizer: API functions authenticate).
        reserved_concurrency={"api": 50, "task": 10, "websocket": 25},
        backup=True,
        # A new version takes 10 % of requests for 5 minutes, then all (or rolls back on an alarm).
        deployment_config="CANARY_10_PERCENT_5_MINUTES",
    ),
}
"""Every deployable stage. ``local`` and ``test`` are not here: they never go through CDK."""


@dataclass(frozen=True)
class StageConfig:
    """The configuration of one deployed stage.

    Attributes
    ----------
    stage:
        ``dev`` or ``prod``; becomes the functions' ``STAGE`` and the REST stage name.
    suffix:
        Developer suffix ("" for the shared stage).
    defaults:
        The stage's :class:`StageDefaults`.
    cors_origins:
        Browser origins allowed by the REST API (preflight) and the media bucket (PUT uploads).
    alarm_email:
        Address subscribed to the alarm topic, or None.
    api_gateway_account_role:
        Create (and retain) the account-level API Gateway CloudWatch logging role and set it in the
        account's API Gateway settings. One stack per account and region does this, once; the others
        rely on it (their stages' logging needs it).
    jwt_issuer / jwt_audience:
        The ``iss`` / ``aud`` claims of Keyframe's access tokens.
    mail_domain / frontend_url:
        The domain e-mails come from and the front end their links open (module docstring).
    """

    stage: str
    suffix: str = ""
    cors_origins: tuple[str, ...] = ()
    alarm_email: str | None = None
    api_gateway_account_role: bool = False
    jwt_issuer: str = ""
    jwt_audience: str = "keyframe-api"
    mail_domain: str = ""
    frontend_url: str = ""

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(
                f"Unknown stage {self.stage!r}: use one of {', '.join(sorted(STAGES))} (-c stage=...)"
            )
        if self.suffix and not SUFFIX_PATTERN.match(self.suffix):
            raise ValueError(
                f"Invalid suffix {self.suffix!r}: 1-12 lowercase letters or digits (-c suffix=alice)"
            )
        for origin in self.cors_origins:
            if origin == "*" or not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"Invalid CORS origin {origin!r}: give scheme://host[:port], never '*'")
        if not self.jwt_issuer:
            object.__setattr__(self, "jwt_issuer", f"urn:keyframe:{self.name}")
        if not self.mail_domain:
            object.__setattr__(self, "mail_domain", f"{self.name}.keyframe.example")
        if not re.match(r"^[a-z0-9.-]+\.[a-z]{2,}$", self.mail_domain):
            raise ValueError(f"Invalid mailDomain {self.mail_domain!r}: a domain such as mail.studio.com")
        if not self.frontend_url:
            default = self.cors_origins[0] if self.cors_origins else f"https://{self.mail_domain}"
            object.__setattr__(self, "frontend_url", default)
        if not re.match(r"^https?://[^\s]+$", self.frontend_url):
            raise ValueError(f"Invalid frontendUrl {self.frontend_url!r}: an http(s) URL")

    @classmethod
    def for_stage(cls, stage: str, **overrides: Any) -> StageConfig:
        """The configuration of ``stage`` with its default CORS origins, unless overridden."""
        if stage not in STAGES:
            return cls(stage=stage)  # __post_init__ raises the readable error
        overrides.setdefault("cors_origins", STAGES[stage].cors_origins)
        return cls(stage=stage, **overrides)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> StageConfig:
        """Read the configuration from CDK context values (``node.try_get_context`` results).

        Raises
        ------
        ValueError
            Unknown stage, malformed suffix or CORS origin.
        """
        overrides: dict[str, Any] = {"suffix": str(context.get("suffix") or "")}
        origins = context.get("corsOrigins")
        if origins is not None:
            overrides["cors_origins"] = tuple(o.strip() for o in str(origins).split(",") if o.strip())
        if context.get("alarmEmail"):
            overrides["alarm_email"] = str(context["alarmEmail"])
        flag = str(context.get("apiGatewayAccountRole") or "").strip().lower()
        if flag not in ("", "true", "false"):
            raise ValueError(f"Invalid apiGatewayAccountRole {flag!r}: true or false")
        overrides["api_gateway_account_role"] = flag == "true"
        if context.get("jwtIssuer"):
            overrides["jwt_issuer"] = str(context["jwtIssuer"])
        if context.get("mailDomain"):
            overrides["mail_domain"] = str(context["mailDomain"]).strip().lower()
        if context.get("frontendUrl"):
            overrides["frontend_url"] = str(context["frontendUrl"]).strip().rstrip("/")
        return cls.for_stage(str(context.get("stage") or "dev"), **overrides)

    @property
    def mail_from(self) -> str:
        """The From of every e-mail: ``Keyframe <no-reply@{mail_domain}>``."""
        return f"Keyframe <no-reply@{self.mail_domain}>"

    @property
    def defaults(self) -> StageDefaults:
        """The stage's fixed values (removal policy, retention, throttling)."""
        return STAGES[self.stage]

    @property
    def name(self) -> str:
        """Lowercase prefix of resource names: ``keyframe-dev`` or ``keyframe-dev-alice``."""
        return "-".join(part for part in ("keyframe", self.stage, self.suffix) if part)

    @property
    def stack_name(self) -> str:
        """CloudFormation stack name: ``Keyframe-dev`` or ``Keyframe-dev-alice``."""
        return "-".join(part for part in ("Keyframe", self.stage, self.suffix) if part)

    @property
    def removal_policy(self) -> RemovalPolicy:
        """RETAIN in prod (data outlives the stack), DESTROY in dev."""
        return self.defaults.removal_policy

    @property
    def deletion_protection(self) -> bool:
        """Table deletion protection (prod only)."""
        return self.defaults.deletion_protection

    @property
    def log_retention(self) -> logs.RetentionDays:
        """Retention of every Lambda and API log group."""
        return self.defaults.log_retention

    @property
    def is_disposable(self) -> bool:
        """True when deleting the stack may delete its data (dev): buckets are emptied on delete."""
        return self.removal_policy == RemovalPolicy.DESTROY
