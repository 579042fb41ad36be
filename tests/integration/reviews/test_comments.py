"""Comments over REST and over the socket: one service, one store, one event shape."""

from __future__ import annotations

from tests.integration.live.support import make_version
from tests.support.identity import add_member, register_studio


def _comments_url(target) -> str:
    return f"/assets/{target.asset_id}/versions/{target.version}/comments"


def test_a_comment_by_socket_or_by_rest_is_stored_and_fanned_out_alike(api, live) -> None:
    # Given a director and an artist watching the same asset
    admin = register_studio(api)
    target = make_version(admin)
    room = f"asset:{target.asset_id}"
    director_session = add_member(api, admin, "DIRECTOR")
    artist_session = add_member(api, admin, "ARTIST")
    director, artist = live.connect(director_session), live.connect(artist_session)
    director.send(action="subscribe", room=room)
    artist.send(action="subscribe", room=room)
    # When the director comments over the socket and the artist over REST
    ack = director.send(
        action="comment",
        assetId=target.asset_id,
        version=1,
        body="Blink is late",
        frame=1013,
        correlationId="c-9",
    )
    response = api.post(
        _comments_url(target), json={"body": "Fixed in v2", "frame": 1013}, token=artist_session.access_token
    )
    # Then both are acknowledged with the stored comment
    assert ack["type"] == "ack" and ack["correlationId"] == "c-9"
    assert ack["data"]["comment"]["body"] == "Blink is late"
    assert response.status == 201
    rest_comment = response.json()
    # And both members receive both as asset:commented with the same envelope shape and increasing seq
    for socket in (director, artist):
        events = socket.received("asset:commented")
        assert [e["data"]["body"] for e in events] == ["Blink is late", "Fixed in v2"]
        assert all(set(e) == {"type", "room", "seq", "ts", "correlationId", "data"} for e in events)
        assert all(e["room"] == room for e in events)
        assert events[0]["seq"] < events[1]["seq"]
        assert events[0]["correlationId"] == "c-9"
        assert events[1]["data"] == {k: v for k, v in rest_comment.items() if v is not None}
    assert director.received("asset:commented") == artist.received("asset:commented")
    # And both are stored: the list returns them with derived timecodes (24 fps, first frame 1001)
    listed = api.get(_comments_url(target), token=admin.access_token).json()
    assert [c["body"] for c in listed["items"]] == ["Blink is late", "Fixed in v2"]
    assert {c["timecode"] for c in listed["items"]} == {"00:00:00:12"}
    assert listed["items"][0]["authorId"] == director_session.user_id


def test_comments_are_threaded_ordered_by_frame_then_time_and_paginated(api, live) -> None:
    # Given comments at frames 1050, 1010, none, and replies to the first
    admin = register_studio(api)
    target = make_version(admin)
    url = _comments_url(target)

    def post(body: dict) -> dict:
        response = api.post(url, json=body, token=admin.access_token)
        assert response.status == 201, response.body
        return response.json()

    late = post({"body": "late frame", "frame": 1050})
    early = post({"body": "early frame", "timecode": "00:00:00:09"})
    general = post({"body": "overall: nice"})
    reply = post({"body": "agreed", "parentId": late["commentId"]})
    reply_to_reply = post({"body": "me too", "parentId": reply["commentId"]})
    # When the list is read two at a time
    first = api.get(f"{url}?limit=2", token=admin.access_token).json()
    rest = api.get(f"{url}?limit=10&cursor={first['nextCursor']}", token=admin.access_token).json()
    # Then the order is frame 1010, frame 1050 and its thread, then the comment without a frame
    bodies = [c["body"] for c in first["items"] + rest["items"]]
    assert bodies == ["early frame", "late frame", "agreed", "me too", "overall: nice"]
    assert early["frame"] == 1010
    assert rest["nextCursor"] is None
    # And replies name their parent and the thread they belong to
    assert reply["parentId"] == late["commentId"] and reply["threadId"] == late["commentId"]
    assert (
        reply_to_reply["parentId"] == reply["commentId"] and reply_to_reply["threadId"] == late["commentId"]
    )
    assert general["threadId"] == general["commentId"]


def test_frame_and_timecode_must_agree_at_the_projects_rate(api, live) -> None:
    admin = register_studio(api)
    target = make_version(admin, fps=29.97, start_frame=0)
    url = _comments_url(target)
    # Drop-frame: 00:01:00;02 is frame 1800 at 29.97
    ok = api.post(url, json={"body": "a", "frame": 1800, "timecode": "00:01:00;02"}, token=admin.access_token)
    assert ok.status == 201
    wrong = api.post(
        url, json={"body": "b", "frame": 1799, "timecode": "00:01:00;02"}, token=admin.access_token
    )
    assert wrong.status == 400
    assert wrong.json()["error"]["code"] == "TIMECODE_MISMATCH"
    skipped = api.post(url, json={"body": "c", "timecode": "00:01:00;00"}, token=admin.access_token)
    assert skipped.json()["error"]["code"] == "INVALID_TIMECODE"
    derived = api.post(url, json={"body": "d", "frame": 1800}, token=admin.access_token).json()
    assert derived["timecode"] == "00:01:00;02"


def test_bad_comment_bodies_are_refused(api, live) -> None:
    admin = register_studio(api)
    target = make_version(admin)
    url = _comments_url(target)
    too_big = {"body": "x", "annotation": {"d": "L1 1 " * 4000}}
    assert api.post(url, json=too_big, token=admin.access_token).status == 400
    assert api.post(url, json={"body": "x", "timecode": "1:00"}, token=admin.access_token).status == 400
    missing_parent = api.post(url, json={"body": "x", "parentId": "nope"}, token=admin.access_token)
    assert missing_parent.status == 404
    assert api.post(url.replace("/1/", "/9/"), json={"body": "x"}, token=admin.access_token).status == 404


def test_only_the_author_edits_a_body_but_a_director_may_resolve(api, live) -> None:
    # Given an artist's comment
    admin = register_studio(api)
    target = make_version(admin)
    artist = add_member(api, admin, "ARTIST")
    director_session = add_member(api, admin, "DIRECTOR")
    comment = api.post(_comments_url(target), json={"body": "typo"}, token=artist.access_token).json()
    url = f"/comments/{comment['commentId']}"
    # When the artist edits it, the edit is kept
    edited = api.patch(url, json={"body": "no typo"}, token=artist.access_token)
    assert edited.status == 200
    assert edited.json()["body"] == "no typo" and edited.json()["editedAt"]
    # When the director tries to edit it, 403
    refused = api.patch(url, json={"body": "mine now"}, token=director_session.access_token)
    assert refused.status == 403
    # When the director resolves it over the socket, the room hears comment:resolved
    director = live.connect(director_session)
    director.send(action="subscribe", room=f"asset:{target.asset_id}")
    ack = director.send(action="resolve", commentId=comment["commentId"])
    assert ack["data"]["comment"]["resolved"] is True
    assert ack["data"]["comment"]["resolvedBy"] == director_session.user_id
    assert director.received("comment:resolved")[-1]["data"]["commentId"] == comment["commentId"]
    # And it can be reopened over REST
    reopened = api.patch(url, json={"resolved": False}, token=artist.access_token).json()
    assert reopened["resolved"] is False and reopened["resolvedBy"] is None
    assert director.received("comment:reopened")
    # A viewer may read but not comment, and another studio cannot see it at all
    viewer = add_member(api, admin, "VIEWER")
    assert api.get(_comments_url(target), token=viewer.access_token).status == 200
    assert api.post(_comments_url(target), json={"body": "x"}, token=viewer.access_token).status == 403
    stranger = register_studio(api, studio_name="Other")
    assert api.get(_comments_url(target), token=stranger.access_token).status == 404
    assert api.patch(url, json={"resolved": True}, token=stranger.access_token).status == 404


def _activity(api, session, asset_id: str) -> list[dict]:
    response = api.get(f"/activity?assetId={asset_id}", token=session.access_token)
    assert response.status == 200, response.body
    return response.json()["items"]


def test_every_comment_change_is_an_activity_entry(api, live) -> None:
    # Given an artist and a director on a version
    admin = register_studio(api)
    target = make_version(admin)
    artist = add_member(api, admin, "ARTIST")
    director = live.connect(add_member(api, admin, "DIRECTOR"))
    before = {e["id"] for e in _activity(api, admin, target.asset_id)}
    # When the artist comments at a frame over REST and edits it, the director replies over the
    # socket and resolves it, and the artist reopens it
    comment = api.post(
        _comments_url(target), json={"body": "typo", "frame": 1013}, token=artist.access_token
    ).json()
    url = f"/comments/{comment['commentId']}"
    assert api.patch(url, json={"body": "no typo"}, token=artist.access_token).status == 200
    reply = director.send(
        action="comment", assetId=target.asset_id, version=1, body="ok", parentId=comment["commentId"]
    )["data"]["comment"]
    assert director.send(action="resolve", commentId=comment["commentId"])["type"] == "ack"
    assert api.patch(url, json={"resolved": False}, token=artist.access_token).status == 200
    # And a PATCH that changes nothing
    assert api.patch(url, json={"resolved": False}, token=artist.access_token).status == 200
    # Then GET /activity?assetId= lists one entry per change, newest first, naming actor and comment
    entries = [e for e in _activity(api, admin, target.asset_id) if e["id"] not in before]
    assert [(e["action"], e["target"]["id"], e["actor"]) for e in reversed(entries)] == [
        ("comment:added", comment["commentId"], artist.user_id),
        ("comment:edited", comment["commentId"], artist.user_id),
        ("comment:added", reply["commentId"], reply["authorId"]),
        ("comment:resolved", comment["commentId"], reply["authorId"]),
        ("comment:reopened", comment["commentId"], artist.user_id),
    ]
    assert all(e["target"]["type"] == "comment" and e["projectId"] == target.project_id for e in entries)
    assert entries[-1]["details"] == {"version": 1, "frame": 1013, "timecode": "00:00:00:12"}
    assert entries[2]["details"] == {"version": 1, "parentId": comment["commentId"]}


def test_an_edit_that_also_resolves_writes_both_entries(api, live) -> None:
    admin = register_studio(api)
    target = make_version(admin)
    comment = api.post(_comments_url(target), json={"body": "typo"}, token=admin.access_token).json()
    patched = api.patch(
        f"/comments/{comment['commentId']}",
        json={"body": "fixed", "resolved": True},
        token=admin.access_token,
    ).json()
    assert (patched["body"], patched["resolved"]) == ("fixed", True)
    actions = [e["action"] for e in _activity(api, admin, target.asset_id)][:3]
    assert sorted(actions[:2]) == ["comment:edited", "comment:resolved"] and actions[2] == "comment:added"


def test_a_comment_whose_activity_entry_cannot_be_written_is_not_stored(api, live, monkeypatch) -> None:
    # Given an activity log that refuses writes (an invalid, empty partition key)
    from keyframe.storage import activity

    admin = register_studio(api)
    target = make_version(admin)
    with monkeypatch.context() as patch:
        patch.setattr(activity, "activity_pk", lambda studio_id: "")
        # When a comment is posted
        response = api.post(_comments_url(target), json={"body": "lost?"}, token=admin.access_token)
    # Then it fails as a whole: no comment without its entry
    assert response.status == 500
    assert api.get(_comments_url(target), token=admin.access_token).json()["items"] == []
    assert "comment:added" not in [e["action"] for e in _activity(api, admin, target.asset_id)]


def test_a_comment_deleted_meanwhile_is_not_found_and_nothing_is_logged(api, live, monkeypatch) -> None:
    # Given a comment whose item disappears between the lookup and the write
    from keyframe.reviews import comments
    from keyframe.reviews.models import CommentItem

    admin = register_studio(api)
    target = make_version(admin)
    comment = api.post(_comments_url(target), json={"body": "typo"}, token=admin.access_token).json()
    found = comments._find_comment(admin.studio_id, comment["commentId"])
    found.delete()
    with monkeypatch.context() as patch:
        patch.setattr(comments, "_find_comment", lambda studio_id, comment_id: found)
        # When its author edits it
        response = api.patch(
            f"/comments/{comment['commentId']}", json={"body": "x"}, token=admin.access_token
        )
    # Then 404, and neither the comment nor an edit entry was written
    assert response.status == 404 and response.json()["error"]["code"] == "COMMENT_NOT_FOUND"
    assert CommentItem.count(found.pk) == 0
    assert "comment:edited" not in [e["action"] for e in _activity(api, admin, target.asset_id)]
