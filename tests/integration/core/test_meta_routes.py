"""Cross-cutting behaviour every route shares, seen through the real gateway and handlers."""

from __future__ import annotations

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


def test_a_crashing_authorizer_answers_500_not_401(api, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyframe.local import lambdas

    real = lambdas.invoke

    def crash(name, event):
        if name == "authorizer":
            raise RuntimeError("secret unreachable")
        return real(name, event)

    monkeypatch.setattr(lambdas, "invoke", crash)
    response = api.get("/me", token="anything")
    assert response.status == 500
    assert response.json()["error"]["code"] == "AUTHORIZER_FAILURE"


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


def test_cors_preflight_allows_the_configured_origin_only(api) -> None:
    allowed = api.request(
        "OPTIONS",
        "/auth/login",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers.get("Access-Control-Allow-Origin") == "http://localhost:5173"
    denied = api.request(
        "OPTIONS",
        "/auth/login",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert denied.headers.get("Access-Control-Allow-Origin") != "https://evil.example"


def test_ready_is_not_ready_when_a_table_is_not_configured(api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the function lost its catalog table variable
    monkeypatch.delenv("CATALOG_TABLE")
    # When / Then
    response = api.get("/ready")
    assert response.status == 503
    assert response.json()["error"]["details"]["checks"]["catalog"].startswith("not configured")
