"""Cross-cutting behaviour every route shares, seen through the real gateway and handlers."""

from __future__ import annotations

import base64
import hashlib
import re

import boto3
import pytest
from openapi_spec_validator import validate

from tests.support.environment import MEDIA_BUCKET


def test_health_needs_no_token_and_carries_security_headers(api) -> None:
    # When
    response = api.get("/health")
    # Then
    assert response.status == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["X-Correlation-Id"]


def test_correlation_id_is_echoed_in_header_and_error_body(api) -> None:
    response = api.get("/no/such/route", headers={"X-Correlation-Id": "corr-123"})
    assert response.status == 404
    assert response.headers["X-Correlation-Id"] == "corr-123"
    assert response.json()["error"]["correlationId"] == "corr-123"


def test_ready_checks_tables_and_bucket(api) -> None:
    response = api.get("/ready")
    assert response.status == 200
    checks = response.json()["checks"]
    assert checks["tenants"] == "ok" and checks["mediaBucket"] == "ok"


def test_ready_answers_503_naming_what_is_missing(api) -> None:
    # Given the media bucket is gone
    boto3.client("s3").delete_bucket(Bucket=MEDIA_BUCKET)
    # When
    response = api.get("/ready")
    # Then
    assert response.status == 503
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["details"]["checks"]["mediaBucket"].startswith("unavailable")


def test_openapi_document_and_docs_page(api) -> None:
    document = api.get("/openapi.json")
    assert document.status == 200
    assert document.json()["openapi"].startswith("3.")
    assert "/auth/login" in document.json()["paths"]
    validate(document.json())  # the served document is valid OpenAPI 3.1 (raises otherwise)
    page = api.get("/docs")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert b"/auth/login" in page.body


def test_docs_is_swagger_ui_offline_with_a_csp_for_that_page_only(api) -> None:
    # When
    page = api.get("/docs")
    other = api.get("/health")
    # Then: Powertools' bundled Swagger UI, inlined (no CDN), over the committed document
    html = page.body.decode()
    assert "SwaggerUIBundle" in html and '"operationId": "createRender"' in html
    assert "<script src=" not in html and "<link rel=" not in html
    assert "href='/asyncapi.json'" in html and "href='/openapi.json'" in html
    # its CSP lets exactly its own inline scripts run and calls go only to this API
    csp = page.headers["Content-Security-Policy"]
    for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "connect-src 'self'" in csp and "'unsafe-eval'" not in csp and "frame-ancestors 'none'" in csp
    # and every other route keeps the strict one
    assert other.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    # try-it-out: the document says how to authorize and where to send calls
    document = api.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["servers"] == [{"url": "/"}]


def test_protected_route_without_token_is_401_in_the_error_shape(api) -> None:
    response = api.get("/me")
    assert response.status == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_wrong_method_answers_like_an_unknown_route_as_api_gateway_does(api) -> None:
    response = api.request("DELETE", "/health")
    assert response.status == 404
    assert response.json()["error"]["code"] == "ROUTE_NOT_FOUND"


def test_a_crashing_handler_answers_502_in_the_error_shape(api, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyframe.local import lambdas

    real = lambdas.invoke

    def crash(name, event):
        if name == "meta-api":
            raise RuntimeError("boom")
        return real(name, event)

    monkeypatch.setattr(lambdas, "invoke", crash)
    response = api.get("/health", headers={"X-Correlation-Id": "c-502"})
    assert response.status == 502
    assert response.json()["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "Internal server error",
        "correlationId": "c-502",
    }


def test_a_crashing_authentication_answers_500_not_401(api, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyframe.identity import tokens

    def crash(token, **kw):
        raise RuntimeError("secret unreachable")

    monkeypatch.setattr(tokens, "verify_access_token", crash)
    response = api.get("/me", token="anything", headers={"X-Correlation-Id": "c-500"})
    assert response.status == 500
    assert response.json()["error"]["code"] == "AUTHORIZER_FAILURE"
    assert response.json()["error"]["correlationId"] == "c-500"


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"Content-Type": "text/plain"}, b'{"email": "a@b.co"}', 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"Content-Type": "application/json"}, b"{" + b" " * 1_100_000 + b"}", 413, "PAYLOAD_TOO_LARGE"),
        ({"Content-Type": "application/json"}, b'{"email": ', 400, "MALFORMED_JSON"),
    ],
)
def test_bad_bodies_are_rejected_before_any_work(api, headers, body, status, code) -> None:
    response = api.request("POST", "/auth/login", raw_body=body, headers=headers)
    assert response.status == status
    assert response.json()["error"]["code"] == code


ALLOWED = "http://localhost:5173"  # CORS_ALLOW_ORIGINS of tests/support/environment.py


def test_cors_preflight_allows_the_configured_origin_only(api) -> None:
    # When a browser on the allowed origin asks before a POST with a token and If-Match
    allowed = api.request(
        "OPTIONS",
        "/assets/a1",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,if-match,content-type",
        },
    )
    # Then the gateway answers without a token, naming that origin, the method and the headers
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "PATCH" in allowed.headers["Access-Control-Allow-Methods"].split(",")
    assert {"Authorization", "If-Match", "Content-Type"} <= set(
        allowed.headers["Access-Control-Allow-Headers"].split(",")
    )
    assert allowed.headers["Vary"] == "Origin"
    # And another origin gets no CORS header
    denied = api.request(
        "OPTIONS",
        "/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert denied.headers["Vary"] == "Origin"


def _every_kind_of_answer(api, origin: str) -> dict[str, object]:
    headers = {"Origin": origin}
    return {
        "handler 200": api.get("/health", headers=headers),
        "authorizer 401 (no token)": api.get("/me", headers=headers),
        "authorizer 401 (bad token)": api.get("/me", headers={**headers, "Authorization": "Bearer x.y.z"}),
        "gateway 404": api.get("/no/such/route", headers=headers),
        "handler 413": api.request(
            "POST",
            "/auth/login",
            raw_body=b"{" + b" " * 1_100_000 + b"}",
            headers={**headers, "Content-Type": "application/json"},
        ),
        "handler 415": api.request(
            "POST", "/auth/login", raw_body=b"{}", headers={**headers, "Content-Type": "text/plain"}
        ),
        "handler 422": api.post("/auth/login", json={"email": 1}, headers=headers),
    }


def test_every_answer_to_an_allowed_origin_carries_cors(api) -> None:
    # When a browser on the allowed origin gets every kind of answer (handler, authorizer, gateway)
    answers = _every_kind_of_answer(api, ALLOWED)
    for name, response in answers.items():
        # Then each names the origin, varies by Origin and lets the script read the correlation id
        assert response.headers.get("Access-Control-Allow-Origin") == ALLOWED, name
        assert response.headers.get("Vary") == "Origin", name
        assert "X-Correlation-Id" in response.headers.get("Access-Control-Expose-Headers", ""), name
    assert answers["authorizer 401 (no token)"].status == 401
    assert answers["gateway 404"].status == 404


def test_no_answer_to_another_origin_carries_cors(api) -> None:
    # When a page on another origin calls the API
    for name, response in _every_kind_of_answer(api, "https://evil.example").items():
        # Then no answer lets its script read the response
        assert "Access-Control-Allow-Origin" not in response.headers, name
        assert response.headers.get("Vary") == "Origin", name


def test_ready_is_not_ready_when_a_table_is_not_configured(api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the function lost its catalog table variable
    monkeypatch.delenv("CATALOG_TABLE")
    # When / Then
    response = api.get("/ready")
    assert response.status == 503
    assert response.json()["error"]["details"]["checks"]["catalog"].startswith("not configured")
