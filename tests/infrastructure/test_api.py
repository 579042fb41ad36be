"""The REST and WebSocket APIs: every route wired from the registry, auth where it must be, errors shaped."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Stack

from infra.api import (
    ACCESS_LOG_FIELDS,
    API_LOGICAL_ID,
    DEFAULT_GROUP,
    GATEWAY_ERRORS,
    PARENT_SEGMENTS,
    ROUTE_GROUPS,
    ROUTE_STACK_LIMIT,
    route_group,
)
from infra.grants import AUTHENTICATES, GRANTS
from keyframe import registry
from keyframe.registry import Endpoint
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
        # (on every path, those of the route stacks too, and the root)
        paths = {path for method, path in t.methods(synth.resources) if method == "OPTIONS"}
        assert paths == {"/", *t.resource_paths(synth.resources).values()}
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


def _templates(synth) -> dict[str, dict]:
    """Every template of the stack read alone: ``main`` and each inlined nested stack's logical id."""
    return {"main": synth.template.to_json(), **synth.children}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_template_holds_at_most_500_resources(request, stage):
    # Given every template CloudFormation deploys for the stage: the main stack and each nested stack
    # (found in the construct tree, so a new nested stack is counted too)
    from aws_cdk import NestedStack
    from aws_cdk.assertions import Template

    synth = request.getfixturevalue(stage)
    nested = [c for c in synth.stack.node.find_all() if NestedStack.is_nested_stack(c)]
    assert len(nested) >= len(synth.stack.rest_api.route_stacks) + 3
    counts = {synth.stack.stack_name: len(synth.template.to_json()["Resources"])}
    for stack in nested:
        counts[Stack.of(stack).node.path] = len(Template.from_stack(stack).to_json()["Resources"])
    # Then each stays within CloudFormation's limit, and route stacks within their own margin
    assert all(count <= 500 for count in counts.values()), counts
    for group, stack in synth.stack.rest_api.route_stacks.items():
        assert counts[stack.node.path] <= ROUTE_STACK_LIMIT, group


def _method_places(synth) -> dict[tuple[str, str], list[str]]:
    """``(HTTP method, path)`` -> the templates that hold a method for it (one entry per method)."""
    places: dict[tuple[str, str], list[str]] = {}
    for name, template in _templates(synth).items():
        resources = template["Resources"]
        paths = t.resource_paths(resources)
        for res in t.of_type(resources, "AWS::ApiGateway::Method").values():
            props = res["Properties"]
            resource = props["ResourceId"]
            path = paths[resource["Ref"]] if "Ref" in resource else "/"
            places.setdefault((props["HttpMethod"], path), []).append(name)
    return places


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_registry_route_has_one_method_in_one_template_chosen_by_its_first_segment(request, stage):
    # Given the methods of each template read alone
    synth = request.getfixturevalue(stage)
    places = _method_places(synth)
    route_stack_ids = {
        group: Stack.of(synth.stack).get_logical_id(stack.nested_stack_resource)
        for group, stack in synth.stack.rest_api.route_stacks.items()
    }
    for endpoint in registry.endpoints():
        # Then each registry route is exactly one method, in exactly one template
        (where,) = places[(endpoint.method, endpoint.path)]
        # And that template is the route stack of its first path segment (the main stack for the
        # meta function's documents)
        group = route_group(endpoint.path)
        assert where == ("main" if group is None else route_stack_ids[group]), endpoint
    # And no method is anywhere twice (preflight included)
    assert {key: where for key, where in places.items() if len(where) > 1} == {}
    # And every route stack holds the invoke permission of each function it integrates, scoped to the API
    for group, stack_id in route_stack_ids.items():
        resources = synth.children[stack_id]["Resources"]
        integrated = {
            alias
            for props in t.methods(resources).values()
            if props["Integration"]["Type"] == "AWS_PROXY"
            for alias in t.references(props["Integration"]["Uri"])
            if alias in t.of_type(synth.resources, "AWS::Lambda::Alias")
        }
        permitted = {
            alias
            for res in t.of_type(resources, "AWS::Lambda::Permission").values()
            for alias in t.references(res["Properties"]["FunctionName"])
        }
        assert integrated and integrated == permitted, group
        for res in t.of_type(resources, "AWS::Lambda::Permission").values():
            assert res["Properties"]["Principal"] == "apigateway.amazonaws.com"
            assert API_LOGICAL_ID in t.references(res["Properties"]["SourceArn"])


def test_a_new_route_group_gets_its_own_stack_and_unknown_segments_go_to_the_default_group():
    # Given paths of known domains, the meta documents and a segment no group names
    # Then each goes where the rule in infra/api.py says
    assert route_group("/assets/{assetId}/versions") == "Assets"
    assert route_group("/.well-known/jwks.json") == "Identity"
    assert route_group("/health") is None
    assert route_group("/analytics/events") == DEFAULT_GROUP
    # And no segment belongs to two groups
    segments = [s for group in ROUTE_GROUPS.values() for s in group]
    assert len(segments) == len(set(segments)) and not set(segments) & PARENT_SEGMENTS


def _small_api(endpoints, origins=("http://localhost:5173",)) -> dict:
    """The main template of a stack holding only a REST API with ``endpoints`` (fast: no Keyframe stack)."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from infra.api import RestApi
    from infra.config import StageConfig

    app = cdk.App()
    stack = cdk.Stack(app, "Small")
    code = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
    functions = {
        name: lambda_.Function(
            stack, name, runtime=lambda_.Runtime.PYTHON_3_13, handler="index.handler", code=code
        )
        for name in {e.function for e in endpoints}
    }
    config = StageConfig.for_stage("dev", suffix="small", cors_origins=origins)
    RestApi(stack, "RestApi", config=config, functions=functions, endpoints=endpoints)
    return Template.from_stack(stack).to_json()["Resources"]


def _deployment(resources: dict) -> tuple[str, dict]:
    ((deployment_id, deployment),) = t.of_type(resources, "AWS::ApiGateway::Deployment").items()
    (stage,) = t.of_type(resources, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["DeploymentId"] == {"Ref": deployment_id}
    return deployment_id, deployment


def test_a_change_of_methods_in_a_route_stack_makes_a_new_deployment():
    # Given a small API: a meta route in the main stack, two in the Assets route stack
    base = [
        Endpoint("f", "GET", "/health"),
        Endpoint("f", "GET", "/assets"),
        Endpoint("f", "GET", "/assets/{assetId}"),
    ]
    before_id, before = _deployment(_small_api(base))
    # Then the deployment waits for every route stack
    (routes_stack,) = [
        lid for lid, res in _small_api(base).items() if res["Type"] == "AWS::CloudFormation::Stack"
    ]
    assert routes_stack in before["DependsOn"]
    # And the same routes give the same deployment (no needless redeploy)
    assert _deployment(_small_api(base))[0] == before_id
    # When only a route stack's methods change (a new route, another function, other CORS origins)
    changed = [
        [*base, Endpoint("f", "DELETE", "/assets/{assetId}")],
        [*base[:2], Endpoint("g", "GET", "/assets/{assetId}")],
    ]
    ids = {_deployment(_small_api(endpoints))[0] for endpoints in changed}
    ids.add(_deployment(_small_api(base, origins=("https://other.example",)))[0])
    # Then each is a new deployment, so the stage serves the new methods
    assert before_id not in ids and len(ids) == 3


def test_a_route_stack_past_its_limit_stops_the_synth_naming_the_segments_to_move(monkeypatch):
    # Given a route stack allowed fewer resources than its routes need
    monkeypatch.setattr("infra.api.ROUTE_STACK_LIMIT", 3)
    endpoints = [Endpoint("f", "GET", "/health"), *(Endpoint("f", m, "/assets") for m in ("GET", "POST"))]
    # Then the synth stops and says which segments to move to a new group
    with pytest.raises(ValueError, match=r"route stack Assets holds \d+ resources .*\['assets'\]"):
        _small_api(endpoints)
