"""The handler modules called directly with the sample events of events/identity and events/authorizer."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from keyframe.local import lambdas
from keyframe.registry import REPO_ROOT

EVENTS = REPO_ROOT / "events"


def _event(relative: str) -> dict:
    return json.loads(Path(EVENTS, relative).read_text())


def test_login_sample_event_signs_in_and_the_token_passes_the_authorizer_sample(api):
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

    # When the authorizer handler is called with the sample TOKEN event carrying that token
    token_event = _event("authorizer/token.json")
    token_event["authorizationToken"] = f"Bearer {body['accessToken']}"
    policy = lambdas.invoke("authorizer", token_event)

    # Then it allows the whole stage of that API and passes the caller's identity on
    assert policy["principalId"] == body["user"]["userId"]
    [statement] = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"] == ["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"]
    assert policy["context"] == {
        "studioId": body["studio"]["studioId"],
        "userId": body["user"]["userId"],
        "role": "ADMIN",
        "sessionId": policy["context"]["sessionId"],
    }
    assert policy["context"]["sessionId"]


def test_authorizer_sample_event_as_committed_is_unauthorized(aws):
    # Given the committed sample (its token is a placeholder)
    event = _event("authorizer/token.json")

    # When / Then API Gateway's contract: an exception whose message is exactly "Unauthorized"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        lambdas.invoke("authorizer", event)


def test_login_sample_event_with_a_wrong_password_is_401(api):
    event = copy.deepcopy(_event("identity/login.json"))
    event["body"] = json.dumps({"email": "nobody@example.com", "password": "wrong-password-123"})
    result = lambdas.invoke("identity-api", event)
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["correlationId"] == "sample-login-0001"
