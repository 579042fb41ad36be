"""Fixtures of the catalog integration tests: a signed-in studio with a project, asset factories,
versions published through the domain function (as the upload pipeline does)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from keyframe.storage.clients import client as aws_client
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import Session, register_studio
from tests.support.world import moto_world


@pytest.fixture
def admin(api: Any) -> Session:
    """The ADMIN of a fresh studio."""
    return register_studio(api, studio_name="Studio A")


@pytest.fixture
def other_admin(api: Any) -> Session:
    """The ADMIN of a second, unrelated studio."""
    return register_studio(api, studio_name="Studio B")


@pytest.fixture
def project(api: Any, admin: Session) -> dict[str, Any]:
    """A project of ``admin``'s studio (created over HTTP)."""
    response = api.post("/projects", json={"name": "Forest Tale", "code": "FT"}, token=admin.access_token)
    assert response.status == 201, response.body
    return response.json()


@pytest.fixture
def make_asset(api: Any, admin: Session, project: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """``make_asset(name="Hero", type="CHARACTER", **fields)`` creates an asset over HTTP."""

    def make(name: str = "Hero", type: str = "CHARACTER", **fields: Any) -> dict[str, Any]:
        body = {"projectId": project["id"], "name": name, "type": type, **fields}
        response = api.post("/assets", json=body, token=admin.access_token)
        assert response.status == 201, response.body
        return response.json()

    return make


def put_file(key: str, content: bytes) -> None:
    """Store ``content`` at ``key`` in the media bucket (as an upload would)."""
    aws_client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=content)


def publish(
    session: Session,
    asset_id: str,
    *,
    ready: bool = True,
    content: bytes = b"frames",
    name: str = "hero.mov",
    upload_id: str | None = None,
) -> int:
    """Publish a version through :func:`publish_version` (and mark it ready); returns its number."""
    from keyframe.catalog.versions import FileInfo, mark_version_ready, publish_version

    key = f"studios/{session.studio_id}/assets/{asset_id}/{name}-{len(content)}-{upload_id or 'x'}"
    put_file(key, content)
    version = publish_version(
        session.studio_id,
        asset_id,
        created_by=session.user_id,
        upload_id=upload_id,
        file=FileInfo(key=key, size=len(content), content_type="video/quicktime", file_name=name),
    )
    if ready:
        mark_version_ready(
            session.studio_id,
            asset_id,
            version.version,
            media={"duration": 2.0, "frameCount": 48, "fps": 24, "width": 1280, "height": 720},
            derived={"thumbnail": f"{key}.jpg", "proxy": f"{key}.mp4"},
        )
    return version.version


@pytest.fixture
def serialized_dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make each moto DynamoDB request atomic, as real DynamoDB is.

    moto's ``TransactWriteItems`` snapshots and restores whole tables, so two threads inside it at
    once lose each other's writes. Serialising *requests* (not our code) keeps DynamoDB's real
    guarantee; threads still interleave between requests, which is where our races live.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)
    yield


@pytest.fixture(scope="module")
def module_api() -> Iterator[Any]:
    """An API client over its own moto world shared by one test module (for read-mostly modules
    whose setup is costly: role and cross-studio matrices, listing). Tests using it must not
    depend on each other's writes."""
    with moto_world(execute_state_machines=True) as api:
        yield api
