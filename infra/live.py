"""The WebSocket API of live review (rooms, presence, comments in real time).

This construct creates the API and its throttled, access-logged stage; the stack routes
``keyframe.registry.WEBSOCKET_ROUTES`` to their functions with :meth:`LiveApi.add_routes`, behind the
ticket authorizer on ``$connect`` (the browser connects with ``?ticket=…``, see
``keyframe.live.tickets``). Functions that push events to sockets get
:meth:`LiveApi.grant_manage_connections` (``infra.grants.ManageLiveConnections``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import ArnFormat, CfnOutput, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig

ROUTE_SELECTION_EXPRESSION = "$request.body.action"
"""A client message ``{"action": "subscribe", ...}`` is routed by its ``action``."""

TICKET_SOURCE = "route.request.querystring.ticket"
"""Where the ``$connect`` authorizer finds the single-use ticket; API Gateway refuses a connect
without one before invoking the authorizer."""

CONNECTION_METHODS: tuple[str, ...] = ("POST", "GET", "DELETE")
"""Methods of the ``@connections`` management API: PostToConnection, GetConnection, DeleteConnection."""

ACCESS_LOG_FIELDS: dict[str, str] = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId",
    "ip": "$context.identity.sourceIp",
    "status": "$context.status",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatencyMs": "$context.integrationLatency",
    "errorMessage": "$context.error.message",
}


@jsii.implements(apigatewayv2.IAccessLogSettings)
class _AccessLogSettings:
    """JSON access logs of the WebSocket stage into ``log_group``."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigatewayv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigatewayv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS))


class LiveApi(Construct):
    """The WebSocket API and its stage.

    Attributes
    ----------
    api:
        The ``WebSocketApi``.
    stage:
        Its auto-deployed stage named after the Keyframe stage.
    access_logs:
        The stage's access log group.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        self.api = apigatewayv2.WebSocketApi(
            self,
            "Api",
            api_name=f"{config.name}-live",
            description=f"Keyframe live review WebSocket API ({config.name})",
            route_selection_expression=ROUTE_SELECTION_EXPRESSION,
        )
        self.stage = apigatewayv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=config.stage,
            auto_deploy=True,
            throttle=apigatewayv2.ThrottleSettings(
                rate_limit=config.defaults.live_throttle_rate,
                burst_limit=config.defaults.live_throttle_burst,
            ),
            access_log_settings=_AccessLogSettings(self.access_logs),
        )
        CfnOutput(self, "Url", value=self.stage.url, description="WebSocket URL of live review")

    def add_routes(
        self,
        handlers: Mapping[str, lambda_.IFunction],
        *,
        connect_authorizer: apigatewayv2.IWebSocketRouteAuthorizer | None = None,
    ) -> None:
        """Route ``$connect``, ``$disconnect``, ``$default`` or custom actions to Lambda functions.

        Parameters
        ----------
        handlers:
            Route key -> function, e.g. ``{"$connect": connect, "$default": messages}``. Every
            route except ``$connect``/``$disconnect`` returns the handler's ``body`` to the sender.
        connect_authorizer:
            Authorizer of the ``$connect`` route (the only route API Gateway authorizes).
        """
        for route_key, handler in handlers.items():
            route = self.api.add_route(
                route_key,
                integration=integrations.WebSocketLambdaIntegration(
                    f"{_route_id(route_key)}Integration", handler
                ),
                authorizer=connect_authorizer if route_key == "$connect" else None,
                # Message routes answer the sender with the handler's body (two-way routes).
                return_response=route_key not in ("$connect", "$disconnect"),
            )
            if route_key != "$connect" or connect_authorizer is None:
                NagSuppressions.add_resource_suppressions(
                    route,
                    [
                        NagPackSuppression(
                            id="AwsSolutions-APIG4",
                            reason="API Gateway authorizes a WebSocket once, on $connect (ticket "
                            "authorizer); later frames of that connection carry its verified context.",
                        )
                    ],
                    apply_to_children=True,
                )

    def ticket_authorizer(self, handler: lambda_.IFunction) -> apigatewayv2.IWebSocketRouteAuthorizer:
        """The REQUEST authorizer of ``$connect`` reading the ``ticket`` query parameter."""
        return authorizers.WebSocketLambdaAuthorizer(
            "TicketAuthorizer", handler, identity_source=[TICKET_SOURCE]
        )

    def grant_manage_connections(
        self, grantee: iam.IGrantable, *, methods: Sequence[str] = ("POST",)
    ) -> None:
        """Let ``grantee`` use this stage's ``@connections`` API with ``methods`` only.

        ``POST`` posts to a connection, ``DELETE`` closes one, ``GET`` reads one. The resource is
        ``{api}/{stage}/{method}/@connections/*`` for each method (CDK's own
        ``grant_management_api_access`` grants every method).

        Raises
        ------
        ValueError
            A method other than those three.
        """
        unknown = set(methods) - set(CONNECTION_METHODS)
        if unknown or not methods:
            raise ValueError(
                f"@connections methods are {CONNECTION_METHODS}, not {sorted(unknown) or methods}"
            )
        stack = Stack.of(self)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["execute-api:ManageConnections"],
                resources=[
                    stack.format_arn(
                        service="execute-api",
                        resource=self.api.api_id,
                        resource_name=f"{self.stage.stage_name}/{method}/@connections/*",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                    for method in dict.fromkeys(methods)
                ],
            )
        )


def _route_id(route_key: str) -> str:
    return "".join(part.capitalize() for part in route_key.strip("$").replace("-", " ").split()) or "Route"
