"""The committed OpenAPI document is what the code generates (``make openapi`` refreshes it)."""

from keyframe.http import openapi


def test_committed_openapi_matches_the_routes() -> None:
    # Given the routes in code / When the document is generated / Then it equals the committed copy
    assert openapi.render(openapi.generate()) == openapi.COMMITTED.read_text(), "run: make openapi"


def test_public_routes_need_no_token_and_others_do() -> None:
    document = openapi.committed()
    for path, item in document["paths"].items():
        for operation in item.values():
            public = operation.get("security") == []
            expected = path in {"/health", "/ready", "/openapi.json", "/docs"} or path.startswith("/auth/")
            assert public == expected, path
