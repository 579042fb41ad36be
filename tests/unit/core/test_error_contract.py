"""The document names every error a route can answer, and every code has one status.

``error_reach`` reads the source: from each route function it follows the calls into the keyframe
package and collects every error it can construct. A route that can reach a code its operation
does not list fails here, naming the raise site; so does a raise site whose code is not in
``keyframe.http.contract.ERROR_CODES`` or whose class answers another status.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import Any

import pytest

from keyframe import registry
from keyframe.errors import TooManyRequests
from keyframe.http import contract, openapi
from keyframe.http.errors import status_for
from tests.unit.core import error_reach

METHODS = ("get", "put", "post", "delete", "patch")


def _status_of(cls_name: str) -> int:
    cls = error_reach.ERROR_CLASSES[cls_name]
    error = cls("m", retry_after=1) if issubclass(cls, TooManyRequests) else cls("m")
    return status_for(error)


def _route_functions() -> dict[str, str]:
    """operationId -> ``module:function`` of every route, read from the decorators."""
    found: dict[str, str] = {}
    for spec in registry.api_functions():
        for module_name in spec.routers:
            module = error_reach.modules()[module_name]
            for key, func in module.functions.items():
                for decorator in getattr(func.node, "decorator_list", []):
                    if not isinstance(decorator, ast.Call):
                        continue
                    for keyword in decorator.keywords:
                        if keyword.arg == "operation_id" and isinstance(keyword.value, ast.Constant):
                            found[keyword.value.value] = f"{module_name}:{key}"
    return found


def _documented_codes(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    codes: set[str] = set()
    for given in operation["responses"].values():
        response = given
        if "$ref" in given:
            response = document["components"]["responses"][given["$ref"].rsplit("/", 1)[1]]
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        for part in schema.get("allOf", []):
            codes.update(
                part.get("properties", {})
                .get("error", {})
                .get("properties", {})
                .get("code", {})
                .get("enum", [])
            )
    return codes


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op
        for item in document["paths"].values()
        for method, op in item.items()
        if method in METHODS
    }


def undocumented(document: dict[str, Any]) -> dict[str, list[str]]:
    """operationId -> ``CODE at module:function:line`` for every reachable code the operation omits."""
    operations = _operations(document)
    missing: dict[str, list[str]] = {}
    for operation_id, qualname in _route_functions().items():
        documented = _documented_codes(document, operations[operation_id])
        for raised in error_reach.reachable(qualname):
            if raised.code not in documented:
                missing.setdefault(operation_id, []).append(f"{raised.code} at {raised.where}")
    return missing


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.committed()


def test_every_route_documents_every_code_it_can_reach(document) -> None:
    # Given the committed document and the source / When every route's reachable errors are read
    missing = undocumented(document)
    # Then none is missing (add it to the route's answers(...) and run make openapi)
    assert missing == {}


def test_a_route_that_omits_a_reachable_code_is_caught(document) -> None:
    # Given a copy where createProject no longer lists 409 PROJECT_CODE_TAKEN
    broken = copy.deepcopy(document)
    broken["paths"]["/projects"]["post"]["responses"].pop("409")
    # When / Then
    assert [m.split(" ")[0] for m in undocumented(broken)["createProject"]] == ["PROJECT_CODE_TAKEN"]


def test_every_raised_code_is_registered_with_the_status_of_its_class() -> None:
    # Given every construction of an error class in the package
    raised = error_reach.literal_codes()
    # Then each has a literal code, registered with the status its class answers
    assert [r.where for r in raised if r.code is None] == []
    wrong = {
        r.where: (r.code, _status_of(r.cls), contract.ERROR_CODES.get(r.code or ""))
        for r in raised
        if contract.ERROR_CODES.get(r.code or "") != _status_of(r.cls)
    }
    assert wrong == {}


def test_details_is_never_a_list_at_a_raise_site() -> None:
    # Given every construction of an error class and every error body built by hand
    lists = []
    for module in error_reach.modules().values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "details" and isinstance(keyword.value, ast.List | ast.ListComp):
                        lists.append(f"{module.name}:{node.lineno}")
    # Then none passes a list: details is one object (``{"fields": [...]}`` for fields at fault)
    assert lists == []


def test_every_declared_code_is_registered_and_documented_once_per_status(document) -> None:
    for operation_id, operation in _operations(document).items():
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            codes = _documented_codes(document, {"responses": {status: response}})
            assert codes, (operation_id, status)
            assert {contract.ERROR_CODES[c] for c in codes} == {int(status)}, (operation_id, status)


def test_answers_refuses_an_unknown_code_or_header() -> None:
    with pytest.raises(KeyError, match="NO_SUCH_CODE"):
        contract.answers("NO_SUCH_CODE")
    with pytest.raises(KeyError, match="X-Nope"):
        contract.answers(sends=("X-Nope",))


def test_operation_ids_are_stable_readable_camel_case_set_in_code(document) -> None:
    operations = _operations(document)
    assert len(operations) == sum(
        1 for item in document["paths"].values() for method in item if method in METHODS
    ), "operationIds are unique"
    for operation_id in operations:
        assert re.fullmatch(r"[a-z][a-zA-Z]+", operation_id), operation_id
    assert set(_route_functions()) == set(operations), "every route sets operation_id= in its decorator"
    assert {"listAssets", "createRender", "removeDependency", "login", "updateAsset"} <= set(operations)


def test_every_operation_has_a_described_tag(document) -> None:
    described = {tag["name"] for tag in document["tags"] if tag.get("description")}
    for operation_id, operation in _operations(document).items():
        assert operation.get("tags") and set(operation["tags"]) <= described, operation_id


def test_headers_are_declared_where_they_are_sent_and_read(document) -> None:
    operations = _operations(document)

    def params(op_id: str) -> set[str]:
        return {p["$ref"].rsplit("/", 1)[1] for p in operations[op_id]["parameters"] if "$ref" in p}

    assert "IfMatch" in params("updateAsset")
    assert "IdempotencyKey" in params("createRender")
    assert all("XCorrelationId" in params(op) for op in operations)
    assert set(operations["getAsset"]["responses"]["200"]["headers"]) == {"ETag", "X-Correlation-Id"}
    assert "Location" in operations["createProject"]["responses"]["201"]["headers"]
    assert "Location" in operations["createRender"]["responses"]["202"]["headers"]
    too_many = document["components"]["responses"]["TooManyRequests"]
    assert "Retry-After" in too_many["headers"]
    assert "Retry-After" in operations["createRender"]["responses"]["429"]["headers"]
    assert "412" in operations["updateAsset"]["responses"]
    assert "409" in operations["createProject"]["responses"]
