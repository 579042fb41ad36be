"""Profile pictures: a presigned POST straight to S3, checked by its bytes and shrunk by the server,
shown to the studio as a link; replaced and removed pictures leave nothing behind."""

from __future__ import annotations

import base64
import io
import json

import boto3
import requests
from PIL import Image

from keyframe.identity import avatars
from tests.integration.live.support import make_version
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import add_member, register_studio


def _image(kind: str = "PNG", size: tuple[int, int] = (600, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def _upload(api, session, data: bytes, content_type: str = "image/png") -> str:
    """Start an upload, POST ``data`` to S3 as a browser would; returns the uploadId."""
    started = api.post("/me/avatar/uploads", token=session.access_token)
    assert started.status == 201, started.body
    form = started.json()
    assert form["maxBytes"] == avatars.MAX_AVATAR_BYTES
    posted = requests.post(
        form["url"], data=form["fields"], files={"file": ("me.png", data, content_type)}, timeout=10
    )
    assert posted.status_code in (200, 204), posted.text
    return form["uploadId"]


def _keys(prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def _picture(url: str) -> Image.Image:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    return Image.open(io.BytesIO(answer.content))


def test_a_member_sets_a_picture_that_the_studio_sees_as_a_small_square(api):
    # Given Ada and Bo in one studio, and Ada's photo uploaded straight to S3
    ada = register_studio(api, display_name="Ada")
    bo = add_member(api, ada, "ARTIST")
    upload_id = _upload(api, ada, _image("JPEG", (1200, 800)), content_type="application/octet-stream")
    # When she makes it her picture
    answer = api.put("/me/avatar", json={"uploadId": upload_id}, token=ada.access_token)
    # Then her account has a link to a 256x256 WebP picture
    assert answer.status == 200, answer.body
    picture = _picture(answer.json()["avatarUrl"])
    assert (picture.format, picture.size) == ("WEBP", (avatars.THUMBNAIL_SIZE, avatars.THUMBNAIL_SIZE))
    # And GET /me and the member list Bo reads show it; Bo, with none, has no link
    assert _picture(api.get("/me", token=ada.access_token).json()["user"]["avatarUrl"]).format == "WEBP"
    members = {m["userId"]: m for m in api.get("/studio/members", token=bo.access_token).json()["items"]}
    assert members[ada.user_id]["avatarUrl"] and members[bo.user_id].get("avatarUrl") is None
    # And the uploaded file is gone; one picture is stored
    assert _keys(f"{avatars.UPLOADS_PREFIX}{ada.user_id}/") == []
    assert len(_keys(f"{avatars.PICTURES_PREFIX}{ada.user_id}/")) == 1
    # And the same upload cannot be used twice
    again = api.put("/me/avatar", json={"uploadId": upload_id}, token=ada.access_token)
    assert again.status == 404 and again.json()["error"]["code"] == "AVATAR_UPLOAD_NOT_FOUND"


def test_a_new_picture_replaces_the_old_one_and_removing_it_leaves_nothing(api):
    # Given Ada with a picture
    ada = register_studio(api)
    first = api.put("/me/avatar", json={"uploadId": _upload(api, ada, _image())}, token=ada.access_token)
    assert first.status == 200
    [old] = _keys(f"{avatars.PICTURES_PREFIX}{ada.user_id}/")
    # When she sets another (a WebP this time)
    second = api.put(
        "/me/avatar", json={"uploadId": _upload(api, ada, _image("WEBP", (300, 900)))}, token=ada.access_token
    )
    # Then only the new picture is stored
    assert second.status == 200, second.body
    [new] = _keys(f"{avatars.PICTURES_PREFIX}{ada.user_id}/")
    assert new != old
    # When she removes it (twice: the second changes nothing)
    assert api.delete("/me/avatar", token=ada.access_token).status == 204
    assert api.delete("/me/avatar", token=ada.access_token).status == 204
    # Then her profile has no link and no object of hers is left
    assert api.get("/me", token=ada.access_token).json()["user"].get("avatarUrl") is None
    assert _keys(f"avatars/users/{ada.user_id}/") == [] and _keys(f"avatars/uploads/{ada.user_id}/") == []


def test_what_is_not_an_image_is_refused_by_its_bytes_and_deleted(api):
    # Given Ada with a picture, and files that claim to be images
    ada = register_studio(api)
    assert (
        api.put("/me/avatar", json={"uploadId": _upload(api, ada, _image())}, token=ada.access_token).status
        == 200
    )
    before = api.get("/me", token=ada.access_token).json()["user"]["avatarUrl"]
    truncated = _image()[:200]
    gif = b"GIF89a" + b"\x00" * 100
    for data in (b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"just text", truncated, gif):
        upload_id = _upload(api, ada, data, content_type="image/png")
        # When each is offered / Then 400 AVATAR_NOT_AN_IMAGE in the error shape, naming uploadId
        answer = api.put("/me/avatar", json={"uploadId": upload_id}, token=ada.access_token)
        assert answer.status == 400, (data[:10], answer.body)
        error = answer.json()["error"]
        assert error["code"] == "AVATAR_NOT_AN_IMAGE" and error["correlationId"]
        assert error["details"]["fields"][0]["field"] == "uploadId"
    # And every refused file is deleted; the picture she had is kept
    assert _keys(f"{avatars.UPLOADS_PREFIX}{ada.user_id}/") == []
    assert len(_keys(f"{avatars.PICTURES_PREFIX}{ada.user_id}/")) == 1
    assert (
        api.get("/me", token=ada.access_token).json()["user"]["avatarUrl"].split("?")[0]
        == before.split("?")[0]
    )


def test_a_file_over_the_limit_is_refused_with_413_and_deleted(api):
    # Given a file over 5 MiB where Ada's upload goes (S3's policy refuses it in the cloud; the
    # server checks again)
    ada = register_studio(api)
    started = api.post("/me/avatar/uploads", token=ada.access_token).json()
    key = avatars.upload_key(ada.user_id, started["uploadId"])
    big = _image() + b"\x00" * avatars.MAX_AVATAR_BYTES
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=big)
    # When she offers it / Then 413 AVATAR_TOO_LARGE and the file is gone
    answer = api.put("/me/avatar", json={"uploadId": started["uploadId"]}, token=ada.access_token)
    assert answer.status == 413 and answer.json()["error"]["code"] == "AVATAR_TOO_LARGE"
    assert _keys(f"{avatars.UPLOADS_PREFIX}{ada.user_id}/") == []
    # And the presigned POST's policy itself limits the size
    assert ["content-length-range", 1, avatars.MAX_AVATAR_BYTES] in _policy_conditions(started["fields"])


def _policy_conditions(fields: dict) -> list:
    return json.loads(base64.b64decode(fields["policy"]))["conditions"]


def test_an_upload_belongs_to_its_uploader_and_ids_are_checked(api):
    # Given Ada's uploaded file and Bo, another member
    ada = register_studio(api)
    bo = add_member(api, ada, "ADMIN")
    upload_id = _upload(api, ada, _image())
    # When Bo names Ada's upload / Then 404: uploads are per person
    answer = api.put("/me/avatar", json={"uploadId": upload_id}, token=bo.access_token)
    assert answer.status == 404 and answer.json()["error"]["code"] == "AVATAR_UPLOAD_NOT_FOUND"
    # And malformed bodies are 400
    for body in ({}, {"uploadId": "../../etc"}, {"uploadId": ""}, {"uploadId": upload_id, "extra": 1}):
        assert api.put("/me/avatar", json=body, token=ada.access_token).status == 400, body
    # And nobody unsigned starts an upload
    assert api.post("/me/avatar/uploads").status == 401


def test_comments_and_the_inbox_show_each_person_s_current_picture(api):
    # Given Ada with a picture and Bo without one, both commenting on a version
    ada = register_studio(api, display_name="Ada")
    bo = add_member(api, ada, "ARTIST")
    assert (
        api.put("/me/avatar", json={"uploadId": _upload(api, ada, _image())}, token=ada.access_token).status
        == 200
    )
    target = make_version(ada)
    url = f"/assets/{target.asset_id}/versions/{target.version}/comments"
    posted = {}
    for session, text in ((ada, "Too dark"), (bo, "Agreed")):
        answer = api.post(url, json={"body": text}, token=session.access_token)
        assert answer.status == 201
        posted[text] = answer.json()["commentId"]
    reply = {"body": "Fixed in v2", "parentId": posted["Agreed"]}
    assert api.post(url, json=reply, token=ada.access_token).status == 201
    # When Bo reads the page
    items = api.get(url, token=bo.access_token).json()["items"]
    # Then Ada's comments link her picture and Bo's have none
    by_author = {c["authorId"]: c.get("authorAvatarUrl") for c in items}
    assert _picture(by_author[ada.user_id]).size == (avatars.THUMBNAIL_SIZE, avatars.THUMBNAIL_SIZE)
    assert by_author[bo.user_id] is None and len(items) == 3
    # And Bo's inbox shows the reply with Ada's picture
    [note] = api.get("/me/notifications", token=bo.access_token).json()["items"]
    assert note["actorId"] == ada.user_id and _picture(note["actorAvatarUrl"]).format == "WEBP"
