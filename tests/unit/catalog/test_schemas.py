"""Request rules of the catalog: names, codes, frame rates, tags, read-only fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keyframe.catalog.schemas import AssetCreate, AssetUpdate, ProjectCreate, ProjectUpdate
from keyframe.errors import InvalidInput


def test_project_defaults_follow_studio_practice():
    project = ProjectCreate(name=" Forest ", code="ft_01")

    assert (project.name, project.code, project.fps, project.start_frame) == ("Forest", "FT_01", 24, 1001)


@pytest.mark.parametrize(("given", "stored"), [(23.976, 23.976), (23.9761, 23.976), (29.97, 29.97), (60, 60)])
def test_common_frame_rates(given, stored):
    assert ProjectCreate(name="a", code="a", fps=given).fps == stored


@pytest.mark.parametrize("fps", [0, 23, 23.98, 1000])
def test_uncommon_frame_rates_are_refused(fps):
    with pytest.raises(ValidationError):
        ProjectCreate(name="a", code="a", fps=fps)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "line\nbreak", "nul\x00"])
def test_bad_names(name):
    with pytest.raises(ValidationError):
        AssetCreate(project_id="p", name=name, type="PROP")


def test_longest_name_and_tags_are_normalised():
    asset = AssetCreate(project_id="p", name="x" * 200, type="PROP", tags=["Hero", "hero ", "BG"])

    assert len(asset.name) == 200
    assert asset.tags == ["hero", "bg"]


@pytest.mark.parametrize(
    "field", ["id", "status", "currentVersion", "latest_version", "createdAt", "projectId"]
)
def test_asset_read_only_fields_are_named(field):
    with pytest.raises(InvalidInput) as caught:
        AssetUpdate.model_validate({"name": "n", field: 1})

    assert caught.value.code == "READ_ONLY_FIELD"
    assert [d["field"] for d in caught.value.details["fields"]] == [field]


def test_project_read_only_fields_are_named():
    with pytest.raises(InvalidInput) as caught:
        ProjectUpdate.model_validate({"createdBy": "u", "id": "p"})

    assert [d["field"] for d in caught.value.details["fields"]] == ["createdBy", "id"]


@pytest.mark.parametrize("field", ["name", "type", "tags"])
def test_required_asset_fields_cannot_be_nulled(field):
    with pytest.raises(ValidationError):
        AssetUpdate.model_validate({field: None})


def test_description_can_be_cleared():
    assert AssetUpdate.model_validate({"description": None}).model_dump(exclude_unset=True) == {
        "description": None
    }


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        AssetCreate.model_validate({"projectId": "p", "name": "n", "type": "PROP", "colour": "red"})
