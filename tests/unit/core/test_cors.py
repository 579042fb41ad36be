"""The one CORS policy: which headers an answer carries for which Origin."""

from __future__ import annotations

from keyframe.http import cors

ALLOWED = ("http://localhost:5173", "http://127.0.0.1:5173")


def test_an_allowed_origin_is_named_and_the_answer_varies_by_origin() -> None:
    # When each allowed origin asks
    for origin in ALLOWED:
        headers = cors.response_headers(origin, ALLOWED)
        # Then its answer names it (never a list, never '*') and says it varies by Origin
        assert headers["Access-Control-Allow-Origin"] == origin
        assert headers["Vary"] == "Origin"
        assert "ETag" in headers["Access-Control-Expose-Headers"].split(",")


def test_other_origins_and_no_origin_get_only_vary() -> None:
    for origin in ("https://evil.example", "http://localhost:5173.evil.example", "null", None):
        assert cors.response_headers(origin, ALLOWED) == {"Vary": "Origin"}


def test_without_an_allow_list_no_cors_header_is_sent() -> None:
    assert cors.response_headers("http://localhost:5173", ()) == {}
    assert cors.preflight_headers("http://localhost:5173", ()) == {}


def test_preflight_names_methods_headers_and_max_age_for_an_allowed_origin() -> None:
    headers = cors.preflight_headers(ALLOWED[1], ALLOWED)
    assert headers["Access-Control-Allow-Origin"] == ALLOWED[1]
    assert {"PATCH", "DELETE"} <= set(headers["Access-Control-Allow-Methods"].split(","))
    assert {"Authorization", "If-Match", "Idempotency-Key"} <= set(
        headers["Access-Control-Allow-Headers"].split(",")
    )
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert cors.preflight_headers("https://evil.example", ALLOWED) == {"Vary": "Origin"}


def test_origins_parse_from_the_comma_separated_setting() -> None:
    assert cors.parse_origins(" http://a.example , ,http://b.example") == (
        "http://a.example",
        "http://b.example",
    )
    assert cors.parse_origins(None) == ()
