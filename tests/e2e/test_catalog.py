"""The asset catalog against the local stack, over HTTP: projects and assets, versions published by
the domain function the pipeline uses (against the stack's emulator), rollback back and forward, a
ranged download from the presigned URL, the dependency graph (chain, diamond, impact, cycle) and the
activity log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Studio:
    """A studio registered on the stack, with an HTTP session carrying its admin's token."""

    http: BaseUrlSession
    token: str
    studio_id: str
    user_id: str
    project_id: str

    def call(self, method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        response = self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response

    def asset(self, name: str, kind: str = "PROP") -> str:
        body = {"projectId": self.project_id, "name": name, "type": kind}
        return self.call("POST", "/assets", body, expect=201).json()["id"]


@pytest.fixture(scope="module")
def studio(local_stack: LocalStackProcess) -> Iterator[Studio]:
    with BaseUrlSession(local_stack.http_url) as http:
        email = f"catalog-{uuid.uuid4().hex[:10]}@example.com"
        registered = http.post(
            "/auth/register",
            json={"studioName": "Catalog E2E", "email": email, "password": PASSWORD, "displayName": "Lead"},
        )
        assert registered.status_code == 201, registered.text
        body = registered.json()
        token = body["accessToken"]
        project = http.post(
            "/projects",
            json={"name": "E2E Show", "code": "E2E", "fps": 23.976},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert project.status_code == 201, project.text
        yield Studio(http, token, body["studio"]["studioId"], body["user"]["userId"], project.json()["id"])


@pytest.fixture
def stack_env(local_stack: LocalStackProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point this process's domain code (PynamoDB models, settings) at the stack's emulator."""
    from aws_lambda_powertools.utilities import parameters

    from keyframe import settings
    from tests.conftest import _reset_pynamodb_connections

    for key, value in local_stack.env.items():
        monkeypatch.setenv(key, value)
    settings.reset()
    parameters.clear_caches()
    _reset_pynamodb_connections()
    yield
    _reset_pynamodb_connections()


def _publish(local_stack: LocalStackProcess, studio: Studio, asset_id: str, content: bytes, name: str) -> int:
    """Store a file in the stack's bucket and publish it as a READY version, as the pipeline does."""
    from keyframe.catalog.versions import FileInfo, mark_version_ready, publish_version

    key = f"studios/{studio.studio_id}/assets/{asset_id}/{uuid.uuid4().hex}/{name}"
    local_stack.client("s3").put_object(Bucket=local_stack.env["MEDIA_BUCKET"], Key=key, Body=content)
    version = publish_version(
        studio.studio_id,
        asset_id,
        created_by=studio.user_id,
        upload_id=uuid.uuid4().hex,
        file=FileInfo(key=key, size=len(content), content_type="video/mp4", file_name=name),
    )
    mark_version_ready(
        studio.studio_id,
        asset_id,
        version.version,
        media={"duration": 1.0, "frameCount": 24, "fps": 23.976, "width": 640, "height": 360},
        derived={"thumbnail": f"{key}.jpg"},
    )
    return version.version


def test_versions_roll_back_and_forward_and_download_with_range(local_stack, studio, stack_env):
    # Given: an asset with two ready versions published through the domain function
    asset_id = studio.asset("Hero", "CHARACTER")
    first = bytes(range(256)) * 64
    assert _publish(local_stack, studio, asset_id, first, "hero v1.mp4") == 1
    assert _publish(local_stack, studio, asset_id, b"second" * 100, "hero v2.mp4") == 2
    assert studio.call("GET", f"/assets/{asset_id}").json()["currentVersion"] == 2

    # When: roll back to v1, then forward to v2
    back = studio.call("PATCH", f"/assets/{asset_id}/rollback", {"version": 1}).json()
    forward = studio.call("PATCH", f"/assets/{asset_id}/rollback", {"version": 2}).json()
    missing = studio.call("PATCH", f"/assets/{asset_id}/rollback", {"version": 7}, expect=404)

    # Then
    assert back["currentVersion"] == 1
    assert forward["currentVersion"] == 2
    assert missing.json()["error"]["code"] == "VERSION_NOT_FOUND"
    listed = studio.call("GET", f"/assets/{asset_id}/versions").json()["items"]
    assert [(v["version"], v["status"]) for v in listed] == [(2, "READY"), (1, "READY")]

    # When: download v1 with a Range request on the presigned URL
    download = studio.call("GET", f"/assets/{asset_id}/versions/1/download").json()
    ranged = requests.get(download["url"], headers={"Range": "bytes=1000-1999"}, timeout=30)
    whole = requests.get(download["url"], timeout=30)

    # Then
    assert download["fileName"] == "hero v1.mp4"
    assert download["size"] == len(first)
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 1000-1999/{len(first)}"
    assert ranged.content == first[1000:2000]
    assert whole.content == first
    assert "attachment" in whole.headers.get("Content-Disposition", "")


def test_dependency_graph_chain_diamond_impact_and_cycle(local_stack, studio, stack_env):
    # Given: shot uses char and prop, both use texture; texture has v1
    shot, char, prop, texture = (studio.asset(n) for n in ("shot", "char", "prop", "texture"))
    _publish(local_stack, studio, texture, b"tex1", "tex.png")
    for a, b in [(shot, char), (shot, prop), (char, texture)]:
        studio.call("PUT", f"/assets/{a}/dependencies/{b}", expect=201)
    studio.call("PUT", f"/assets/{prop}/dependencies/{texture}", {"pinnedVersion": 1}, expect=201)

    # When
    impact = studio.call("GET", f"/assets/{texture}/dependents?transitive=true").json()
    chain = studio.call("GET", f"/assets/{shot}/dependencies?transitive=true").json()
    cycle = studio.call("PUT", f"/assets/{texture}/dependencies/{shot}", expect=409)

    # Then
    depths = {n["assetId"]: n["depth"] for n in impact["items"]}
    assert depths == {char: 1, prop: 1, shot: 2}
    shot_node = next(n for n in impact["items"] if n["assetId"] == shot)
    assert sorted(shot_node["via"]) == sorted([char, prop])
    assert {n["assetId"]: n["depth"] for n in chain["items"]} == {char: 1, prop: 1, texture: 2}
    assert cycle.json()["error"]["details"]["cycle"][0] == texture
    assert cycle.json()["error"]["details"]["cycle"][-1] == texture

    # When: texture v2 becomes ready
    _publish(local_stack, studio, texture, b"tex2", "tex.png")

    # Then: the pinning prop is outdated, the following char is not
    assert studio.call("GET", f"/assets/{prop}").json()["outdatedDependencies"] == [
        {"assetId": texture, "pinnedVersion": 1, "latestVersion": 2}
    ]
    assert studio.call("GET", f"/assets/{char}").json()["outdatedDependencies"] == []


def test_activity_log_tells_the_story(studio, stack_env):
    asset_id = studio.asset("Logged")
    studio.call("PATCH", f"/assets/{asset_id}", {"description": "now with a description"})
    studio.call("DELETE", f"/assets/{asset_id}")
    studio.call("POST", f"/assets/{asset_id}/restore")

    entries = studio.call("GET", f"/activity?assetId={asset_id}").json()["items"]

    assert [e["action"] for e in entries] == [
        "asset:restored",
        "asset:archived",
        "asset:updated",
        "asset:created",
    ]
    assert all(e["actor"] == studio.user_id for e in entries)
