"""The committed OpenAPI document is what the code generates (``make openapi`` refreshes it)."""

import copy

import pytest
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
