"""One person in several studios: create another, accept an invitation with the same account,
switch, leave, hand over; the last ADMIN stays."""

from __future__ import annotations

from keyframe.events.publisher import room_events
from tests.support.identity import (
    DEFAULT_PASSWORD,
    add_member,
    invite,
    register_studio,
    session_from,
)


def _studios(api, session) -> dict[str, str]:
    items = api.get("/me/studios", token=session.access_token).json()["items"]
    return {i["studio"]["studioId"]: i["role"] for i in items}


def test_a_signed_in_user_creates_another_studio_and_switches_between_them(api):
    # Given a freelancer's first studio
    first = register_studio(api, studio_name="Moonbeam")

    # When they create a second studio
    created = api.post("/studios", json={"name": "Side Project"}, token=first.access_token)

    # Then they are its ADMIN, signed in to it, and both studios are theirs
    assert created.status == 201
    second = session_from(created.json(), first.email, first.password)
    assert created.json()["studio"]["name"] == "Side Project" and second.role == "ADMIN"
    assert _studios(api, first) == {first.studio_id: "ADMIN", second.studio_id: "ADMIN"}

    # When they switch back with the second studio's token, no password asked
    switched = api.post(f"/me/studios/{first.studio_id}/switch", token=second.access_token)

    # Then the new token is for the first studio
    assert switched.status == 200 and switched.json()["studio"]["studioId"] == first.studio_id
    me = api.get("/me", token=switched.json()["accessToken"]).json()
    assert me["studio"]["name"] == "Moonbeam"


def test_switching_to_a_studio_you_are_not_in_is_404(api):
    me, stranger = register_studio(api), register_studio(api)
    response = api.post(f"/me/studios/{stranger.studio_id}/switch", token=me.access_token)
    assert response.status == 404


def test_an_existing_user_of_another_studio_accepts_with_their_account(api):
    # Given a user of studio A invited to studio B
    a_admin = register_studio(api, studio_name="A")
    b_admin = register_studio(api, studio_name="B")
    invitation = invite(api, b_admin, "DIRECTOR", email=a_admin.email)

    # When they accept with their own password (no display name)
    accepted = api.post(
        "/auth/accept-invitation", json={"token": invitation["token"], "password": DEFAULT_PASSWORD}
    )

    # Then the same account is in both studios
    assert accepted.status == 201 and accepted.json()["user"]["userId"] == a_admin.user_id
    assert _studios(api, a_admin) == {a_admin.studio_id: "ADMIN", b_admin.studio_id: "DIRECTOR"}


def test_a_member_leaves_and_their_token_stops_at_once(api):
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    assert api.post("/studio/leave", token=artist.access_token).status == 204
    assert api.get("/me", token=artist.access_token).status == 401
    members = api.get("/studio/members", token=admin.access_token).json()["items"]
    assert [m["userId"] for m in members] == [admin.user_id]
    assert "member:left" in [e["type"] for e in room_events(admin.studio_id, "studio")]
    actions = [e["action"] for e in api.get("/activity", token=admin.access_token).json()["items"]]
    assert "member:left" in actions


def test_the_last_admin_cannot_leave_but_can_after_handing_over(api):
    # Given a studio with one ADMIN and an ARTIST
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")

    # Then the ADMIN cannot leave
    refused = api.post("/studio/leave", token=admin.access_token)
    assert refused.status == 409 and refused.json()["error"]["code"] == "LAST_ADMIN"

    # When they hand the studio to the artist, keeping PRODUCER
    handed = api.post(
        "/studio/transfer", json={"userId": artist.user_id, "newRole": "PRODUCER"}, token=admin.access_token
    )

    # Then the roles swapped (the authorizer reads them at once), and now the former ADMIN may leave
    assert handed.status == 204
    roles = {
        m["userId"]: m["role"] for m in api.get("/studio/members", token=artist.access_token).json()["items"]
    }
    assert roles == {admin.user_id: "PRODUCER", artist.user_id: "ADMIN"}
    assert api.get("/studio/invitations", token=admin.access_token).status == 403
    assert "studio:ownership-transferred" in [e["type"] for e in room_events(admin.studio_id, "studio")]
    assert api.post("/studio/leave", token=admin.access_token).status == 204

    # And the new ADMIN, now the last, cannot leave
    assert api.post("/studio/leave", token=artist.access_token).status == 409


def test_transfer_needs_an_admin_and_a_member(api):
    admin, other = register_studio(api), register_studio(api)
    producer = add_member(api, admin, "PRODUCER")
    assert (
        api.post("/studio/transfer", json={"userId": other.user_id}, token=admin.access_token).status == 404
    )
    assert (
        api.post("/studio/transfer", json={"userId": admin.user_id}, token=producer.access_token).status
        == 403
    )
    assert (
        api.post("/studio/transfer", json={"userId": admin.user_id}, token=admin.access_token).status == 400
    )
