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


def _records(session, target) -> list:
    """The decision records as stored (live table), pending ones included."""
    from keyframe.reviews.models import REVIEW_PREFIX, ReviewItem, version_pk

    key = version_pk(session.studio_id, target.asset_id, target.version)
    return list(ReviewItem.query(key, ReviewItem.sk.startswith(REVIEW_PREFIX), consistent_read=True))


def _reviewed_entries(session, target) -> list:
    from keyframe.catalog import activity

    entries = activity.list_activity(session.studio_id, asset_id=target.asset_id).items
    return [e for e in entries if e.action == "version:reviewed"]


def test_a_decision_whose_status_write_fails_leaves_no_approval_and_a_retry_completes_it(
    api, live, monkeypatch
) -> None:
    # Given a director, and a catalog whose status write fails once (after the record is written)
    from keyframe.reviews import service

    admin = register_studio(api)
    target = make_version(admin)
    director = add_member(api, admin, "DIRECTOR")
    watcher = live.connect(admin)
    url = f"/assets/{target.asset_id}/versions/1/review"
    reviews_url = f"/assets/{target.asset_id}/versions/1/reviews"

    def broken(*args, **kwargs):
        raise RuntimeError("DynamoDB went away")

    with monkeypatch.context() as patch:
        patch.setattr(service.versions, "set_review_status", broken)
        # When the director approves
        failed = api.post(url, json={"decision": "APPROVED", "note": "Ship it"}, token=director.access_token)
    # Then the request fails, and nothing looks approved: no status, no listed decision, no event
    assert failed.status == 500
    assert versions.get_version(admin.studio_id, target.asset_id, 1).review_status == "PENDING"
    assert assets.get_asset(admin.studio_id, target.asset_id).status == "PENDING_REVIEW"
    assert api.get(reviews_url, token=admin.access_token).json()["items"] == []
    assert watcher.received("asset:approved") == []
    # But the decision is recorded, pending
    [pending] = _records(admin, target)
    assert (pending.decision, pending.note, pending.pending) == ("APPROVED", "Ship it", True)
    # When the same request is sent again with the catalog back
    retried = api.post(url, json={"decision": "APPROVED", "note": "Ship it"}, token=director.access_token)
    # Then it completes the same record: one decision, applied, listed and broadcast once
    assert retried.status == 201
    assert retried.json()["reviewId"] == pending.review_id
    [record] = _records(admin, target)
    assert record.pending is None
    assert api.get(reviews_url, token=admin.access_token).json()["items"] == [retried.json()]
    assert versions.get_version(admin.studio_id, target.asset_id, 1).review_status == "APPROVED"
    assert assets.get_asset(admin.studio_id, target.asset_id).status == "APPROVED"
    assert len(_reviewed_entries(admin, target)) == 1
    assert [e["data"]["reviewId"] for e in watcher.received("asset:approved")] == [pending.review_id]


def test_a_decision_applied_but_not_settled_is_listed_and_a_retry_settles_it(api, live, monkeypatch) -> None:
    # Given a failure after the catalog applied the decision (clearing "pending" fails)
    from keyframe.reviews import service

    admin = register_studio(api)
    target = make_version(admin)
    producer = add_member(api, admin, "PRODUCER")
    url = f"/assets/{target.asset_id}/versions/1/review"
    body = {"decision": "CHANGES_REQUESTED", "note": "Softer"}

    def broken(item):
        raise RuntimeError("timeout")

    with monkeypatch.context() as patch:
        patch.setattr(service, "_settle", broken)
        # When the producer requests changes
        assert api.post(url, json=body, token=producer.access_token).status == 500
    # Then the status changed and the decision that caused it is listed
    assert versions.get_version(admin.studio_id, target.asset_id, 1).review_status == "CHANGES_REQUESTED"
    listed = api.get(f"{url}s", token=admin.access_token).json()["items"]
    assert [(r["decision"], r["reviewerId"]) for r in listed] == [("CHANGES_REQUESTED", producer.user_id)]
    # When the request is sent again, it settles the same record; no second decision appears
    retried = api.post(url, json=body, token=producer.access_token)
    assert retried.status == 201 and retried.json()["reviewId"] == listed[0]["reviewId"]
    assert [r.pending for r in _records(admin, target)] == [None]
    assert api.get(f"{url}s", token=admin.access_token).json()["items"] == [retried.json()]


def test_a_decision_the_catalog_refuses_leaves_no_record(api, live, monkeypatch) -> None:
    # Given a catalog that refuses the status change (a domain error)
    from keyframe.errors import Conflict
    from keyframe.reviews import service

    admin = register_studio(api)
    target = make_version(admin)

    def refuse(*args, **kwargs):
        raise Conflict("The version changed meanwhile", code="VERSION_CHANGED")

    monkeypatch.setattr(service.versions, "set_review_status", refuse)
    # When an admin approves
    response = api.post(
        f"/assets/{target.asset_id}/versions/1/review",
        json={"decision": "APPROVED"},
        token=admin.access_token,
    )
    # Then the refusal is answered and no decision record stays behind
    assert response.status == 409
    assert _records(admin, target) == []


def test_a_different_decision_after_a_failure_is_a_new_record_and_the_failed_one_stays_hidden(
    api, live, monkeypatch
) -> None:
    from keyframe.reviews import service

    admin = register_studio(api)
    target = make_version(admin)
    url = f"/assets/{target.asset_id}/versions/1/review"
    with monkeypatch.context() as patch:
        patch.setattr(service.versions, "set_review_status", lambda *a, **k: 1 / 0)
        assert api.post(url, json={"decision": "APPROVED"}, token=admin.access_token).status == 500
    changed = api.post(url, json={"decision": "CHANGES_REQUESTED"}, token=admin.access_token)
    assert changed.status == 201
    assert len(_records(admin, target)) == 2
    assert api.get(f"{url}s", token=admin.access_token).json()["items"] == [changed.json()]
    assert versions.get_version(admin.studio_id, target.asset_id, 1).review_status == "CHANGES_REQUESTED"
