"""The REST API: one resource tree built from ``keyframe.registry.endpoints()``.

Every route is a Lambda proxy integration to the function that serves it, and one request is one
invocation: no authorizer runs in front. The function authenticates every route that is not public
(``Endpoint.public``: health, readiness, docs, JWKS, ``/auth/*``) itself before anything else
(``keyframe.identity.authorizer.authenticate``: the JWT, the membership and the session, no cache),
so a removal, a role change or a sign-out applies to the next request (issue 15.2; the README's
Architecture section has the measured figures). Request validation is done by the handlers
(pydantic). Errors raised by API Gateway itself (throttled, unknown route, integration failure)
answer with the same body as the handlers' ``{"error": {"code", "message", "correlationId"}}``.

CORS on every answer (:mod:`keyframe.http.cors`): the handlers add their own headers; preflight is
API Gateway's mock ``OPTIONS`` method on every resource (CDK reflects an allowed ``Origin`` and sends
``Vary: Origin``); the gateway's own answers carry ``Access-Control-Allow-Origin`` too. A gateway
response can only hold a static header or a copy of a request header, so with one allowed origin it
is that origin, and with several it copies ``method.request.header.Origin``: that is safe because
the web ACL's origin gate (``infra/waf.py``) blocks, before API Gateway, any request whose ``Origin``
is present and not allowed; a request without ``Origin`` gets an empty (absent) header.

Route stacks (CloudFormation allows 500 resources per template; a route costs a method, each new path
part a resource and, with CORS, an ``OPTIONS`` method). The rule:

- A route's template is chosen by the first segment of its path: :data:`ROUTE_GROUPS` names the
  nested stack of each domain's segments (``/assets/...`` -> ``AssetsRoutes``); a segment it does not
  name goes to :data:`DEFAULT_GROUP`. A segment's whole resource tree is in one template (API Gateway
  allows one resource per path, so a subtree is never split). Once deployed, a segment stays in its
  group: moved to another, the new stack would create its path while the old stack still holds it
  (CloudFormation deletes last), and API Gateway refuses that. A new segment may get its own group
  before its first deploy; a crowded group is relieved by giving a new segment a new group. Only the
  meta function's fixed documents and probes (:data:`PARENT_SEGMENTS`) stay in the main stack beside
  the API, its stage, deployment, gateway responses and outputs: CDK requires the API to own a method.
- Each route stack imports the API (``RestApi.fromRestApiAttributes``), builds its resources and
  methods, and holds the invoke permission of each function it integrates (one per function and
  stack, scoped to this API). Adding a route therefore never adds a resource to the main stack, and a
  route stack that would pass :data:`ROUTE_STACK_LIMIT` resources stops the synth with the segment to
  move to a new group (tests/infrastructure holds every template under 500).
- The stage's deployment depends on every route stack, and its logical id hashes each route stack's
  template (the nested template's asset hash in its URL): any change of a method in a route stack
  (route, integration, CORS) makes a new deployment, so a deploy always serves every method.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from aws_cdk import CfnOutput, CfnResource, CfnStack, Duration, NestedStack, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from keyframe.http import cors
from keyframe.registry import Endpoint

ACCESS_LOG_FIELDS: dict[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatencyMs": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatencyMs": "$context.integration.latency",
    "errorType": "$context.error.responseType",
    "errorMessage": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}
"""One JSON object per request in the access log group (CloudWatch Logs Insights reads it as is)."""


@dataclass(frozen=True)
class GatewayError:
    """How API Gateway answers one of its own errors.

    ``code`` and ``message`` are VTL: ``$context.error.messageString`` is already a quoted JSON string.
    """

    response_type: apigateway.ResponseType
    code: str
    message: str = "$context.error.messageString"
    status: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def template(self) -> str:
        """The ``application/json`` response template (the unified error body)."""
        return (
            '{"error": {"code": "'
            + self.code
            + '", "message": '
            + self.message
            + ', "correlationId": "$context.requestId"}}'
        )


GATEWAY_ERRORS: tuple[GatewayError, ...] = (
    GatewayError(
        apigateway.ResponseType.UNAUTHORIZED,
        "UNAUTHENTICATED",
        status="401",
        headers=(("WWW-Authenticate", "'Bearer'"),),
    ),
    GatewayError(apigateway.ResponseType.ACCESS_DENIED, "FORBIDDEN", status="403"),
    GatewayError(
        apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, "ROUTE_NOT_FOUND", '"No such endpoint"', "404"
    ),
    GatewayError(apigateway.ResponseType.THROTTLED, "TOO_MANY_REQUESTS", status="429"),
    GatewayError(apigateway.ResponseType.REQUEST_TOO_LARGE, "PAYLOAD_TOO_LARGE", status="413"),
    GatewayError(apigateway.ResponseType.DEFAULT_4_XX, "$context.error.responseType"),
    GatewayError(apigateway.ResponseType.DEFAULT_5_XX, "$context.error.responseType"),
)
"""API Gateway's own errors. An unknown route is ``MISSING_AUTHENTICATION_TOKEN`` on REST APIs: 404."""

PARENT_SEGMENTS: frozenset[str] = frozenset({"health", "ready", "docs", "openapi.json", "asyncapi.json"})
"""First path segments whose routes stay in the main stack (the meta function's fixed documents)."""

ROUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "Assets": ("assets",),
    "Studio": ("studio", "studios"),
    "Me": ("me",),
    "Identity": ("auth", ".well-known"),
    "Renders": ("renders",),
    "Catalog": ("projects", "activity"),
    "Reviews": ("comments", "live", "rooms", "notifications"),
}
"""Nested route stack (``<name>Routes``) -> the first path segments whose routes it holds."""

DEFAULT_GROUP = "Other"
"""The route stack of a first segment that neither :data:`ROUTE_GROUPS` nor :data:`PARENT_SEGMENTS` names."""

API_LOGICAL_ID = "RestApiRouteStacks"
"""Logical id of the ``AWS::ApiGateway::RestApi`` (changed when the routes moved into route stacks)."""

ROUTE_STACK_LIMIT = 450
"""Resources a route stack may hold (CloudFormation's limit is 500): past it the synth stops."""


def route_group(path: str) -> str | None:
    """The route stack of ``path``: a :data:`ROUTE_GROUPS` name or :data:`DEFAULT_GROUP`; None: main stack."""
    segment = path.strip("/").split("/", 1)[0]
    if segment in PARENT_SEGMENTS:
        return None
    for group, segments in ROUTE_GROUPS.items():
        if segment in segments:
            return group
    return DEFAULT_GROUP


class RestApi(Construct):
    """The REST API, its routes and its stage.

    Parameters
    ----------
    config:
        The stage (throttling, CORS, log retention).
    functions:
        Function name -> function, for every name an endpoint refers to.
    endpoints:
        Every route (``keyframe.registry.endpoints()``).

    Attributes
    ----------
    api:
        The ``apigateway.RestApi``.
    access_logs:
        The access log group of the stage.
    route_stacks:
        Group name -> the nested stack holding that group's routes (:func:`route_group`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, lambda_.IFunction],
        endpoints: Sequence[Endpoint],
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=config.name,
            description=f"Keyframe REST API ({config.name})",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # API Gateway writes access and execution logs through the account's CloudWatch role (one
            # per region). Only the stack deployed with -c apiGatewayAccountRole=true creates it, so
            # developer stacks never overwrite it; retained, so deleting that stack never leaves the
            # account pointing at a deleted role.
            cloud_watch_role=config.api_gateway_account_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if config.api_gateway_account_role else None,
            fail_on_warnings=True,
            default_cors_preflight_options=_preflight(config),
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                throttling_rate_limit=config.defaults.api_throttle_rate,
                throttling_burst_limit=config.defaults.api_throttle_burst,
                tracing_enabled=True,
            ),
        )
        # A new API (new id, new base URL) since the routes moved into route stacks: CloudFormation
        # creates a route stack's resources before it deletes the main stack's old ones, and API
        # Gateway refuses a second resource on one path of one API (README "Upgrading a deployed stack").
        self.api.node.default_child.override_logical_id(API_LOGICAL_ID)  # type: ignore[union-attr]
        self._name = config.name
        self._preflight = _preflight(config)
        self.route_stacks: dict[str, NestedStack] = {}
        self._add_routes(functions, endpoints)
        self._add_gateway_responses(config)
        self._suppress_findings()
        CfnOutput(self, "Url", value=self.api.url, description="Base URL of the REST API")

    def _add_routes(self, functions: Mapping[str, lambda_.IFunction], endpoints: Sequence[Endpoint]) -> None:
        groups: dict[str | None, list[Endpoint]] = {}
        for endpoint in endpoints:
            if endpoint.function not in functions:
                raise LookupError(
                    f"{endpoint.method} {endpoint.path}: no function named {endpoint.function!r}"
                )
            groups.setdefault(route_group(endpoint.path), []).append(endpoint)
        _add_methods(self.api.root, functions, groups.pop(None, []), preflight=None)
        deployment = self.api.latest_deployment
        if deployment is None:
            raise ValueError("the REST API deploys its stage itself (deploy=True)")
        for group, routes in sorted((g, r) for g, r in groups.items() if g is not None):
            stack = NestedStack(
                self, f"{group}Routes", description=f"Keyframe REST routes: {group} ({self._name})"
            )
            api = apigateway.RestApi.from_rest_api_attributes(
                stack,
                "Api",
                rest_api_id=self.api.rest_api_id,
                root_resource_id=self.api.rest_api_root_resource_id,
            )
            _add_methods(api.root, functions, routes, preflight=self._preflight)
            count = sum(1 for c in stack.node.find_all() if CfnResource.is_cfn_resource(c))
            if count > ROUTE_STACK_LIMIT:
                raise ValueError(
                    f"route stack {group} holds {count} resources (limit {ROUTE_STACK_LIMIT}): move one of "
                    f"its segments {sorted({route_group_segment(e.path) for e in routes})} to a new "
                    "group in infra.api.ROUTE_GROUPS"
                )
            self.route_stacks[group] = stack
            # The stage serves the latest deployment: it is created after every route stack, and is a
            # new one whenever a route stack's template changes (its URL holds the template's hash).
            resource = cast(CfnStack, stack.nested_stack_resource)
            deployment.node.add_dependency(resource)
            deployment.add_to_logical_id({"routes": group, "template": resource.template_url})

    def _add_gateway_responses(self, config: StageConfig) -> None:
        headers = {
            "X-Content-Type-Options": "'nosniff'",
            "Cache-Control": "'no-store'",
            **gateway_cors_headers(config.cors_origins),
        }
        for error in GATEWAY_ERRORS:
            self.api.add_gateway_response(
                error.response_type.response_type,
                type=error.response_type,
                status_code=error.status,
                response_headers={**headers, **dict(error.headers)},
                templates={"application/json": error.template()},
            )

    def _suppress_findings(self) -> None:
        NagSuppressions.add_resource_suppressions(
            self.api,
            [
                NagPackSuppression(
                    id="AwsSolutions-APIG2",
                    reason="Requests are validated by the handlers (Powertools + pydantic models), which "
                    "return field-level errors; a gateway validator would duplicate the schema.",
                ),
            ],
        )
        role = self.api.node.try_find_child("CloudWatchRole")
        if role is None:
            return
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="AmazonAPIGatewayPushToCloudWatchLogs is AWS's policy for exactly this role (the "
                    "account-level API Gateway logging role); it grants log writes only.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                )
            ],
        )

    @property
    def account(self) -> Construct | None:
        """The account-level API Gateway settings (logging role) when this stack sets them, else None."""
        return self.api.node.try_find_child("Account")


REFLECTED_ORIGIN = "method.request.header.Origin"
"""The gateway-response mapping that copies the request's ``Origin`` (used with several origins)."""


def gateway_cors_headers(origins: Sequence[str]) -> dict[str, str]:
    """The CORS headers of every gateway response (values in API Gateway's mapping syntax).

    Parameters
    ----------
    origins:
        The stage's allowed browser origins.

    Returns
    -------
    dict
        ``{}`` with no origin; else ``Access-Control-Allow-Origin`` (the one origin, quoted as a
        static value, or :data:`REFLECTED_ORIGIN` with several: the web ACL's origin gate lets only
        allowed origins through), ``Vary: Origin`` and ``Access-Control-Expose-Headers``.
    """
    if not origins:
        return {}
    allow = f"'{origins[0]}'" if len(origins) == 1 else REFLECTED_ORIGIN
    return {
        "Access-Control-Allow-Origin": allow,
        "Access-Control-Expose-Headers": f"'{','.join(cors.EXPOSE_HEADERS)}'",
        "Vary": "'Origin'",
    }


def route_group_segment(path: str) -> str:
    """The first segment of ``path`` (``/assets/{assetId}`` -> ``assets``)."""
    return path.strip("/").split("/", 1)[0]


def _add_methods(
    root: apigateway.IResource,
    functions: Mapping[str, lambda_.IFunction],
    endpoints: Sequence[Endpoint],
    *,
    preflight: apigateway.CorsOptions | None,
) -> None:
    """Add ``endpoints`` under ``root`` (the API's or an imported one), each a Lambda proxy method.

    ``preflight``: the CORS preflight of the first-level resources made here (an imported root has
    none to inherit); None under the API's own root, which has it already.
    """
    integrations: dict[str, apigateway.LambdaIntegration] = {}
    for endpoint in endpoints:
        integration = integrations.setdefault(
            endpoint.function,
            apigateway.LambdaIntegration(
                functions[endpoint.function],
                proxy=True,
                scope_permission_to_method=False,
            ),
        )
        segment, _, rest = endpoint.path.strip("/").partition("/")
        top = root.get_resource(segment) or root.add_resource(
            segment, default_cors_preflight_options=preflight
        )
        resource = top.resource_for_path(rest) if rest else top
        method = resource.add_method(
            endpoint.method, integration, authorization_type=apigateway.AuthorizationType.NONE
        )
        if endpoint.public:
            _suppress_public(
                method,
                f"{endpoint.method} {endpoint.path} is public by design "
                "(keyframe.registry.is_public): health, docs, the JWKS or a sign-in flow",
            )
        else:
            _suppress_public(
                method,
                "Authorization in one invocation (issue 15.2): the function verifies Keyframe's "
                "studio-scoped JWT (RS256, KMS key), the membership and the session before any "
                "work and answers 401 itself (keyframe.identity.authorizer). An API Gateway "
                "authorizer would double the invocations, or, cached, miss revocations. Cognito "
                "is not used.",
            )
    for construct in root.node.find_all():
        if isinstance(construct, apigateway.Method) and construct.http_method == "OPTIONS":
            _suppress_public(construct, "CORS preflight: browsers send OPTIONS without credentials")


def _preflight(config: StageConfig) -> apigateway.CorsOptions | None:
    if not config.cors_origins:
        return None
    return apigateway.CorsOptions(
        allow_origins=list(config.cors_origins),
        allow_methods=list(cors.ALLOW_METHODS),
        allow_headers=list(cors.ALLOW_HEADERS),
        expose_headers=list(cors.EXPOSE_HEADERS),
        max_age=Duration.seconds(cors.MAX_AGE_SECONDS),
    )


def _suppress_public(method: apigateway.Method, reason: str) -> None:
    NagSuppressions.add_resource_suppressions(
        method,
        [
            NagPackSuppression(id="AwsSolutions-APIG4", reason=reason),
            NagPackSuppression(id="AwsSolutions-COG4", reason=reason),
        ],
    )
