"""Issue 9.2 and 9.8 regressions: bodies are read once, strictly, by the shared resolver (public
routes included), request models take no converted types or control characters, and every 401
names the Bearer scheme."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.identity import register_studio

LOGIN = {"email": "nobody@example.com", "password": "correct horse battery staple"}


def _post(api: Any, path: str, raw: bytes, content_type: str = "application/json", token: str | None = None):
    return api.request("POST", path, raw_body=raw, headers={"Content-Type": content_type}, token=token)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.body
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["correlationId"]
    return error


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"[" * 1000 + b"]" * 1000, 400, "BODY_TOO_DEEP"),  # ~2 KB, used to answer 500
        (b'{"a":' * 33 + b"1" + b"}" * 33, 400, "BODY_TOO_DEEP"),
        (b'{"email": "\xff\xfe@example.test", "password": "x"}', 400, "INVALID_ENCODING"),
        (b'{"email": "a@example.test", "email": "b@example.test", "password": "x"}', 400, "DUPLICATE_KEY"),
        (b'{"email": "a@example.test", "password": NaN}', 400, "MALFORMED_JSON"),
        (b'{"email": ', 400, "MALFORMED_JSON"),
    ],
)
def test_unreadable_bodies_on_login_answer_400_not_500(api, raw, status, code):
    # When an unauthenticated client sends the body to POST /auth/login
    response = _post(api, "/auth/login", raw)

    # Then a 400 in the one error shape, naming what is wrong
    _error(response, status, code)


def test_32_levels_are_still_read():
    from keyframe.http.bodies import MAX_DEPTH, parse_json

    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize(
    "content_type",
    [
        "APPLICATION/JSON",
        "Application/Json; Charset=UTF-8",
        'application/json;charset="utf-8"',
        "application/json ;",
    ],
)
def test_media_types_are_case_insensitive(api, content_type):
    # When the login body is sent with an RFC 9110 equivalent of application/json
    response = _post(api, "/auth/login", json.dumps(LOGIN).encode(), content_type)

    # Then it is read (the unknown account is a plain 401, not a 415 or a 500)
    _error(response, 401, response.json()["error"]["code"])


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-16",
        "application/json; charset=latin1",
        "text/plain",
        "application/jsonx",
        "",
    ],
)
def test_other_media_types_and_charsets_are_415(api, content_type):
    response = _post(api, "/auth/login", json.dumps(LOGIN).encode(), content_type)

    _error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_duplicate_keys_are_refused_on_authenticated_routes_too(api):
    admin = register_studio(api)

    response = _post(api, "/projects", b'{"name": "A", "name": "B", "code": "DUP"}', token=admin.access_token)

    _error(response, 400, "DUPLICATE_KEY")
    assert api.get("/projects", token=admin.access_token).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "P", "code": "P1", "startFrame": True}, "startFrame"),
        ({"name": "P", "code": "P2", "startFrame": "1001"}, "startFrame"),
        ({"name": "P", "code": "P3", "fps": "24"}, "fps"),
        ({"name": "P\x00", "code": "P4"}, "name"),
        ({"name": "P", "code": "P5", "description": "one\x00two"}, "description"),
        ({"name": "P", "code": "P6", "description": "bell\x07"}, "description"),
        ({"name": "P", "code": "P7", "description": "lone \ud800 surrogate"}, "description"),
    ],
)
def test_loose_types_and_control_characters_are_400_naming_the_field(api, body, field):
    admin = register_studio(api)

    response = api.post("/projects", json=body, token=admin.access_token)

    error = _error(response, 400, "VALIDATION_ERROR")
    assert field in {d["field"] for d in error["details"]["fields"]}
    assert api.get("/projects", token=admin.access_token).json()["items"] == []


def test_multi_line_text_keeps_its_newlines(api):
    admin = register_studio(api)

    body = {"name": "P", "code": "ML", "description": "line one\n\tline two"}

    response = api.post("/projects", json=body, token=admin.access_token)

    assert response.status == 201, response.body
    assert response.json()["description"] == "line one\n\tline two"


def test_a_boolean_size_opens_no_upload(api):
    admin = register_studio(api)
    project = api.post("/projects", json={"name": "P", "code": "UP"}, token=admin.access_token).json()
    asset = api.post(
        "/assets", json={"projectId": project["id"], "name": "A", "type": "PROP"}, token=admin.access_token
    ).json()
    body = {"fileName": "a.mov", "size": True, "contentType": "video/quicktime"}

    response = api.post(f"/assets/{asset['id']}/uploads", json=body, token=admin.access_token)

    error = _error(response, 400, "VALIDATION_ERROR")
    assert "size" in {d["field"] for d in error["details"]["fields"]}


def test_nul_in_a_comment_body_is_refused_but_newlines_are_kept(api):
    from tests.integration.catalog.conftest import publish

    admin = register_studio(api)
    project = api.post("/projects", json={"name": "P", "code": "CM"}, token=admin.access_token).json()
    asset = api.post(
        "/assets", json={"projectId": project["id"], "name": "A", "type": "PROP"}, token=admin.access_token
    ).json()
    version = publish(admin, asset["id"])
    path = f"/assets/{asset['id']}/versions/{version}/comments"

    refused = api.post(path, json={"body": "hi\x00there"}, token=admin.access_token)
    kept = api.post(path, json={"body": "line one\nline two"}, token=admin.access_token)

    _error(refused, 400, "VALIDATION_ERROR")
    assert kept.status == 201, kept.body
    assert kept.json()["body"] == "line one\nline two"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/me", {}),  # the gateway's authorizer path: no token
        ("GET", "/me", {"Authorization": "Bearer not.a.token"}),  # the authorizer refuses
        ("POST", "/auth/login", {}),  # the handler path: a wrong password
    ],
)
def test_every_401_names_the_bearer_scheme(api, method, path, headers):
    body = json.dumps(LOGIN).encode() if method == "POST" else None
    all_headers = {**headers, "Content-Type": "application/json"} if body else headers

    response = api.request(method, path, raw_body=body, headers=all_headers)

    assert response.status == 401, response.body
    assert {k.lower(): v for k, v in response.headers.items()}["www-authenticate"] == "Bearer"
