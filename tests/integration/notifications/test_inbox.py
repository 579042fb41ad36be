"""The inbox: GET /me/notifications (paginated), POST /me/notifications/read, the count on GET /me."""

from __future__ import annotations

from keyframe.notifications import service
from keyframe.notifications.schemas import NotificationType
from tests.support.identity import add_member, register_studio


def _notify(session, count: int, *, actor=None) -> None:
    for number in range(count):
        service.notify(
            session.studio_id,
            [session.user_id],
            NotificationType.MENTION,
            title=f"note {number}",
            body="x" * 400,
            actor_id=actor.user_id if actor else None,
            actor_name="Ada",
            target={"assetId": "a1", "version": 1, "commentId": None},
        )


def test_the_inbox_pages_newest_first_and_marks_read_by_id_or_all(api) -> None:
    # Given an artist with five notifications
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    _notify(artist, 5, actor=admin)
    # When they read their inbox two at a time
    first = api.get("/me/notifications?limit=2", token=artist.access_token)
    assert first.status == 200, first.body
    page = first.json()
    token = artist.access_token
    second = api.get(f"/me/notifications?limit=2&cursor={page['nextCursor']}", token=token).json()
    third = api.get(f"/me/notifications?limit=2&cursor={second['nextCursor']}", token=token).json()
    # Then they see all five, newest first, unread, with the body cut to an excerpt
    titles = [n["title"] for p in (page, second, third) for n in p["items"]]
    assert titles == ["note 4", "note 3", "note 2", "note 1", "note 0"]
    assert third["nextCursor"] is None
    assert page["unreadCount"] == 5
    item = page["items"][0]
    assert item["read"] is False and item["type"] == "mention" and item["actorId"] == admin.user_id
    assert {k: v for k, v in item["target"].items() if v is not None} == {"assetId": "a1", "version": 1}
    assert len(item["body"]) == 280 and item["body"].endswith("…")
    # And GET /me shows the unread count
    assert api.get("/me", token=artist.access_token).json()["unreadNotifications"] == 5
    # When they mark two read by id (one twice, one unknown id too)
    ids = [page["items"][0]["notificationId"], page["items"][1]["notificationId"]]
    marked = api.post(
        "/me/notifications/read", json={"ids": [*ids, ids[0], "0" * 32]}, token=artist.access_token
    )
    # Then two are marked and three stay unread
    assert marked.status == 200, marked.body
    assert marked.json() == {"marked": 2, "unreadCount": 3}
    unread = api.get("/me/notifications?unread=true", token=artist.access_token).json()
    assert [n["title"] for n in unread["items"]] == ["note 2", "note 1", "note 0"]
    listed = api.get("/me/notifications?limit=1", token=artist.access_token).json()["items"][0]
    assert listed["read"] is True and listed["readAt"]
    # When they mark all read, then again
    assert api.post("/me/notifications/read", json={"all": True}, token=artist.access_token).json() == {
        "marked": 3,
        "unreadCount": 0,
    }
    again = api.post("/me/notifications/read", json={"all": True}, token=artist.access_token).json()
    # Then nothing changes the second time
    assert again == {"marked": 0, "unreadCount": 0}
    assert api.get("/me", token=artist.access_token).json()["unreadNotifications"] == 0


def test_an_inbox_is_its_owners_only(api) -> None:
    # Given an artist with a notification, another member and a member of another studio
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    director = add_member(api, admin, "DIRECTOR")
    stranger = register_studio(api)
    _notify(artist, 3, actor=admin)
    page = api.get("/me/notifications?limit=1", token=artist.access_token).json()
    note_id = page["items"][0]["notificationId"]
    # When the others list their inboxes, mark the artist's notification read, or reuse the cursor
    for other in (director, stranger):
        assert api.get("/me/notifications", token=other.access_token).json()["items"] == []
        marked = api.post("/me/notifications/read", json={"ids": [note_id]}, token=other.access_token)
        assert marked.json() == {"marked": 0, "unreadCount": 0}
        reused = api.get(f"/me/notifications?cursor={page['nextCursor']}", token=other.access_token)
        assert reused.status == 400 and reused.json()["error"]["code"] == "INVALID_CURSOR"
    # And the unread filter's cursor does not page the full list
    unread = api.get("/me/notifications?limit=1&unread=true", token=artist.access_token).json()
    mixed = api.get(f"/me/notifications?cursor={unread['nextCursor']}", token=artist.access_token)
    assert mixed.status == 400
    # Then the artist's notification is still unread
    assert api.get("/me", token=artist.access_token).json()["unreadNotifications"] == 3


def test_nobody_is_notified_of_their_own_action_nor_outside_the_studio(api) -> None:
    # Given an admin, an artist and a user of another studio
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    stranger = register_studio(api)
    # When a notification names the actor, the artist twice and the stranger
    sent = service.notify(
        admin.studio_id,
        [admin.user_id, artist.user_id, artist.user_id, stranger.user_id, None],
        NotificationType.REPLY,
        title="reply",
        actor_id=admin.user_id,
    )
    # Then only the artist gets one
    assert len(sent) == 1
    assert api.get("/me", token=artist.access_token).json()["unreadNotifications"] == 1
    for other in (admin, stranger):
        assert api.get("/me", token=other.access_token).json()["unreadNotifications"] == 0


def test_the_read_request_is_checked(api) -> None:
    # Given a member
    admin = register_studio(api)
    # When the body names neither, both, no ids, a malformed id, or too many ids
    bodies = [
        {},
        {"ids": ["a" * 32], "all": True},
        {"ids": []},
        {"ids": ["../x"]},
        {"all": False},
        {"ids": ["a" * 32] * 101},
    ]
    for body in bodies:
        response = api.post("/me/notifications/read", json=body, token=admin.access_token)
        # Then each answers 400 in the error shape
        assert response.status == 400, (body, response.body)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
