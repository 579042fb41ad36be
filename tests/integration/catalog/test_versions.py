"""Versions: publishing (numbering, idempotency, concurrency), processing status, immutability,
rollback and download."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest

from keyframe.catalog import versions
from keyframe.catalog.models import VersionItem, asset_pk, version_sk
from keyframe.catalog.versions import FileInfo
from keyframe.errors import Conflict, NotFound
from tests.integration.catalog.conftest import publish, put_file
from tests.support.environment import MEDIA_BUCKET


def _file(n: int = 0) -> FileInfo:
    return FileInfo(
        key=f"studios/s/f{n}.mov", size=100 + n, content_type="video/quicktime", file_name=f"f{n}.mov"
    )


def test_publish_allocates_numbers_and_moves_latest_not_current(api, admin, make_asset):
    # Given
    asset = make_asset()

    # When
    first = versions.publish_version(
        admin.studio_id, asset["id"], created_by=admin.user_id, file=_file(1), change_note="blocking"
    )
    second = versions.publish_version(admin.studio_id, asset["id"], created_by=admin.user_id, file=_file(2))

    # Then
    assert (first.version, second.version) == (1, 2)
    assert first.status == "PROCESSING"
    assert first.review_status == "PENDING"
    body = api.get(f"/assets/{asset['id']}", token=admin.access_token).json()
    assert body["latestVersion"] == 2
    assert body["currentVersion"] is None
    listed = api.get(f"/assets/{asset['id']}/versions", token=admin.access_token).json()
    assert [v["version"] for v in listed["items"]] == [2, 1]
    one = api.get(f"/assets/{asset['id']}/versions/1", token=admin.access_token).json()
    assert one["changeNote"] == "blocking"
    assert one["file"] == {
        "key": "studios/s/f1.mov",
        "size": 101,
        "contentType": "video/quicktime",
        "fileName": "f1.mov",
        "sha256": None,
    }


def test_publish_is_idempotent_per_upload(admin, make_asset):
    asset = make_asset()

    first = versions.publish_version(
        admin.studio_id, asset["id"], created_by=admin.user_id, file=_file(), upload_id="u1"
    )
    again = versions.publish_version(
        admin.studio_id, asset["id"], created_by=admin.user_id, file=_file(), upload_id="u1"
    )
    other = versions.publish_version(
        admin.studio_id, asset["id"], created_by=admin.user_id, file=_file(), upload_id="u2"
    )

    assert again.version == first.version == 1
    assert other.version == 2


def test_publish_to_unknown_foreign_or_archived_asset_is_not_found(api, admin, other_admin, make_asset):
    asset = make_asset()
    api.delete(f"/assets/{asset['id']}", token=admin.access_token)

    for studio_id, asset_id in [
        (admin.studio_id, "nope"),
        (other_admin.studio_id, asset["id"]),
        (admin.studio_id, asset["id"]),
    ]:
        with pytest.raises(NotFound):
            versions.publish_version(studio_id, asset_id, created_by=admin.user_id, file=_file())


def test_twenty_concurrent_publishes_get_1_to_20(api, admin, make_asset, serialized_dynamodb):
    # Given
    asset = make_asset()

    # When: 20 uploads finish at once, two of them retried
    def publish_one(n: int) -> int:
        upload = f"upload-{n % 20}"
        return versions.publish_version(
            admin.studio_id, asset["id"], created_by=admin.user_id, file=_file(n % 20), upload_id=upload
        ).version

    with ThreadPoolExecutor(max_workers=20) as pool:
        numbers = list(pool.map(publish_one, range(22)))

    # Then: no gap, no duplicate, no lost version, and the retries got their first number back
    assert sorted(set(numbers)) == list(range(1, 21))
    assert numbers[20] == numbers[0] and numbers[21] == numbers[1]
    listed = api.get(f"/assets/{asset['id']}/versions?limit=100", token=admin.access_token).json()["items"]
    assert sorted(v["version"] for v in listed) == list(range(1, 21))
    assert sorted(v["file"]["key"] for v in listed) == sorted(_file(n).key for n in range(20))
    assert api.get(f"/assets/{asset['id']}", token=admin.access_token).json()["latestVersion"] == 20


def test_ready_version_becomes_current_with_media_and_derived(api, admin, make_asset):
    # Given
    asset = make_asset()
    number = publish(admin, asset["id"], ready=False)

    # When
    ready = versions.mark_version_ready(
        admin.studio_id,
        asset["id"],
        number,
        media={
            "duration": 2.5,
            "frameCount": 60,
            "fps": 23.976,
            "width": 1920,
            "height": 1080,
            "codecs": ["h264", "aac"],
            "startTimecode": "01:00:00:00",
        },
        derived={"thumbnail": "t.jpg", "proxy": "p.mp4", "waveform": "w.json"},
    )

    # Then
    assert ready.status == "READY"
    body = api.get(f"/assets/{asset['id']}/versions/{number}", token=admin.access_token).json()
    assert body["media"]["fps"] == 23.976
    assert body["media"]["frameCount"] == 60
    assert body["derived"] == {"thumbnail": "t.jpg", "proxy": "p.mp4", "waveform": "w.json"}
    current = api.get(f"/assets/{asset['id']}", token=admin.access_token).json()
    assert current["currentVersion"] == number
    assert current["status"] == "PENDING_REVIEW"


def test_late_older_version_does_not_replace_newer_current(api, admin, make_asset):
    # Given: v1 and v2 published, v2 finishes first
    asset = make_asset()
    publish(admin, asset["id"], ready=False)
    publish(admin, asset["id"], ready=False)
    versions.mark_version_ready(admin.studio_id, asset["id"], 2, media={}, derived={})

    # When
    versions.mark_version_ready(admin.studio_id, asset["id"], 1, media={}, derived={})

    # Then
    assert api.get(f"/assets/{asset['id']}", token=admin.access_token).json()["currentVersion"] == 2
    assert versions.get_version(admin.studio_id, asset["id"], 1).status == "READY"


def test_failed_version_is_kept_and_can_be_reprocessed(api, admin, make_asset):
    asset = make_asset()
    number = publish(admin, asset["id"], ready=False)

    failed = versions.mark_version_failed(
        admin.studio_id, asset["id"], number, error_code="PROBE_FAILED", message="not a video"
    )
    listed = api.get(f"/assets/{asset['id']}/versions", token=admin.access_token).json()["items"]
    again = versions.set_version_processing(admin.studio_id, asset["id"], number)

    assert failed.status == "FAILED"
    assert failed.error.code == "PROBE_FAILED"
    assert listed[0]["status"] == "FAILED"
    assert listed[0]["error"] == {"code": "PROBE_FAILED", "message": "not a video"}
    assert again.status == "PROCESSING"
    assert again.error is None
    with pytest.raises(Conflict):
        versions.mark_version_failed(
            admin.studio_id,
            asset["id"],
            publish(admin, asset["id"]),
            error_code="X",
            message="ready versions do not fail",
        )


def test_only_status_fields_of_a_version_can_change(admin, make_asset):
    # Given
    asset = make_asset()
    number = publish(admin, asset["id"])
    item = VersionItem.get(asset_pk(admin.studio_id, asset["id"]), version_sk(number))

    # When / Then: no path can edit, overwrite or delete a version
    with pytest.raises(RuntimeError, match="immutable"):
        item.update(actions=[VersionItem.change_note.set("rewritten history")])
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        item.save()
    with pytest.raises(RuntimeError, match="never deleted"):
        item.delete()
    item.update(actions=[VersionItem.review_status.set("APPROVED")])
    assert versions.get_version(admin.studio_id, asset["id"], number).change_note is None


def test_review_status_moves_the_asset_status(api, admin, make_asset):
    asset = make_asset()
    publish(admin, asset["id"])
    publish(admin, asset["id"])

    versions.set_review_status(
        admin.studio_id, asset["id"], 2, review_status="APPROVED", actor_id=admin.user_id
    )
    approved = api.get(f"/assets/{asset['id']}", token=admin.access_token).json()["status"]
    versions.set_review_status(
        admin.studio_id, asset["id"], 1, review_status="CHANGES_REQUESTED", actor_id=admin.user_id
    )
    after_old_review = api.get(f"/assets/{asset['id']}", token=admin.access_token).json()["status"]

    assert approved == "APPROVED"
    assert after_old_review == "APPROVED"
    assert versions.get_version(admin.studio_id, asset["id"], 1).review_status == "CHANGES_REQUESTED"


# --- rollback -----------------------------------------------------------------------------------


def test_rollback_back_and_forward(api, admin, make_asset):
    # Given
    asset = make_asset()
    for _ in range(3):
        publish(admin, asset["id"])
    versions.set_review_status(
        admin.studio_id, asset["id"], 1, review_status="APPROVED", actor_id=admin.user_id
    )

    # When
    back = api.patch(f"/assets/{asset['id']}/rollback", json={"version": 1}, token=admin.access_token)
    forward = api.patch(f"/assets/{asset['id']}/rollback", json={"version": 3}, token=admin.access_token)

    # Then
    assert back.status == 200
    assert back.json()["currentVersion"] == 1
    assert back.json()["status"] == "APPROVED"
    assert back.json()["latestVersion"] == 3
    assert forward.json()["currentVersion"] == 3
    assert forward.json()["status"] == "PENDING_REVIEW"
    log = api.get(f"/activity?assetId={asset['id']}", token=admin.access_token).json()["items"]
    rollbacks = [e["details"] for e in log if e["action"] == "asset:rollback"]
    assert rollbacks == [
        {"from": 1, "to": 3, "direction": "forward"},
        {"from": 3, "to": 1, "direction": "back"},
    ]


def test_rollback_errors(api, admin, make_asset):
    # Given
    empty = make_asset("Empty")
    asset = make_asset()
    publish(admin, asset["id"])
    publish(admin, asset["id"], ready=False)
    failed = publish(admin, asset["id"], ready=False)
    versions.mark_version_failed(admin.studio_id, asset["id"], failed, error_code="X", message="x")

    # When
    no_versions = api.patch(f"/assets/{empty['id']}/rollback", json={"version": 1}, token=admin.access_token)
    missing = api.patch(f"/assets/{asset['id']}/rollback", json={"version": 9}, token=admin.access_token)
    processing = api.patch(f"/assets/{asset['id']}/rollback", json={"version": 2}, token=admin.access_token)
    failing = api.patch(f"/assets/{asset['id']}/rollback", json={"version": 3}, token=admin.access_token)
    zero = api.patch(f"/assets/{asset['id']}/rollback", json={"version": 0}, token=admin.access_token)

    # Then
    assert (no_versions.status, no_versions.json()["error"]["code"]) == (409, "NO_VERSIONS")
    assert (missing.status, missing.json()["error"]["code"]) == (404, "VERSION_NOT_FOUND")
    assert (processing.status, processing.json()["error"]["code"]) == (409, "VERSION_NOT_READY")
    assert (failing.status, failing.json()["error"]["code"]) == (409, "VERSION_NOT_READY")
    assert zero.status == 400


# --- download -----------------------------------------------------------------------------------


def test_download_gives_a_short_lived_presigned_url_for_the_right_object(api, admin, make_asset):
    # Given
    asset = make_asset()
    content = bytes(range(256)) * 40
    number = publish(admin, asset["id"], content=content, name="Héros finál v2.mov")

    # When
    response = api.get(f"/assets/{asset['id']}/versions/{number}/download", token=admin.access_token)

    # Then
    assert response.status == 200
    body = response.json()
    assert body["fileName"] == "Héros finál v2.mov"
    assert body["size"] == len(content)
    query = parse_qs(urlsplit(body["url"]).query)
    assert int(query["X-Amz-Expires"][0]) <= 900
    disposition = query["response-content-disposition"][0]
    assert disposition.startswith('attachment; filename="H_ros fin_l v2.mov"')
    assert "filename*=UTF-8''H%C3%A9ros%20fin%C3%A1l%20v2.mov" in disposition
    key = unquote(urlsplit(body["url"]).path.lstrip("/"))
    ranged = boto3.client("s3").get_object(Bucket=MEDIA_BUCKET, Key=key, Range="bytes=100-199")
    assert ranged["ContentRange"] == f"bytes 100-199/{len(content)}"
    assert ranged["Body"].read() == content[100:200]


def test_download_of_unknown_version_is_404(api, admin, make_asset):
    asset = make_asset()

    response = api.get(f"/assets/{asset['id']}/versions/1/download", token=admin.access_token)

    assert response.status == 404
    assert response.json()["error"]["code"] == "VERSION_NOT_FOUND"


# --- derived files ------------------------------------------------------------------------------


def test_derived_files_download_through_presigned_urls(api, admin, make_asset):
    # Given a ready version with a thumbnail and a proxy in the media bucket
    asset = make_asset()
    number = publish(admin, asset["id"], content=b"original", ready=False)
    thumb_key = f"studios/{admin.studio_id}/assets/{asset['id']}/derived/v{number}/thumbnail.jpg"
    proxy_key = f"studios/{admin.studio_id}/assets/{asset['id']}/derived/v{number}/proxy.mp4"
    put_file(thumb_key, b"\xff\xd8jpeg-bytes")
    put_file(proxy_key, bytes(range(256)) * 4)
    versions.mark_version_ready(
        admin.studio_id, asset["id"], number, media={}, derived={"thumbnail": thumb_key, "proxy": proxy_key}
    )

    # When
    thumb = api.get(f"/assets/{asset['id']}/versions/{number}/derived/thumbnail", token=admin.access_token)
    proxy = api.get(f"/assets/{asset['id']}/versions/{number}/derived/proxy", token=admin.access_token)

    # Then images are inline, the proxy an attachment, both short-lived and for the right object
    assert thumb.status == 200 and proxy.status == 200
    body = thumb.json()
    assert body["fileName"] == f"{asset['id']}-v{number}-thumbnail.jpg"
    assert body["contentType"] == "image/jpeg"
    query = parse_qs(urlsplit(body["url"]).query)
    assert int(query["X-Amz-Expires"][0]) <= 900
    assert query["response-content-disposition"][0].startswith("inline; ")
    assert unquote(urlsplit(body["url"]).path.lstrip("/")) == thumb_key
    proxied = proxy.json()
    assert proxied["contentType"] == "video/mp4"
    proxy_query = parse_qs(urlsplit(proxied["url"]).query)
    assert proxy_query["response-content-disposition"][0].startswith("attachment; ")
    key = unquote(urlsplit(proxied["url"]).path.lstrip("/"))
    assert key == proxy_key
    ranged = boto3.client("s3").get_object(Bucket=MEDIA_BUCKET, Key=key, Range="bytes=10-19")
    assert ranged["Body"].read() == (bytes(range(256)) * 4)[10:20]


def test_derived_file_the_version_does_not_have_is_404(api, admin, make_asset):
    # Given a ready version with only a waveform, and one still processing
    asset = make_asset()
    number = publish(admin, asset["id"], content=b"sound", ready=False)
    versions.mark_version_ready(admin.studio_id, asset["id"], number, media={}, derived={"waveform": "k.png"})
    processing = publish(admin, asset["id"], content=b"sound 2", ready=False)

    # When
    thumb = api.get(f"/assets/{asset['id']}/versions/{number}/derived/thumbnail", token=admin.access_token)
    early = api.get(f"/assets/{asset['id']}/versions/{processing}/derived/waveform", token=admin.access_token)
    unknown_name = api.get(
        f"/assets/{asset['id']}/versions/{number}/derived/poster", token=admin.access_token
    )
    unknown_version = api.get(f"/assets/{asset['id']}/versions/9/derived/waveform", token=admin.access_token)

    # Then
    assert (thumb.status, thumb.json()["error"]["code"]) == (404, "DERIVED_NOT_FOUND")
    assert (early.status, early.json()["error"]["code"]) == (404, "DERIVED_NOT_FOUND")
    assert unknown_name.status == 400
    assert (unknown_version.status, unknown_version.json()["error"]["code"]) == (404, "VERSION_NOT_FOUND")


def test_derived_file_of_another_studio_is_404(api, admin, other_admin, make_asset):
    # Given a ready version with a thumbnail in the admin's studio
    asset = make_asset()
    number = publish(admin, asset["id"], content=b"original", ready=False)
    versions.mark_version_ready(
        admin.studio_id, asset["id"], number, media={}, derived={"thumbnail": "t.jpg"}
    )

    # When another studio asks for it
    response = api.get(
        f"/assets/{asset['id']}/versions/{number}/derived/thumbnail", token=other_admin.access_token
    )

    # Then
    assert response.status == 404
    assert "url" not in response.json()
