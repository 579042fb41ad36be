"""Lambda FunctionName resolution and the Lambda error payload of the local emulator."""

from __future__ import annotations

import json

import pytest

from keyframe.local import lambdas


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(event, context):
        if event.get("fail"):
            raise ValueError("bad frame range")
        return {"echo": event, "function": context.function_name}

    monkeypatch.setitem(lambdas.OVERRIDES, "echo", handler)


@pytest.mark.parametrize(
    "given",
    [
        "echo",
        "keyframe-local-echo",
        "arn:aws:lambda:us-east-1:123456789012:function:keyframe-local-echo",
        "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST",
        "123456789012:function:keyframe-local-echo",
    ],
)
def test_every_form_of_function_name_resolves(echo: None, given: str) -> None:
    assert lambdas.resolve(given, "local") == "echo"


def test_unknown_functions_do_not_resolve(echo: None) -> None:
    assert lambdas.resolve("keyframe-local-nope", "local") is None
    assert lambdas.resolve("keyframe-prod-echo-x", "local") is None


def test_invoke_as_lambda_returns_the_result_or_lambdas_error_payload(echo: None) -> None:
    # Given / When
    ok, ok_error = lambdas.invoke_as_lambda("echo", b'{"a": 1}')
    failed, failed_error = lambdas.invoke_as_lambda("echo", b'{"fail": true}')

    # Then
    assert ok_error is None
    assert json.loads(ok)["echo"] == {"a": 1}
    assert failed_error == "Unhandled"
    body = json.loads(failed)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad frame range"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
