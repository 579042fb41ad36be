"""Review decisions: only DIRECTOR, PRODUCER and ADMIN decide; a decision moves the asset's status."""

from __future__ import annotations

from keyframe.catalog import assets, version_review, versions
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
    [entry] = [e for e in entries if e.action == "version:reviewed"]
    assert entry.actor == director_session.user_id
    assert entry.details == {"version": 1, "reviewStatus": "APPROVED", "note": "Lovely"}


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
    """The decision records as stored (live table)."""
    from keyframe.reviews.models import REVIEW_PREFIX, ReviewItem, version_pk

    key = version_pk(session.studio_id, target.asset_id, target.version)
    return list(ReviewItem.query(key, ReviewItem.sk.startswith(REVIEW_PREFIX), consistent_read=True))


def _reviewed_entries(session, target) -> list:
    from keyframe.catalog import activity

    entries = activity.list_activity(session.studio_id, asset_id=target.asset_id).items
    return [e for e in entries if e.action == "version:reviewed"]


def _labels(tx) -> set[str]:
    """The labels of the operations a catalog transaction holds."""
    return {label for group in (tx._checks, tx._deletes, tx._puts, tx._updates) for label, _ in group}


def _assert_nothing_stored(api, session, target, watcher, *, review_status="PENDING", count=0) -> None:
    """No new decision record, statuses as before, no new activity entry, no decision event."""
    assert len(_records(session, target)) == count
    reviews = api.get(f"/assets/{target.asset_id}/versions/1/reviews", token=session.access_token).json()
    assert len(reviews["items"]) == count
    assert versions.get_version(session.studio_id, target.asset_id, 1).review_status == review_status
    asset_status = "PENDING_REVIEW" if review_status == "PENDING" else review_status
    assert assets.get_asset(session.studio_id, target.asset_id).status == asset_status
    assert len(_reviewed_entries(session, target)) == count
    assert watcher.received("asset:approved") == []
    assert len(watcher.received("asset:updated")) == count


def test_a_decision_whose_transaction_fails_stores_nothing_and_a_retry_stores_it_once(
    api, live, monkeypatch
) -> None:
    # Given a director, and DynamoDB failing the decision's transaction once it is built
    from keyframe.storage.transactions import Transaction

    admin = register_studio(api)
    target = make_version(admin)
    director = add_member(api, admin, "DIRECTOR")
    watcher = live.connect(admin)
    url = f"/assets/{target.asset_id}/versions/1/review"
    body = {"decision": "APPROVED", "note": "Ship it"}
    commit = Transaction.commit
    failed_transactions: list[set[str]] = []

    def broken(tx):
        if "review" not in _labels(tx):
            return commit(tx)
        failed_transactions.append(_labels(tx))
        raise RuntimeError("DynamoDB went away")

    with monkeypatch.context() as patch:
        patch.setattr(Transaction, "commit", broken)
        # When the director approves
        failed = api.post(url, json=body, token=director.access_token)
    # Then the request fails; the record, the statuses, the activity entry and the durable events
    # (keyframe.outbox: the decision's and the asset's asset:updated) were one transaction
    assert failed.status == 500
    [labels] = failed_transactions
    events = {label for label in labels if label.startswith("event:evt_")}
    assert len(events) == 2 and labels - events == {"review", "version", "asset", "activity"}
    # And nothing is stored or announced
    _assert_nothing_stored(api, admin, target, watcher)
    # When the same request is sent again
    retried = api.post(url, json=body, token=director.access_token)
    # Then the decision is stored once, with its status, its activity entry (with the note) and event
    assert retried.status == 201
    [record] = _records(admin, target)
    assert (record.decision, record.note) == ("APPROVED", "Ship it")
    assert record.review_id == retried.json()["reviewId"]
    assert api.get(f"{url}s", token=admin.access_token).json()["items"] == [retried.json()]
    assert versions.get_version(admin.studio_id, target.asset_id, 1).review_status == "APPROVED"
    assert assets.get_asset(admin.studio_id, target.asset_id).status == "APPROVED"
    [entry] = _reviewed_entries(admin, target)
    assert entry.details["note"] == "Ship it"
    assert [e["data"]["reviewId"] for e in watcher.received("asset:approved")] == [record.review_id]


def test_a_failed_catalog_condition_leaves_no_decision_record(api, live, monkeypatch) -> None:
    # Given a producer, and an asset whose current version never matches what the catalog expects
    from keyframe.catalog.models import AssetItem

    admin = register_studio(api)
    target = make_version(admin)
    producer = add_member(api, admin, "PRODUCER")
    watcher = live.connect(admin)
    monkeypatch.setattr(version_review, "current_is", lambda current: AssetItem.current_version == 999)
    # When the producer requests changes
    response = api.post(
        f"/assets/{target.asset_id}/versions/1/review",
        json={"decision": "CHANGES_REQUESTED", "note": "Softer"},
        token=producer.access_token,
    )
    # Then DynamoDB cancels the transaction and the decision record was not written either
    assert response.status == 500
    _assert_nothing_stored(api, admin, target, watcher)


def test_a_failed_decision_record_condition_leaves_the_statuses_alone(api, live, monkeypatch) -> None:
    # Given a version with changes requested, and a new decision whose record key is already taken
    from keyframe.reviews import decisions

    admin = register_studio(api)
    target = make_version(admin)
    watcher = live.connect(admin)
    url = f"/assets/{target.asset_id}/versions/1/review"
    first = api.post(url, json={"decision": "CHANGES_REQUESTED"}, token=admin.access_token)
    assert first.status == 201
    [existing] = _records(admin, target)
    make_record = decisions._decision_record

    def colliding(principal, version, request):
        item = make_record(principal, version, request)
        item.sk, item.review_id = existing.sk, existing.review_id
        return item

    monkeypatch.setattr(decisions, "_decision_record", colliding)
    # When the admin approves
    response = api.post(url, json={"decision": "APPROVED", "note": "Fine"}, token=admin.access_token)
    # Then DynamoDB cancels the whole transaction: the version, the asset and the log are unchanged
    assert response.status == 500
    _assert_nothing_stored(api, admin, target, watcher, review_status="CHANGES_REQUESTED", count=1)
    [record] = _records(admin, target)
    assert (record.decision, record.note) == ("CHANGES_REQUESTED", None)
