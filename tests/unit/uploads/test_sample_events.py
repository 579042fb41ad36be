"""The sample events in events/uploads match the uploads routes and their request schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyframe import registry
from keyframe.http.app import KeyframeResolver
from keyframe.uploads.schemas import CompleteUploadRequest, OpenUploadRequest

EVENTS = sorted((registry.REPO_ROOT / "events" / "uploads").glob("*.json"))
BODIES = {"open": OpenUploadRequest, "complete": CompleteUploadRequest}


def _routes() -> set[tuple[str, str]]:
    app = KeyframeResolver(enable_validation=True)
    for router in registry.routers_of(registry.function("uploads-api")):
        app.include_router(router)
    paths = app.get_openapi_schema().paths or {}
    return {
        (method.upper(), path)
        for path, item in paths.items()
        for method in ("get", "post", "delete", "put", "patch")
        if getattr(item, method, None) is not None
    }


def test_there_is_a_sample_for_every_uploads_route() -> None:
    samples = set()
    for path in EVENTS:
        event = json.loads(path.read_text())
        samples.add((event["httpMethod"], event["resource"]))
    assert samples == _routes()


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_each_sample_is_a_valid_request(path: Path) -> None:
    event = json.loads(path.read_text())
    # Then it carries an authorizer context and a body its route accepts
    assert {"studioId", "userId", "role"} <= set(event["requestContext"]["authorizer"])
    if path.stem in BODIES:
        BODIES[path.stem].model_validate_json(event["body"])
    else:
        assert event["body"] is None
