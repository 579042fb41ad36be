"""The identity handler called directly with the sample events of events/identity."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from keyframe.local import lambdas
from keyframe.local.apigateway import build_rest_event
from keyframe.registry import REPO_ROOT

EVENTS = REPO_ROOT / "events"


def _event(relative: str) -> dict:
    return json.loads(Path(EVENTS, relative).read_text())


def test_login_sample_event_signs_in_and_the_token_authenticates_a_request(api):
    # Given the account named in the sample login event
    event = _event("identity/login.json")
    credentials = json.loads(event["body"])
    registered = api.post(
        "/auth/register",
        json={"studioName": "Moonlight", "displayName": "Ana", **credentials},
    )
    assert registered.status == 201

    # When the identity handler is called with the sample event
    result = lambdas.invoke("identity-api", event)

    # Then it answers a REST proxy response with tokens and the correlation id of the event
    assert result["statusCode"] == 200
    headers = result.get("headers") or {k: v[0] for k, v in result["multiValueHeaders"].items()}
    assert headers["X-Correlation-Id"] == "sample-login-0001"
    body = json.loads(result["body"])
    assert body["role"] == "ADMIN" and body["user"]["email"] == credentials["email"]

    # When the identity handler gets GET /me with that token (no authorizer context: the function
    # authenticates the request itself, as deployed)
    me = build_rest_event(
        "GET", "/me", resource="/me", path_params={}, query={},
        headers={"Authorization": f"Bearer {body['accessToken']}"}, body=None, authorizer=None,
    )  # fmt: skip
    answer = lambdas.invoke("identity-api", me)

    # Then it answers as the caller, with the role read from the membership
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["role"] == "ADMIN"
    # And the session list marks the caller's own session (sessionId of the context)
    sessions = lambdas.invoke("identity-api", {**me, "path": "/me/sessions", "resource": "/me/sessions"})
    assert sessions["statusCode"] == 200, sessions


def test_a_protected_route_without_a_token_is_401_from_the_function_itself(aws):
    # Given GET /me without Authorization and without an authorizer context
    me = build_rest_event(
        "GET", "/me", resource="/me", path_params={}, query={}, headers={}, body=None, authorizer=None
    )
    # When / Then the function answers the 401 the gateway used to, naming the scheme
    answer = lambdas.invoke("identity-api", me)
    assert answer["statusCode"] == 401
    headers = answer.get("headers") or {k: v[0] for k, v in answer["multiValueHeaders"].items()}
    assert headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(answer["body"])["error"]["code"] == "UNAUTHENTICATED"


def test_login_sample_event_with_a_wrong_password_is_401(api):
    event = copy.deepcopy(_event("identity/login.json"))
    event["body"] = json.dumps({"email": "nobody@example.com", "password": "wrong-password-123"})
    result = lambdas.invoke("identity-api", event)
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["correlationId"] == "sample-login-0001"
