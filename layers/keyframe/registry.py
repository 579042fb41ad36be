"""Every Lambda function of Keyframe, in one list that CDK and the local stack both read.

- ``infra/`` creates one ``aws_lambda.Function`` per :class:`FunctionSpec` (code from
  ``functions/<directory>``, the shared layer) and wires REST routes from :func:`endpoints`.
- ``keyframe.local`` imports the same handler files to answer API Gateway, Lambda Invoke and
  Step Functions tasks in-process.

An API function includes the Powertools routers listed in ``routers``; its routes (method and path)
are read from the generated OpenAPI, so a route added in code is deployed with no second list.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler.api_gateway import Router

from keyframe.http.app import KeyframeResolver, build_resolver
from keyframe.identity.authorizer import authenticate

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root when running from a checkout (``functions/`` lives there)."""


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function.

    Attributes
    ----------
    name:
        Logical name, unique; the local Lambda function name is ``keyframe-{stage}-{name}``.
    directory:
        Folder under ``functions/`` holding ``handler.py``.
    kind:
        ``api`` (REST routes, each authenticating its own requests), ``task`` (Step Functions), or
        ``websocket``.
    routers:
        For ``api`` functions: modules whose ``router`` the resolver includes.
    timeout_seconds / memory_mb / ephemeral_mb:
        Lambda limits (``ephemeral_mb``: the size of ``/tmp``).
    """

    name: str
    directory: str
    kind: str
    routers: tuple[str, ...] = field(default_factory=tuple)
    handler: str = "handler.lambda_handler"
    timeout_seconds: int = 15
    memory_mb: int = 512
    ephemeral_mb: int = 512

    @property
    def handler_path(self) -> Path:
        """Absolute path of the handler file in a checkout."""
        return REPO_ROOT / "functions" / self.directory / (self.handler.split(".")[0] + ".py")


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("meta-api", "meta_api", "api", routers=("keyframe.http.meta",)),
    FunctionSpec(
        "identity-api",
        "identity_api",
        "api",
        routers=("keyframe.identity.routes", "keyframe.identity.jwks_routes", "keyframe.webhooks.routes"),
    ),
    FunctionSpec(
        "catalog-api",
        "catalog_api",
        "api",
        routers=(
            "keyframe.catalog.routes",
            "keyframe.catalog.version_routes",
            "keyframe.catalog.graph_routes",
            "keyframe.catalog.activity_routes",
            # your favorite assets and playback positions: catalog reads, one renders GetItem (no
            # function of their own: the stack stays under CloudFormation's 500 resources)
            "keyframe.favorites.routes",
        ),
    ),
    FunctionSpec(
        "reviews-api",
        "reviews_api",
        "api",
        routers=(
            "keyframe.reviews.routes",
            "keyframe.live.routes",
            "keyframe.notifications.routes",
            # POST /analytics/events: a review UI's telemetry (no function of its own: the stack
            # stays under CloudFormation's 500 resources)
            "keyframe.analytics.routes",
        ),
    ),
    FunctionSpec("live-authorizer", "live_authorizer", "websocket", timeout_seconds=10, memory_mb=256),
    FunctionSpec("live-connect", "live_connect", "websocket", timeout_seconds=10, memory_mb=256),
    FunctionSpec("live-disconnect", "live_disconnect", "websocket", timeout_seconds=29),
    FunctionSpec("live-message", "live_message", "websocket", timeout_seconds=29),
    FunctionSpec(
        "uploads-api", "uploads_api", "api", routers=("keyframe.uploads.routes",), timeout_seconds=29
    ),
    FunctionSpec("pipeline-api", "pipeline_api", "api", routers=("keyframe.pipeline.routes",)),
    FunctionSpec("pipeline-validate", "pipeline_tasks/validate", "task", timeout_seconds=600, memory_mb=1024),
    FunctionSpec("pipeline-publish", "pipeline_tasks/publish", "task", timeout_seconds=60),
    FunctionSpec("pipeline-finalize", "pipeline_tasks/finalize", "task", timeout_seconds=120),
    FunctionSpec("pipeline-mark-failed", "pipeline_tasks/mark_failed", "task", timeout_seconds=60),
    FunctionSpec(
        "renders-api",
        "renders_api",
        "api",
        # GET /studio/quotas (keyframe.usage) reads the counters beside renders, uploads and tenants
        routers=("keyframe.renders.routes", "keyframe.renders.policy_routes", "keyframe.usage.routes"),
    ),
    FunctionSpec("render-finalize", "renders_tasks/finalize", "task", timeout_seconds=60),
    FunctionSpec("render-mark-failed", "renders_tasks/mark_failed", "task", timeout_seconds=60),
)

CONSUMERS: tuple[FunctionSpec, ...] = (
    # the outbox's consumer: DynamoDB Streams of the catalog table (keyframe.outbox.stream)
    FunctionSpec("outbox-stream", "outbox_stream", "task", timeout_seconds=60),
    # webhook deliveries: SQS messages of the delivery queue (keyframe.webhooks.dispatch)
    FunctionSpec("webhooks-deliver", "webhooks_deliver", "task", timeout_seconds=60),
)
"""Event consumers: functions invoked by an event source mapping (a stream, a queue), never by a route
or a state machine. CDK builds them in their own nested stack (``infra/outbox.py``; the main stack is
at CloudFormation's 500-resource limit); the local stack invokes them from its pollers."""

SECRET_ROTATION = FunctionSpec(
    "secret-rotation", "secret_rotation", "rotation", timeout_seconds=60, memory_mb=256
)
"""Rotates the signing secret when Secrets Manager's schedule says (``keyframe.identity.secret_rotation``);
built by ``infra/secret_rotation.py``. Kind ``rotation``: no reserved concurrency (it runs once a month)."""

DIGEST = FunctionSpec("notifications-digest", "notifications_digest", "schedule", timeout_seconds=300)
"""Sends the daily notification digests (``keyframe.notifications.emails.send_digests``) when its
EventBridge rule says; built by ``infra/digest.py`` in a nested stack. Kind ``schedule``: no reserved
concurrency (it runs once a day)."""

MEDIA_DERIVE = FunctionSpec(
    "pipeline-derive",
    "pipeline_tasks/derive",
    "task",
    timeout_seconds=900,
    memory_mb=10240,
    ephemeral_mb=10240,
)
"""The asset pipeline's Derive step in Lambda (sources up to
``keyframe.pipeline.derive_step.LAMBDA_DERIVE_MAX_BYTES``): FFmpeg and PyAV from their wheels in a
layer of their own; Lambda's limits: 15 minutes, 10 GB of memory (6 vCPUs) and 10 GB of ``/tmp``.
Built by ``infra/media_fast_path.py`` in a nested stack; larger sources (and a failed fast path) go to
the Batch media job."""

PUBLIC_PATH_PREFIXES: tuple[str, ...] = ("/auth/",)
PUBLIC_PATHS: frozenset[str] = frozenset(
    {
        "/health",
        "/ready",
        "/openapi.json",
        "/asyncapi.json",
        "/docs",
        "/notifications/unsubscribe",
        "/.well-known/jwks.json",
    }
)


def every_function() -> tuple[FunctionSpec, ...]:
    """Every Lambda function of the app: :data:`FUNCTIONS`, :data:`CONSUMERS` and the single specs."""
    return (*FUNCTIONS, *CONSUMERS, SECRET_ROTATION, DIGEST, MEDIA_DERIVE)


def function(name: str) -> FunctionSpec:
    """The spec named ``name`` (in :data:`FUNCTIONS`, :data:`CONSUMERS`, or one of the single specs).

    Raises
    ------
    KeyError
        Unknown function.
    """
    for spec in every_function():
        if spec.name == name:
            return spec
    raise KeyError(name)


def api_functions() -> tuple[FunctionSpec, ...]:
    """The functions that serve REST routes."""
    return tuple(f for f in FUNCTIONS if f.kind == "api")


def is_public(path: str) -> bool:
    """True for routes that need no token (health, docs, the ``/auth/*`` flows)."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PATH_PREFIXES)


@dataclass(frozen=True)
class Endpoint:
    """A REST route: ``method`` on ``path`` (API Gateway form, ``/assets/{assetId}``) -> ``function``."""

    function: str
    method: str
    path: str

    @property
    def public(self) -> bool:
        """No token needed on this route."""
        return is_public(self.path)


def routers_of(spec: FunctionSpec) -> list[Router]:
    """Import and return the Powertools routers of an API function."""
    return [importlib.import_module(module).router for module in spec.routers]


def build_api(function_name: str) -> KeyframeResolver:
    """Build the resolver of the API function ``function_name`` (its routers from :data:`FUNCTIONS`).

    The function's core settings (:class:`keyframe.settings.CoreSettings`) are validated here, at
    cold start: a missing ``STAGE`` or a wildcard CORS origin stops the function before it serves.
    Every route that :func:`is_public` does not name is authenticated in the function itself
    (:func:`keyframe.identity.authorizer.authenticate`: token, membership, session), so a request
    is one Lambda invocation; no REST authorizer runs in front.

    Raises
    ------
    KeyError
        Unknown function name.
    pydantic.ValidationError
        Invalid core settings (the message names the variable).
    """
    routers = routers_of(function(function_name))
    return build_resolver(routers, authenticator=authenticate, is_public=is_public)


@cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every REST route of every API function, from the generated OpenAPI (sorted by path)."""
    found: list[Endpoint] = []
    for spec in api_functions():
        app = KeyframeResolver(enable_validation=True)
        for router in routers_of(spec):
            app.include_router(router)
        schema = app.get_openapi_schema()
        for path, item in (schema.paths or {}).items():
            for method in ("get", "put", "post", "delete", "patch"):
                if getattr(item, method, None) is not None:
                    found.append(Endpoint(spec.name, method.upper(), path))
    return tuple(sorted(found, key=lambda e: (e.path, e.method)))


WEBSOCKET_ROUTES: dict[str, str] = {
    "$connect": "live-connect",
    "$disconnect": "live-disconnect",
    "$default": "live-message",
}
"""WebSocket route key (``$connect``, ``$disconnect``, ``$default`` or an action) -> function name.
Route selection is ``$request.body.action``. Filled by the live review domain."""

WEBSOCKET_AUTHORIZER: str | None = "live-authorizer"
"""The REQUEST authorizer function run on ``$connect`` (checks and consumes the ticket), if any."""
