"""Keys, sort orders and the immutability of versions (built requests only; no network)."""

from __future__ import annotations

import pytest

from keyframe.catalog.downloads import content_disposition
from keyframe.catalog.listing import index_attributes
from keyframe.catalog.models import (
    NAME_SEPARATOR,
    VERSION_MUTABLE_ATTRIBUTES,
    ImmutableVersionError,
    VersionItem,
    asset_pk,
    version_sk,
)


def _version() -> VersionItem:
    return VersionItem(
        asset_pk("s", "a"),
        version_sk(1),
        asset_id="a",
        studio_id="s",
        project_id="p",
        version=1,
        created_by="u",
        created_at="t",
        file={"key": "k"},
        status="PROCESSING",
    )


def test_version_keys_sort_numerically():
    assert sorted([version_sk(10), version_sk(9), version_sk(100)]) == [
        version_sk(9),
        version_sk(10),
        version_sk(100),
    ]


def test_name_keys_sort_a_name_before_its_extensions():
    keys = (
        index_attributes("s", "p", "id1", created_at="t", updated_at="t", name_key="hero rig"),
        index_attributes("s", "p", "id2", created_at="t", updated_at="t", name_key="hero"),
    )

    assert sorted(k["gsi3sk"] for k in keys) == [f"hero{NAME_SEPARATOR}id2", f"hero rig{NAME_SEPARATOR}id1"]


def test_listing_keys_cover_studio_and_project_in_three_orders():
    keys = index_attributes(
        "s",
        "p",
        "a",
        created_at="2026-01-01T00:00:00.000000Z",
        updated_at="2026-01-02T00:00:00.000000Z",
        name_key="hero",
    )

    assert {keys[f"gsi{n}pk"] for n in (1, 2, 3)} == {"STUDIO#s#ASSETS"}
    assert {keys[f"gsi{n}pk"] for n in (4, 5, 6)} == {"STUDIO#s#PROJECT#p#ASSETS"}
    assert keys["gsi1sk"] == keys["gsi4sk"] == "2026-01-01T00:00:00.000000Z#a"
    assert keys["gsi2sk"] == keys["gsi5sk"] == "2026-01-02T00:00:00.000000Z#a"


def test_version_put_is_create_only():
    kwargs = _version().get_save_kwargs_from_instance()

    assert "attribute_not_exists" in kwargs["ConditionExpression"]


@pytest.mark.parametrize("field", ["change_note", "file", "created_by", "version", "created_at", "upload_id"])
def test_version_fields_other_than_status_cannot_be_updated(field):
    item = _version()

    with pytest.raises(ImmutableVersionError):
        item.get_update_kwargs_from_instance(actions=[getattr(VersionItem, field).set("x")])


def test_status_and_review_fields_can_be_updated():
    kwargs = _version().get_update_kwargs_from_instance(
        actions=[VersionItem.status.set("READY"), VersionItem.review_status.set("APPROVED")]
    )

    assert "UpdateExpression" in kwargs
    assert {"status", "reviewStatus"} <= VERSION_MUTABLE_ATTRIBUTES


def test_versions_are_never_deleted_or_batch_written():
    with pytest.raises(ImmutableVersionError):
        _version().delete()
    with pytest.raises(ImmutableVersionError):
        _version().get_delete_kwargs_from_instance()
    with pytest.raises(ImmutableVersionError):
        VersionItem.batch_write()


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("hero.mov", "hero.mov", "hero.mov"),
        ("Héros v2.mov", "H_ros v2.mov", "H%C3%A9ros%20v2.mov"),
        ('a"b;c\\d.mov', "a_b_c_d.mov", "a%22b%3Bc%5Cd.mov"),
        ("日本.mp4", "__.mp4", "%E6%97%A5%E6%9C%AC.mp4"),
    ],
)
def test_download_disposition_is_rfc6266_safe(name, fallback, encoded):
    assert content_disposition(name) == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
