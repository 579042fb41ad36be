"""The REST and WebSocket APIs: every route wired from the registry, auth where it must be, errors shaped."""

from __future__ import annotations

import json

import pytest

from infra.api import ACCESS_LOG_FIELDS, GATEWAY_ERRORS
from infra.grants import AUTHENTICATES, GRANTS
from keyframe import registry
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def test_every_registry_route_is_a_method_and_nothing_else_is(dev):
    # Given the routes the registry discovers from the routers' OpenAPI
    expected = {(e.method, e.path) for e in registry.endpoints()}
    # When the API's methods are read back from the template
    found = {key for key in t.methods(dev.resources) if key[0] != "OPTIONS"}
    # Then they are exactly the registry's routes
    assert found == expected


def test_no_rest_authorizer_runs_and_every_function_with_private_routes_can_authenticate(dev):
    # Given the API's methods: one invocation per request, no authorizer in front (issue 15.2)
    methods = t.methods(dev.resources)
    assert not t.of_type(dev.resources, "AWS::ApiGateway::Authorizer")
    private_functions = set()
    for endpoint in registry.endpoints():
        method = methods[(endpoint.method, endpoint.path)]
        assert method["AuthorizationType"] == "NONE", endpoint
        assert "AuthorizerId" not in method, endpoint
        if not endpoint.public:
            private_functions.add(endpoint.function)
    # Then every function serving a private route holds what authentication needs (keyring, public
    # keys, the membership and session read), or, for identity, more than that
    for name in private_functions:
        accesses = GRANTS[name]
        assert name == "identity-api" or set(AUTHENTICATES) <= set(accesses), name


def test_known_public_and_private_routes_are_classified_as_the_issue_says(dev):
    # Given the methods of the template
    methods = t.methods(dev.resources)
    # Then health, readiness, docs and the sign-in flows are open and /me is not
    for key in [("GET", "/health"), ("GET", "/ready"), ("GET", "/openapi.json"), ("GET", "/docs")]:
        assert methods[key]["AuthorizationType"] == "NONE"
    auth_routes = [key for key in methods if key[1].startswith("/auth/") and key[0] != "OPTIONS"]
    assert auth_routes, "the identity routers expose /auth/* routes"
    assert all(methods[key]["AuthorizationType"] == "NONE" for key in auth_routes)
    assert registry.is_public("/.well-known/jwks.json") and not registry.is_public("/me")


def test_each_route_is_a_lambda_proxy_to_the_function_that_serves_it(dev):
    # Given the methods and the functions of the template
    methods = t.methods(dev.resources)
    # Then each integration is AWS_PROXY and names the live alias of the function the registry assigns
    for endpoint in registry.endpoints():
        integration = methods[(endpoint.method, endpoint.path)]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["IntegrationHttpMethod"] == "POST"
        assert t.alias_id(dev.resources, endpoint.function) in t.references(integration["Uri"])


def _preflight_origin(method: dict, origin: str) -> str | None:
    """The ``Access-Control-Allow-Origin`` API Gateway's mock OPTIONS answers to ``origin``."""
    response = method["Integration"]["IntegrationResponses"][0]
    static = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"]
    template = response.get("ResponseTemplates", {}).get("application/json", "")
    # CDK's VTL overrides the static value for each further allowed origin it names
    overrides = "responseOverride.header.Access-Control-Allow-Origin" in template
    if overrides and f'$origin == "{origin}"' in template:
        return origin
    return static.strip("'")


def test_preflight_is_open_and_allows_every_configured_origin(dev, prod):
    for synth in (dev, prod):  # dev allows two origins, prod one
        # Given the OPTIONS methods of each stage
        options = [v for k, v in t.methods(synth.resources).items() if k[0] == "OPTIONS"]
        assert options, "CORS preflight is configured"
        for method in options:
            # Then preflight needs no token and answers each allowed origin with that origin
            assert method["AuthorizationType"] == "NONE"
            for origin in synth.config.cors_origins:
                assert _preflight_origin(method, origin) == origin
            # And never names another origin, and says that the answer varies by Origin
            assert _preflight_origin(method, "https://evil.example") in synth.config.cors_origins
            params = method["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
            assert params["method.response.header.Vary"] == "'Origin'"
            assert "If-Match" in params["method.response.header.Access-Control-Allow-Headers"]


@pytest.mark.parametrize("response_type", [e.response_type.response_type for e in GATEWAY_ERRORS])
def test_every_gateway_answer_carries_cors_for_the_requesting_origin(dev, prod, response_type):
    # Given a gateway response (401 from the authorizer, 403, 404, 413, 429, other 4xx and 5xx)
    for synth in (dev, prod):
        responses = {
            res["Properties"]["ResponseType"]: res["Properties"]
            for res in t.of_type(synth.resources, "AWS::ApiGateway::GatewayResponse").values()
        }
        params = responses[response_type]["ResponseParameters"]
        allow = params["gatewayresponse.header.Access-Control-Allow-Origin"]
        # Then with one origin it names that origin; with several it reflects the request's Origin
        # (the web ACL's origin gate lets no other Origin reach the gateway: see test_waf.py)
        if len(synth.config.cors_origins) == 1:
            assert allow == f"'{synth.config.cors_origins[0]}'"
        else:
            assert allow == "method.request.header.Origin"
        # And caches keep answers per origin, and a script may read the correlation id and Retry-After
        assert params["gatewayresponse.header.Vary"] == "'Origin'"
        exposed = params["gatewayresponse.header.Access-Control-Expose-Headers"].strip("'").split(",")
        assert {"X-Correlation-Id", "Retry-After"} <= set(exposed)


def test_gateway_answers_name_no_origin_when_none_is_allowed():
    # Given a stage that allows no browser origin
    from infra.api import gateway_cors_headers

    # Then its gateway responses carry no CORS header at all
    assert gateway_cors_headers(()) == {}


@pytest.mark.parametrize("response_type", ["UNAUTHORIZED", "ACCESS_DENIED", "DEFAULT_4XX", "DEFAULT_5XX"])
def test_gateway_errors_answer_with_the_unified_error_body(dev, response_type):
    # Given API Gateway's own error responses
    responses = {
        res["Properties"]["ResponseType"]: res["Properties"]
        for res in t.of_type(dev.resources, "AWS::ApiGateway::GatewayResponse").values()
    }
    template = responses[response_type]["ResponseTemplates"]["application/json"]
    # When API Gateway fills in its context variables
    body = t.render_vtl(
        template,
        error_messageString='"Unauthorized"',
        error_responseType="UNAUTHORIZED",
        requestId="req-123",
    )
    # Then the body has the shape every handler error has, with the request id as correlation id
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "correlationId"}
    assert body["error"]["correlationId"] == "req-123"
    assert body["error"]["code"] and body["error"]["message"]


def test_gateway_errors_map_statuses_like_the_handlers(dev):
    # Given the gateway responses by type
    responses = {
        res["Properties"]["ResponseType"]: res["Properties"]
        for res in t.of_type(dev.resources, "AWS::ApiGateway::GatewayResponse").values()
    }
    # Then auth failures, unknown routes and throttling use the handlers' statuses and codes
    assert responses["UNAUTHORIZED"]["StatusCode"] == "401"
    assert '"UNAUTHENTICATED"' in responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"]
    assert responses["ACCESS_DENIED"]["StatusCode"] == "403"
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert (
        '"ROUTE_NOT_FOUND"'
        in responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"]
    )
    assert responses["THROTTLED"]["StatusCode"] == "429"


def test_stage_logs_every_request_as_json_and_is_throttled_and_traced(dev, prod):
    for synth in (dev, prod):
        # Given the REST stage of each environment
        (stage,) = t.of_type(synth.resources, "AWS::ApiGateway::Stage").values()
        props = stage["Properties"]
        # Then access logs go to the API's log group as one JSON object per request
        assert props["StageName"] == synth.config.stage
        assert t.references(props["AccessLogSetting"]["DestinationArn"]) & set(
            t.of_type(synth.resources, "AWS::Logs::LogGroup")
        )
        assert json.loads(props["AccessLogSetting"]["Format"]) == ACCESS_LOG_FIELDS
        # And every method is throttled at the stage's rate and burst
        (settings,) = props["MethodSettings"]
        assert (settings["HttpMethod"], settings["ResourcePath"]) == ("*", "/*")
        assert settings["ThrottlingRateLimit"] == synth.config.defaults.api_throttle_rate
        assert settings["ThrottlingBurstLimit"] == synth.config.defaults.api_throttle_burst
        assert props["TracingEnabled"] is True
        # And execution logs record errors without request or response bodies
        assert settings["LoggingLevel"] == "ERROR"
        assert settings["DataTraceEnabled"] is False


def test_only_the_opted_in_stack_writes_the_account_logging_role(prod):
    # Given a stack deployed without -c apiGatewayAccountRole=true
    # Then it neither sets the account's API Gateway settings nor creates a role for API Gateway
    assert not t.of_type(prod.resources, "AWS::ApiGateway::Account")
    for role in t.of_type(prod.resources, "AWS::IAM::Role").values():
        principals = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
        assert "apigateway.amazonaws.com" not in principals
    (stage,) = t.of_type(prod.resources, "AWS::ApiGatewayV2::Stage").values()
    assert not stage.get("DependsOn")


def test_api_gateway_logging_role_outlives_the_stack_and_precedes_the_websocket_stage(dev):
    # Given the account-level API Gateway settings that logging requires (dev-test opted in)
    ((account_id, account),) = t.of_type(dev.resources, "AWS::ApiGateway::Account").items()
    (role_id,) = t.references(account["Properties"]["CloudWatchRoleArn"])
    # Then the role is retained, so deleting a developer stack never breaks another stack's logging
    assert account["DeletionPolicy"] == "Retain"
    assert dev.resources[role_id]["DeletionPolicy"] == "Retain"
    # And the WebSocket stage (which logs too) is created after it
    (stage,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Stage").values()
    assert account_id in stage["DependsOn"]


def test_websocket_stage_is_throttled_and_logged(dev):
    # Given the live review WebSocket API's stage
    (api,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Api").values()
    (stage,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    # Then it is a WebSocket API with a throttled, access-logged, auto-deployed stage
    assert api["Properties"]["ProtocolType"] == "WEBSOCKET"
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == dev.config.defaults.live_throttle_rate
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] == dev.config.defaults.live_throttle_burst
    assert "requestId" in json.loads(props["AccessLogSettings"]["Format"])
    assert props["AutoDeploy"] is True


def test_api_urls_are_stack_outputs(dev):
    # Given the template's outputs
    outputs = dev.outputs
    # Then the REST base URL and the WebSocket URL are published
    descriptions = {o.get("Description") for o in outputs.values()}
    assert "Base URL of the REST API" in descriptions
    assert "WebSocket URL of live review" in descriptions


def test_websocket_routes_come_from_the_registry_behind_the_ticket_authorizer(dev):
    # Given the WebSocket routes, their integrations and the authorizer
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in t.of_type(dev.resources, "AWS::ApiGatewayV2::Route").values()
    }
    integrations = t.of_type(dev.resources, "AWS::ApiGatewayV2::Integration")
    ((authorizer_id, authorizer),) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Authorizer").items()
    # Then each registry route invokes its function
    assert set(routes) == set(registry.WEBSOCKET_ROUTES)
    for route_key, function in registry.WEBSOCKET_ROUTES.items():
        (integration_id,) = t.references(routes[route_key]["Target"])
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]
        assert t.alias_id(dev.resources, function) in t.references(uri)
    # And only $connect is authorized, by the ticket in the query string
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == {"Ref": authorizer_id}
    assert authorizer["Properties"]["IdentitySource"] == ["route.request.querystring.ticket"]
    assert t.alias_id(dev.resources, registry.WEBSOCKET_AUTHORIZER) in t.references(
        authorizer["Properties"]["AuthorizerUri"]
    )
    # And message routes send the handler's reply back to the sender
    responses = {
        r["Properties"]["RouteId"]["Ref"]
        for r in t.of_type(dev.resources, "AWS::ApiGatewayV2::RouteResponse").values()
    }
    default_route = next(
        lid
        for lid, r in t.of_type(dev.resources, "AWS::ApiGatewayV2::Route").items()
        if r["Properties"]["RouteKey"] == "$default"
    )
    assert default_route in responses
