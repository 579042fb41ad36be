"""Live review: the WebSocket routes, the ticket authorizer, and what each live function may do."""

from __future__ import annotations

from typing import Any

import pytest

from infra.grants import GRANTS, ManageLiveConnections
from keyframe import registry
from keyframe.live.models import connection_pk, ticket_pk
from keyframe.storage.tables import CATALOG, LIVE, TENANTS
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

READ_WRITE = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}


# ------------------------------------------------------------------------------------------ helpers
def _own(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements of a function's GRANTS entry (without its log group and X-Ray, which all have)."""
    return [s for s in statements if not any(a.startswith(("logs:", "xray:")) for a in t.actions_of(s))]


def _statements(synth, name: str) -> list[dict[str, Any]]:
    return _own(t.function_statements(synth.resources, name))


def _tables(synth, statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Table key -> the actions the statements allow on it."""
    touched: dict[str, set[str]] = {}
    for key, lid in t.table_ids(synth.resources).items():
        for statement in statements:
            if lid in t.references(statement["Resource"]):
                touched.setdefault(key, set()).update(t.actions_of(statement))
    return touched


def _connection_methods(synth, statements: list[dict[str, Any]]) -> set[str]:
    """The ``@connections`` methods the statements allow (``POST``, ``DELETE``...), on the live stage."""
    (live_api,) = t.of_type(synth.resources, "AWS::ApiGatewayV2::Api")
    methods: set[str] = set()
    for statement in statements:
        if "execute-api:ManageConnections" not in t.actions_of(statement):
            continue
        assert t.actions_of(statement) == ["execute-api:ManageConnections"], statement
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            assert live_api in t.references(resource), resource
            tail = resource["Fn::Join"][1][-1]
            stage, method, rest = tail.lstrip("/").split("/", 2)
            assert (stage, rest) == (synth.config.stage, "@connections/*"), tail
            methods.add(method)
    return methods


def _reads_secret(statements: list[dict[str, Any]]) -> bool:
    return any(a.startswith("secretsmanager:") for s in statements for a in t.actions_of(s))


def _route(synth, key: str) -> dict[str, Any]:
    (route,) = [
        r["Properties"]
        for r in t.of_type(synth.resources, "AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["RouteKey"] == key
    ]
    return route


def _target_function(synth, route: dict[str, Any]) -> str:
    integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
    uri = synth.resources[integration_id]["Properties"]["IntegrationUri"]
    (alias,) = t.references(uri) & set(t.of_type(synth.resources, "AWS::Lambda::Alias"))
    return alias


# ------------------------------------------------------------------------------------------ routes
def test_connect_is_behind_the_ticket_request_authorizer_and_the_other_routes_are_not(dev):
    # Given the WebSocket routes
    connect = _route(dev, "$connect")
    authorizer = dev.resources[connect["AuthorizerId"]["Ref"]]["Properties"]
    # Then $connect runs live-connect behind a REQUEST authorizer, live-authorizer, reading ?ticket=
    assert connect["AuthorizationType"] == "CUSTOM"
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.ticket"]
    assert t.alias_id(dev.resources, "live-authorizer") in t.references(authorizer["AuthorizerUri"])
    assert _target_function(dev, connect) == t.alias_id(dev.resources, "live-connect")
    # And $disconnect and $default carry no authorizer (the connection was authorized on $connect)
    for key, function in (("$disconnect", "live-disconnect"), ("$default", "live-message")):
        route = _route(dev, key)
        assert route["AuthorizationType"] == "NONE", key
        assert "AuthorizerId" not in route, key
        assert _target_function(dev, route) == t.alias_id(dev.resources, function)
    # And only those three routes exist
    routes = {
        r["Properties"]["RouteKey"] for r in t.of_type(dev.resources, "AWS::ApiGatewayV2::Route").values()
    }
    assert routes == set(registry.WEBSOCKET_ROUTES) == {"$connect", "$disconnect", "$default"}


def test_default_route_answers_the_sender(dev):
    # Given the $default route and its route responses
    default = _route(dev, "$default")
    responses = [
        r["Properties"]
        for r in t.of_type(dev.resources, "AWS::ApiGatewayV2::RouteResponse").values()
        if r["Properties"]["RouteId"] == {"Ref": _route_id(dev, "$default")}
    ]
    # Then it is a two-way route: the handler's body is the reply frame
    assert default["RouteResponseSelectionExpression"] == "$default"
    assert [r["RouteResponseKey"] for r in responses] == ["$default"]
    # And $connect / $disconnect are one-way
    assert "RouteResponseSelectionExpression" not in _route(dev, "$connect")
    assert "RouteResponseSelectionExpression" not in _route(dev, "$disconnect")


def _route_id(synth, key: str) -> str:
    (lid,) = [
        lid
        for lid, r in t.of_type(synth.resources, "AWS::ApiGatewayV2::Route").items()
        if r["Properties"]["RouteKey"] == key
    ]
    return lid


# ------------------------------------------------------------------------------------------ grants
def test_live_authorizer_only_consumes_tickets_and_reads_memberships(dev):
    # Given the ticket authorizer's role
    statements = _statements(dev, "live-authorizer")
    # Then on the live table it may get and delete ticket items, and nothing else
    (live,) = [s for s in statements if t.table_ids(dev.resources)[LIVE.key] in t.references(s["Resource"])]
    assert set(t.actions_of(live)) == {"dynamodb:GetItem", "dynamodb:DeleteItem"}
    assert live["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [ticket_pk("*")]}}
    # And on the tenants table it may get the caller's membership
    assert _tables(dev, statements) == {
        LIVE.key: {"dynamodb:GetItem", "dynamodb:DeleteItem"},
        TENANTS.key: {"dynamodb:GetItem"},
    }
    # And it neither reads the signing secret nor talks to sockets
    assert not _reads_secret(statements)
    assert _connection_methods(dev, statements) == set()


def test_live_connect_only_puts_connection_records(dev):
    # Given the $connect function's role
    (statement,) = _statements(dev, "live-connect")
    # Then it may put items of connection partitions (the connection and its studio room) in the live
    # table: it emits no presence event and needs no membership (the authorizer's context is the caller)
    assert t.actions_of(statement) == ["dynamodb:PutItem"]
    assert statement["Resource"] == {"Fn::GetAtt": [t.table_ids(dev.resources)[LIVE.key], "Arn"]}
    assert statement["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [connection_pk("*")]}
    }


def test_live_disconnect_cleans_up_and_announces_presence(dev):
    # Given the $disconnect function's role
    statements = _statements(dev, "live-disconnect")
    # Then it reads and writes the live table (connection, rooms, presence:leave) and posts events; on
    # the catalog it may only append to the outbox (every emitter may)
    assert set(_tables(dev, statements)) == {LIVE.key, CATALOG.key}
    assert t.appends_only_to_the_outbox(dev.resources, statements)
    assert _tables(dev, statements)[LIVE.key] >= {
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
    }
    assert _connection_methods(dev, statements) == {"POST"}
    assert not _reads_secret(statements)


def test_live_message_writes_reviews_reads_members_but_not_the_secret(dev):
    # Given the message function's role
    statements = _statements(dev, "live-message")
    tables = _tables(dev, statements)
    # Then it reads and writes the live table (rooms, comments) and the catalog (review status, activity)
    assert set(tables) == {LIVE.key, CATALOG.key, TENANTS.key}
    # And it only reads the tenants table (members for @mentions and notifications)
    assert tables[TENANTS.key] <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
    assert tables[LIVE.key] >= READ_WRITE - {"dynamodb:ConditionCheckItem"}
    assert tables[CATALOG.key] >= {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }
    # And it posts events, but reads no token secret (the principal is the connection record's)
    assert _connection_methods(dev, statements) == {"POST"}
    assert not _reads_secret(statements)


def test_reviews_api_reads_the_secret_and_writes_reviews(dev):
    # Given the reviews API's role and environment
    statements = _statements(dev, "reviews-api")
    tables = _tables(dev, statements)
    env = dev.resources[t.function_id(dev.resources, "reviews-api")]["Properties"]["Environment"]["Variables"]
    # Then it reads and writes live (comments, tickets) and catalog (review status), signs cursors,
    # and reads members (tenants) for @mentions and notifications and the caller's membership and
    # session to authenticate each request
    assert set(tables) == {LIVE.key, CATALOG.key, TENANTS.key}
    assert tables[TENANTS.key] <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
    assert _reads_secret(statements)
    assert _connection_methods(dev, statements) == {"POST"}
    # And it hands out the wss:// URL of this stage of the live API with each ticket
    (live_api,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Api")
    separator, parts = env["LIVE_WEBSOCKET_URL"]["Fn::Join"]
    assert live_api in t.references(parts)
    assert (separator, parts[0], parts[-1]) == ("", "wss://", f"/{dev.config.stage}")


def test_emitters_post_to_sockets_and_only_identity_api_closes_them(dev, prod):
    emitters = {
        name
        for name, accesses in GRANTS.items()
        if any(isinstance(access, ManageLiveConnections) for access in accesses)
    }
    assert {"identity-api", "live-disconnect", "live-message", "reviews-api", "renders-api"} <= emitters
    for synth in (dev, prod):
        for spec in registry.FUNCTIONS:
            # Given each function's socket permissions
            statements = _statements(synth, spec.name)
            methods = _connection_methods(synth, statements)
            env = synth.resources[t.function_id(synth.resources, spec.name)]["Properties"]["Environment"]
            if spec.name not in emitters:
                # Then a function that emits nothing cannot reach a socket
                assert methods == set(), spec.name
                continue
            # And an emitter posts (PostToConnection) on its own stage's @connections API and has its
            # endpoint; only identity-api also closes sockets (member:removed / member:role-changed)
            expected = {"POST", "DELETE"} if spec.name == "identity-api" else {"POST"}
            assert methods == expected, spec.name
            assert "LIVE_CONNECTIONS_ENDPOINT" in env["Variables"], spec.name
            # And every emitter reads and writes the live table (room counters, event log, connections)
            assert _tables(synth, statements)[LIVE.key] >= {"dynamodb:UpdateItem", "dynamodb:PutItem"}


def test_an_unknown_connections_method_is_refused():
    # Given a live API
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from infra.config import StageConfig
    from infra.live import LiveApi

    stack = cdk.Stack(cdk.App())
    live = LiveApi(stack, "Live", config=StageConfig.for_stage("dev"))
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    # When a grant names a method the @connections API does not have, or none
    # Then it is refused, naming the valid ones
    with pytest.raises(ValueError, match="POST"):
        live.grant_manage_connections(role, methods=("PATCH",))
    with pytest.raises(ValueError, match="POST"):
        live.grant_manage_connections(role, methods=())
