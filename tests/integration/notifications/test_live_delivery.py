"""Live delivery: every socket of a member is in their room user:{id} and receives their notifications."""

from __future__ import annotations

from keyframe.notifications import service
from keyframe.notifications.schemas import NotificationType
from tests.support.identity import add_member, register_studio


def test_every_open_socket_of_the_member_gets_the_notification_and_the_read_update(api, live) -> None:
    # Given an artist with two tabs open, and a director with one
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    director = add_member(api, admin, "DIRECTOR")
    tab1, tab2, other = live.connect(artist), live.connect(artist), live.connect(director)
    # When the artist is notified
    [note] = service.notify(
        admin.studio_id,
        [artist.user_id],
        NotificationType.REVIEW,
        title="v1 approved",
        actor_id=admin.user_id,
    )
    # Then both tabs receive notification:created in the room user:{artistId}, and the director nothing
    room = f"user:{artist.user_id}"
    for tab in (tab1, tab2):
        [event] = tab.received("notification:created")
        assert event["room"] == room and event["data"] == note.to_json()
    assert other.received("notification:created") == []
    # When one tab marks it read
    api.post("/me/notifications/read", json={"all": True}, token=artist.access_token)
    # Then both tabs are told, with the count after
    for tab in (tab1, tab2):
        [event] = tab.received("notification:read")
        assert event["data"] == {"ids": [note.notification_id], "unreadCount": 0}
    # And the member can catch up on their own room over REST, never on someone else's
    caught = api.get(f"/rooms/{room}/events", token=artist.access_token).json()
    assert [e["type"] for e in caught["items"]] == ["notification:created", "notification:read"]
    refused = api.get(f"/rooms/{room}/events", token=director.access_token)
    assert refused.status == 404 and refused.json()["error"]["code"] == "NOT_FOUND"


def test_a_user_room_is_joined_on_connect_and_cannot_be_left_or_taken(api, live) -> None:
    # Given an artist's socket and a director
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    director = add_member(api, admin, "DIRECTOR")
    socket = live.connect(artist)
    # When the artist subscribes to their own room, another member's, or tries to leave their own
    own = socket.send(action="subscribe", room=f"user:{artist.user_id}")
    other = socket.send(action="subscribe", room=f"user:{director.user_id}")
    leave = socket.send(action="unsubscribe", room=f"user:{artist.user_id}")
    presence = socket.send(action="presence", room=f"user:{artist.user_id}", frame=3)
    # Then their own is already joined, another member's is not found, and the own room stays
    assert own["type"] == "subscribed" and own["data"]["room"] == f"user:{artist.user_id}"
    assert other["type"] == "error" and other["data"]["code"] == "NOT_FOUND"
    assert leave["type"] == "error" and leave["data"]["code"] == "INVALID_ROOM"
    assert presence["type"] == "error" and presence["data"]["code"] == "NOT_SUBSCRIBED"
    # And the director's notification never reaches the artist's socket
    service.notify(admin.studio_id, [director.user_id], NotificationType.REPLY, title="reply")
    assert socket.received("notification:created") == []
    # And closing the socket announces no presence in the user room
    socket.close()
    assert socket.received("presence:leave") == []
