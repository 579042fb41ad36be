"""Review decisions: only DIRECTOR, PRODUCER and ADMIN decide; a decision moves the asset's status."""

from __future__ import annotations

from keyframe.catalog import assets, versions
from keyframe.catalog.schemas import FileInfo
from tests.integration.live.support import make_version
from tests.support.identity import add_member, register_studio


def test_an_artists_approval_is_refused_and_nothing_is_stored(api, live) -> None:
    # Given an artist watching a version pending review
    admin = register_studio(api)
    target = make_version(admin)
    artist = live.connect(add_member(api, admin, "ARTIST"))
    artist.send(action="subscribe", room=f"asset:{target.asset_id}")
    # When the artist tries to approve it over the socket
    reply = artist.send(
        action="review", assetId=target.asset_id, version=1, decision="APPROVED", correlationId="r1"
    )
    # Then they get FORBIDDEN
    assert reply["type"] == "error"
    assert reply["data"]["code"] == "FORBIDDEN" and reply["data"]["correlationId"] == "r1"
    # And nothing changed: no decision stored, no broadcast, statuses as before
    reviews = api.get(f"/assets/{target.asset_id}/versions/1/reviews", token=admin.access_token).json()
    assert reviews["items"] == []
    assert artist.received("asset:approved") == []
    assert versions.get_version(admin.studio_id, target.asset_id, 1).review_status == "PENDING"
    assert assets.get_asset(admin.studio_id, target.asset_id).status == "PENDING_REVIEW"


def test_a_directors_approval_is_stored_broadcast_and_approves_the_asset(api, live) -> None:
    # Given a director and an artist in the asset's room
    admin = register_studio(api)
    target = make_version(admin)
    director_session = add_member(api, admin, "DIRECTOR")
    director, artist = live.connect(director_session), live.connect(add_member(api, admin, "ARTIST"))
    for socket in (director, artist):
        socket.send(action="subscribe", room=f"asset:{target.asset_id}")
    # When the director approves over the socket
    reply = director.send(
        action="review", assetId=target.asset_id, version=1, decision="APPROVED", note="Lovely"
    )
    # Then the decision is acknowledged and stored
    assert reply["type"] == "ack"
    review = reply["data"]["review"]
    assert (review["decision"], review["note"], review["reviewerId"]) == (
        "APPROVED",
        "Lovely",
        director_session.user_id,
    )
    stored = api.get(f"/assets/{target.asset_id}/versions/1/reviews", token=admin.access_token).json()[
        "items"
    ]
    assert stored == [review]
    # And both members hear asset:approved in the asset room and in the studio room
    for socket in (director, artist):
        approved = socket.received("asset:approved")
        assert {e["room"] for e in approved} == {f"asset:{target.asset_id}", "studio"}
        assert approved[0]["data"]["reviewStatus"] == "APPROVED"
    # And the version's review status and the asset's status changed, with an activity entry
    assert versions.get_version(admin.studio_id, target.asset_id, 1).review_status == "APPROVED"
    assert assets.get_asset(admin.studio_id, target.asset_id).status == "APPROVED"
    from keyframe.catalog import activity

    entries = activity.list_activity(admin.studio_id, asset_id=target.asset_id).items
    assert any(e.action == "version:reviewed" and e.actor == director_session.user_id for e in entries)


def test_a_producer_requests_changes_over_rest(api, live) -> None:
    admin = register_studio(api)
    target = make_version(admin)
    producer = add_member(api, admin, "PRODUCER")
    watcher = live.connect(admin)
    url = f"/assets/{target.asset_id}/versions/1/review"
    response = api.post(
        url, json={"decision": "CHANGES_REQUESTED", "note": "Softer rim light"}, token=producer.access_token
    )
    assert response.status == 201
    assert response.json()["reviewerRole"] == "PRODUCER"
    assert watcher.received("asset:changes-requested")[0]["data"]["note"] == "Softer rim light"
    assert assets.get_asset(admin.studio_id, target.asset_id).status == "CHANGES_REQUESTED"
    # An artist is refused over REST too; a bad decision is a 400
    artist = add_member(api, admin, "ARTIST")
    assert api.post(url, json={"decision": "APPROVED"}, token=artist.access_token).status == 403
    assert api.post(url, json={"decision": "MAYBE"}, token=producer.access_token).status == 400
    # A version still processing cannot be decided on
    file = FileInfo(
        key=f"studios/{admin.studio_id}/y.mp4", size=10, content_type="video/mp4", file_name="y.mp4"
    )
    versions.publish_version(admin.studio_id, target.asset_id, created_by=admin.user_id, file=file)
    processing = api.post(
        f"/assets/{target.asset_id}/versions/2/review",
        json={"decision": "APPROVED"},
        token=producer.access_token,
    )
    assert processing.status == 409 and processing.json()["error"]["code"] == "VERSION_NOT_READY"
    # Another studio's version does not exist for them
    stranger = register_studio(api, studio_name="Other")
    assert api.post(url, json={"decision": "APPROVED"}, token=stranger.access_token).status == 404
