"""A new READY version notifies the members who favourited its asset, not its publisher."""

from __future__ import annotations

from keyframe.catalog import versions
from keyframe.catalog.schemas import FileInfo
from keyframe.events import deliverers
from keyframe.favorites import notices
from tests.integration.live.support import make_version
from tests.support.identity import add_member, register_studio


def test_members_who_favourited_an_asset_hear_of_its_new_version(api, live, monkeypatch) -> None:
    # Given an asset with version 1, favourited by the artist and by the admin who publishes v2
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    director = add_member(api, admin, "DIRECTOR")
    target = make_version(admin)
    for session in (artist, admin):
        answer = api.put(f"/me/favorites/{target.asset_id}", token=session.access_token)
        assert answer.status in (200, 201), answer.body
    tab = live.connect(artist)
    monkeypatch.setattr(deliverers, "_deliverers", list(deliverers._deliverers))  # undone after the test
    notices.install()  # as the pipeline-finalize handler does
    # When the admin's version 2 becomes READY
    file = FileInfo(
        key=f"studios/{admin.studio_id}/y.mp4", size=10, content_type="video/mp4", file_name="y.mp4"
    )
    published = versions.publish_version(
        admin.studio_id, target.asset_id, created_by=admin.user_id, file=file
    )
    versions.mark_version_ready(admin.studio_id, target.asset_id, published.version, media={}, derived={})
    # Then the artist is notified once (inbox and socket); the admin (the publisher) and the director not
    [note] = api.get("/me/notifications", token=artist.access_token).json()["items"]
    assert note["type"] == "new-version" and note["title"] == "Hero has a new version: v2"
    assert note["actorId"] == admin.user_id and note["target"]["version"] == 2
    assert [e["data"]["type"] for e in tab.received("notification:created")] == ["new-version"]
    for other in (admin, director):
        assert api.get("/me/notifications", token=other.access_token).json()["items"] == []
