"""Thumbnails in listings: a grid of assets or versions needs one request per page."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import requests
from moto.dynamodb.responses import DynamoHandler

from keyframe.catalog import versions
from keyframe.catalog.thumbnails import THUMBNAIL_URL_SECONDS
from tests.integration.catalog.conftest import publish, put_file

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
JPEG = b"\xff\xd8\xff\xe0 a tiny jpeg \xff\xd9"


def _ready_with_thumbnail(admin, asset_id: str, *, thumbnail: bool = True) -> int:
    number = publish(admin, asset_id, ready=False, content=uuid.uuid4().bytes)
    derived = {}
    if thumbnail:
        key = f"studios/{admin.studio_id}/assets/{asset_id}/versions/{number}/derived/thumbnail.jpg"
        put_file(key, JPEG)
        derived["thumbnail"] = key
    versions.mark_version_ready(admin.studio_id, asset_id, number, media={}, derived=derived)
    return number


def _dynamodb_requests(monkeypatch) -> list[str]:
    """Every DynamoDB action moto answers from now on (whichever client sent it), by name."""
    calls: list[str] = []
    original = DynamoHandler.call_action

    def counting(self):
        calls.append(self._get_action())
        return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", counting)
    return calls


def _list_item(api, admin, query: str, asset_id: str) -> dict:
    response = api.get(query, token=admin.access_token)
    assert response.status == 200, response.body
    (item,) = [a for a in response.json()["items"] if a["id"] == asset_id]
    return item


def test_asset_and_version_lists_link_each_thumbnail(api, admin, make_asset) -> None:
    # Given two assets whose current versions have a thumbnail and one (audio) without
    with_thumbs = [make_asset(name=f"SH0{i}0") for i in (1, 2)]
    for asset in with_thumbs:
        _ready_with_thumbnail(admin, asset["id"])
    audio = make_asset(name="VO_010", type="AUDIO")
    _ready_with_thumbnail(admin, audio["id"], thumbnail=False)

    # When a grid lists the project's assets (one request)
    listed = api.get(f"/assets?projectId={audio['projectId']}", token=admin.access_token)
    assert listed.status == 200
    items = {a["id"]: a for a in listed.json()["items"]}

    # Then each item with a thumbnail carries a short-lived link that serves the JPEG
    for asset in with_thumbs:
        link = items[asset["id"]]["thumbnail"]
        query = parse_qs(urlsplit(link["url"]).query)
        assert int(query["X-Amz-Expires"][0]) == THUMBNAIL_URL_SECONDS
        assert query["response-content-type"] == ["image/jpeg"]
        assert link["expiresAt"].endswith("Z")
        image = requests.get(link["url"], timeout=10)
        assert image.status_code == 200 and image.content == JPEG
    # And the one without a thumbnail carries none
    assert items[audio["id"]].get("thumbnail") is None

    # And the version list links each version's own thumbnail
    asset_id = with_thumbs[0]["id"]
    _ready_with_thumbnail(admin, asset_id, thumbnail=False)  # v2: no thumbnail
    page = api.get(f"/assets/{asset_id}/versions", token=admin.access_token).json()["items"]
    assert [v.get("thumbnail") is not None for v in page] == [False, True]
    assert requests.get(page[1]["thumbnail"]["url"], timeout=10).content == JPEG


def test_the_asset_list_follows_the_current_version_without_extra_reads(
    api, admin, make_asset, monkeypatch
) -> None:
    # Given an asset whose v1 has a thumbnail, then v2 (current) has none
    asset = make_asset(name="SH090")
    _ready_with_thumbnail(admin, asset["id"])
    _ready_with_thumbnail(admin, asset["id"], thumbnail=False)
    query = f"/assets?projectId={asset['projectId']}"
    calls = _dynamodb_requests(monkeypatch)
    assert _list_item(api, admin, query, asset["id"]).get("thumbnail") is None
    reads_without_thumbnail = [name for name in calls if name in READS]
    assert "Query" in reads_without_thumbnail, calls  # the counter sees the list's own read

    # When the asset rolls back to v1
    rolled = api.patch(f"/assets/{asset['id']}/rollback", json={"version": 1}, token=admin.access_token)
    assert rolled.status == 200, rolled.body

    # Then the same list shows v1's thumbnail with the same DynamoDB reads as before
    calls.clear()
    item = _list_item(api, admin, query, asset["id"])
    assert item["thumbnail"]["url"].split("?")[0].endswith("/versions/1/derived/thumbnail.jpg")
    reads = [name for name in calls if name in READS]
    assert sorted(reads) == sorted(reads_without_thumbnail), (reads, reads_without_thumbnail)
