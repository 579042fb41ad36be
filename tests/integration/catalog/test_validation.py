"""Bad input answers 400 in the one error shape, naming the field (one shared studio: nothing here
writes, except the accepted frame rates, each under its own code)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.identity import Session, register_studio


@dataclass
class World:
    api: Any
    admin: Session
    project_id: str
    asset_id: str

    def post(self, path: str, body: Any) -> Any:
        return self.api.post(path, json=body, token=self.admin.access_token)


@pytest.fixture(scope="module")
def world(module_api) -> World:
    api = module_api
    admin = register_studio(api)
    project = api.post("/projects", json={"name": "P", "code": "P"}, token=admin.access_token).json()
    asset = api.post(
        "/assets", json={"projectId": project["id"], "name": "A", "type": "PROP"}, token=admin.access_token
    ).json()
    return World(api, admin, project["id"], asset["id"])


def _fields(response: Any) -> set[str]:
    error = response.json()["error"]
    return {d["field"] for d in error["details"]["fields"]}


@pytest.mark.parametrize("fps", [23.976, 29.97, 25, 59.94])
def test_common_frame_rates_are_accepted(world, fps):
    response = world.post("/projects", {"name": "N", "code": f"F{str(fps).replace('.', '')}", "fps": fps})

    assert response.status == 201
    assert response.json()["fps"] == fps


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "code": "A"}, "name"),
        ({"name": "x" * 201, "code": "A"}, "name"),
        ({"name": "Ok", "code": "no spaces"}, "code"),
        ({"name": "Ok", "code": "A", "fps": 23}, "fps"),
        ({"name": "Ok", "code": "A", "startFrame": -1}, "startFrame"),
        ({"name": "Ok"}, "code"),
        ({"name": "Ok", "code": "A", "studioId": "other"}, "studioId"),
    ],
)
def test_bad_project_input_is_400(world, body, field):
    response = world.post("/projects", body)

    assert response.status == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in _fields(response)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "type": "PROP"}, "name"),
        ({"name": "   ", "type": "PROP"}, "name"),
        ({"name": "x" * 201, "type": "PROP"}, "name"),
        ({"name": "tab\there", "type": "PROP"}, "name"),
        ({"name": "Ok", "type": "SPACESHIP"}, "type"),
        ({"name": "Ok", "type": "PROP", "tags": [""]}, "tags.0"),
    ],
)
def test_bad_asset_input_names_the_field(world, body, field):
    response = world.post("/assets", {"projectId": world.project_id, **body})

    assert response.status == 400
    assert field in _fields(response)


@pytest.mark.parametrize(
    "field",
    ["id", "status", "currentVersion", "latestVersion", "createdBy", "createdAt", "projectId", "archived"],
)
def test_patch_of_read_only_field_is_400_naming_it(world, field):
    response = world.api.patch(
        f"/assets/{world.asset_id}", json={"name": "x", field: 1}, token=world.admin.access_token
    )

    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "READ_ONLY_FIELD"
    assert [d["field"] for d in error["details"]["fields"]] == [field]
    assert field in error["message"]


def test_name_of_exactly_200_characters_is_accepted(world):
    response = world.post("/assets", {"projectId": world.project_id, "name": "x" * 200, "type": "OTHER"})

    assert response.status == 201
