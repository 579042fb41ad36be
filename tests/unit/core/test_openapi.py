"""The committed OpenAPI document is what the code generates (``make openapi`` refreshes it)."""

import copy

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing.exceptions import Unresolvable

from keyframe.http import openapi


def test_committed_openapi_matches_the_routes() -> None:
    # Given the routes in code / When the document is generated / Then it equals the committed copy
    assert openapi.render(openapi.generate()) == openapi.COMMITTED.read_text(), "run: make openapi"


def test_public_routes_need_no_token_and_others_do() -> None:
    document = openapi.committed()
    for path, item in document["paths"].items():
        for operation in item.values():
            public = operation.get("security") == []
            expected = path in {
                "/health",
                "/ready",
                "/openapi.json",
                "/asyncapi.json",
                "/docs",
                "/notifications/unsubscribe",  # an e-mail link: its signed token is the authority
                "/.well-known/jwks.json",
            } or path.startswith("/auth/")
            assert public == expected, path


def test_the_committed_document_is_valid_openapi_3_1() -> None:
    # Given the committed copy GET /openapi.json serves (the drift test above ties it to the code)
    document = openapi.committed()
    # When / Then: openapi-spec-validator finds nothing (it raises on the first problem)
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_validator_catches_a_dangling_reference() -> None:
    # Given a copy of the document with a $ref to a schema that does not exist
    broken = copy.deepcopy(openapi.committed())
    broken["components"]["schemas"]["Error"]["properties"]["error"] = {"$ref": "#/components/schemas/Gone"}
    # When / Then
    with pytest.raises((OpenAPIValidationError, Unresolvable), match="Gone"):
        validate(broken)


def _media_types(document: dict) -> list[tuple[str, str, dict]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                found.append((f"{method.upper()} {path}", "request", body))
            for status, response in operation["responses"].items():
                media = response.get("content", {}).get("application/json")
                if status.startswith("2") and media:
                    found.append((f"{method.upper()} {path}", status, media))
    return found


def test_every_request_body_has_an_example_and_every_example_fits_its_schema() -> None:
    # Given the committed document
    document = openapi.committed()
    media_types = _media_types(document)
    # Then every request body shows an example
    assert [where for where, kind, media in media_types if kind == "request" and "example" not in media] == []
    # and every example (request bodies and answers) validates against its own schema
    checked = 0
    for where, kind, media in media_types:
        if "example" in media:
            root = {**document, **media["schema"]}  # the document as root resolves its #/components refs
            errors = [e.message for e in Draft202012Validator(root).iter_errors(media["example"])]
            assert errors == [], f"{where} {kind}"
            checked += 1
    assert checked >= 30
