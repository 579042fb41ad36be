"""Issue 9 over real HTTP on the local stack: the reported unauthenticated 500s on POST /auth/login
are 400/415 in the error shape, and a 401 names the Bearer scheme."""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.conftest import LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

LOGIN = json.dumps({"email": "nobody@example.com", "password": "correct horse battery"}).encode()


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"[" * 1000 + b"]" * 1000, "application/json", 400, "BODY_TOO_DEEP"),
        (b'{"email": "\xff"}', "application/json", 400, "INVALID_ENCODING"),
        (LOGIN, "application/json; charset=utf-16", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (LOGIN, "APPLICATION/JSON", 401, None),
    ],
)
def test_login_bodies_over_http(local_stack: LocalStackProcess, raw, content_type, status, code):
    answer = requests.post(
        f"{local_stack.http_url}/auth/login", data=raw, headers={"Content-Type": content_type}, timeout=60
    )

    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["correlationId"]
    if code:
        assert error["code"] == code
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_401_from_the_authorizer_names_the_bearer_scheme(local_stack: LocalStackProcess):
    answer = requests.get(f"{local_stack.http_url}/me", headers={"Authorization": "Bearer x.y.z"}, timeout=60)

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json()["error"]["code"] == "UNAUTHENTICATED"
