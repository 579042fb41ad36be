"""Invitations, members, roles, the last ADMIN, tenancy between studios, and member events."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from keyframe.events.publisher import room_events
from keyframe.identity.models import INVITATION_SK, InvitationItem, invitation_pk
from keyframe.local import mailbox
from tests.support.identity import (
    DEFAULT_PASSWORD,
    accept,
    add_member,
    invite,
    login,
    mailed_token,
    register_studio,
    unique_email,
)

NON_ADMINS = ["PRODUCER", "DIRECTOR", "ARTIST", "VIEWER"]


def _members(api, session) -> dict[str, str]:
    response = api.get("/studio/members", token=session.access_token)
    assert response.status == 200
    return {m["userId"]: m["role"] for m in response.json()["items"]}


# ---------------------------------------------------------------- invitations


def test_invite_then_accept_as_a_new_user(api):
    # Given an ADMIN
    admin = register_studio(api, studio_name="Moonlight")
    email = unique_email("artist")

    # When they invite an artist
    response = api.post(
        "/studio/invitations", json={"email": email, "role": "ARTIST"}, token=admin.access_token
    )

    # Then 201 with an expiry a week ahead; the token is not in the answer (only on the local stack)
    assert response.status == 201
    invitation = response.json()
    assert invitation.get("token") is None and invitation["emailSent"] is True
    assert {"invitationId", "email", "role", "expiresAt", "emailSent"} <= set(invitation)
    assert (invitation["email"], invitation["role"]) == (email, "ARTIST")
    assert invitation["expiresAt"].endswith("Z")

    # And the invitee got an e-mail naming the studio and the inviter, whose link carries the token
    (message,) = mailbox.messages(to=email)
    assert message.subject == "Studio Admin invited you to Moonlight on Keyframe"
    assert "as ARTIST" in message.text and "Moonlight" in message.html
    invitation["token"] = mailed_token(email)
    assert message.links == [
        f"https://app.keyframe.test/invitations/accept?token={quote(invitation['token'])}"
    ]

    # When the invitee accepts with a password and a display name
    accepted = api.post(
        "/auth/accept-invitation",
        json={"token": invitation["token"], "password": DEFAULT_PASSWORD, "displayName": "Bo"},
    )

    # Then they are signed in to the studio as ARTIST and listed as a member
    assert accepted.status == 201
    body = accepted.json()
    assert body["role"] == "ARTIST" and body["studio"]["name"] == "Moonlight"
    assert body["user"]["displayName"] == "Bo" and body["user"]["email"] == email
    assert _members(api, admin) == {admin.user_id: "ADMIN", body["user"]["userId"]: "ARTIST"}

    # And they can sign in later with their password
    assert login(api, email).studio_id == admin.studio_id


def test_invitation_token_is_stored_only_as_a_hash_with_ttl(api):
    admin = register_studio(api)
    invitation = invite(api, admin, "VIEWER")
    item = InvitationItem.get(invitation_pk(invitation["invitationId"]), INVITATION_SK)
    assert invitation["token"] not in str(item.attribute_values)
    assert len(item.token_hash) == 64 and item.ttl is not None


def test_existing_account_joins_with_its_password_and_no_display_name(api):
    # Given a person who already administers another studio
    other = register_studio(api, studio_name="Elsewhere")
    admin = register_studio(api, studio_name="Moonlight")
    invitation = invite(api, admin, "DIRECTOR", email=other.email)

    # When they accept with their current password and no displayName
    response = api.post(
        "/auth/accept-invitation", json={"token": invitation["token"], "password": other.password}
    )

    # Then the same account gains the membership
    assert response.status == 201
    assert response.json()["user"]["userId"] == other.user_id
    assert response.json()["role"] == "DIRECTOR"
    assert _members(api, admin)[other.user_id] == "DIRECTOR"


def test_existing_account_with_a_wrong_password_is_401_and_the_invitation_stays_usable(api):
    # Given
    other = register_studio(api)
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST", email=other.email)

    # When
    wrong = api.post(
        "/auth/accept-invitation", json={"token": invitation["token"], "password": "not-my-password"}
    )

    # Then 401, no membership, and the right password still works
    assert wrong.status == 401
    assert other.user_id not in _members(api, admin)
    assert accept(api, invitation["token"], other.email, password=other.password).user_id == other.user_id


def test_new_account_needs_a_display_name(api):
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")
    response = api.post(
        "/auth/accept-invitation", json={"token": invitation["token"], "password": DEFAULT_PASSWORD}
    )
    assert response.status == 400
    assert response.json()["error"]["details"]["fields"][0]["field"] == "displayName"


def test_used_invitation_is_400(api):
    # Given an accepted invitation
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")
    accept(api, invitation["token"], invitation["email"])

    # When it is presented again
    again = api.post(
        "/auth/accept-invitation",
        json={"token": invitation["token"], "password": DEFAULT_PASSWORD, "displayName": "Y"},
    )

    # Then 400 naming the token
    assert again.status == 400
    assert again.json()["error"]["code"] == "INVITATION_USED"
    assert again.json()["error"]["details"]["fields"][0]["field"] == "token"


def test_expired_invitation_is_410(api):
    # Given an invitation whose week has passed
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")
    item = InvitationItem.get(invitation_pk(invitation["invitationId"]), INVITATION_SK)
    item.update(actions=[InvitationItem.expires_at.set(int(time.time()) - 1)])

    # When it is accepted
    response = api.post(
        "/auth/accept-invitation",
        json={"token": invitation["token"], "password": DEFAULT_PASSWORD, "displayName": "Y"},
    )

    # Then 410 Gone, and nobody joined
    assert response.status == 410
    assert response.json()["error"]["code"] == "INVITATION_EXPIRED"
    assert list(_members(api, admin)) == [admin.user_id]


@pytest.mark.parametrize("token", ["nonsense", "0123456789abcdef0123456789abcdef.wrong-secret"])
def test_invalid_invitation_token_is_400(api, token):
    admin = register_studio(api)
    real = invite(api, admin, "ARTIST")
    if "." in token:  # a real invitation id with a forged secret
        token = real["invitationId"] + ".wrong-secret"
    response = api.post(
        "/auth/accept-invitation", json={"token": token, "password": DEFAULT_PASSWORD, "displayName": "Y"}
    )
    assert response.status == 400
    assert response.json()["error"]["code"] == "INVITATION_INVALID"


def test_inviting_a_current_member_is_409(api):
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    response = api.post(
        "/studio/invitations",
        json={"email": artist.email.upper(), "role": "VIEWER"},
        token=admin.access_token,
    )
    assert response.status == 409
    assert response.json()["error"]["code"] == "ALREADY_MEMBER"


# ---------------------------------------------------------------- roles and removal


def test_role_change_applies_to_the_next_request_with_the_same_token(api):
    # Given an ARTIST with a token, who cannot invite
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    assert invite_status(api, artist) == 403

    # When the ADMIN makes them ADMIN
    response = api.patch(
        f"/studio/members/{artist.user_id}", json={"role": "ADMIN"}, token=admin.access_token
    )

    # Then the answer shows the new role, and the same old token can now invite
    assert response.status == 200
    assert response.json()["role"] == "ADMIN" and response.json()["userId"] == artist.user_id
    assert invite_status(api, artist) == 201
    assert api.get("/me", token=artist.access_token).json()["role"] == "ADMIN"

    # And a refresh gives a token whose role is the new one
    refreshed = api.post("/auth/refresh", json={"refreshToken": artist.refresh_token}).json()
    assert refreshed["role"] == "ADMIN"


def invite_status(api, session) -> int:
    """Status of an invitation attempt by ``session`` (201 allowed, 403 refused)."""
    return api.post(
        "/studio/invitations", json={"email": unique_email(), "role": "VIEWER"}, token=session.access_token
    ).status


def test_removed_member_loses_access_at_once(api):
    # Given an artist with an access token and a refresh token
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    assert api.get("/me", token=artist.access_token).status == 200

    # When the ADMIN removes them
    response = api.delete(f"/studio/members/{artist.user_id}", token=admin.access_token)

    # Then 204, the access token is refused by the authorizer, and the refresh token too
    assert response.status == 204 and response.body == b""
    me = api.get("/me", token=artist.access_token)
    assert me.status == 401
    assert api.post("/auth/refresh", json={"refreshToken": artist.refresh_token}).status == 401
    assert artist.user_id not in _members(api, admin)

    # And removing them again is 404
    assert api.delete(f"/studio/members/{artist.user_id}", token=admin.access_token).status == 404


def test_removed_and_reinvited_member_does_not_revive_old_sessions(api):
    # Given a member removed and then invited back under the same account
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    api.delete(f"/studio/members/{artist.user_id}", token=admin.access_token)
    back = add_member(api, admin, "VIEWER", email=artist.email, password=artist.password)

    # Then their old refresh token stays dead and the new session works
    assert api.post("/auth/refresh", json={"refreshToken": artist.refresh_token}).status == 401
    assert api.post("/auth/refresh", json={"refreshToken": back.refresh_token}).status == 200


def test_last_admin_can_be_neither_demoted_nor_removed(api):
    # Given a studio with one ADMIN
    admin = register_studio(api)

    # When they try to demote or remove themselves
    demote = api.patch(f"/studio/members/{admin.user_id}", json={"role": "VIEWER"}, token=admin.access_token)
    remove = api.delete(f"/studio/members/{admin.user_id}", token=admin.access_token)

    # Then 409 and they are still ADMIN
    assert demote.status == remove.status == 409
    assert demote.json()["error"]["code"] == remove.json()["error"]["code"] == "LAST_ADMIN"
    assert _members(api, admin) == {admin.user_id: "ADMIN"}

    # And with a second ADMIN, the first may step down
    second = add_member(api, admin, "ADMIN")
    assert (
        api.patch(
            f"/studio/members/{admin.user_id}", json={"role": "PRODUCER"}, token=admin.access_token
        ).status
        == 200
    )
    assert api.delete(f"/studio/members/{second.user_id}", token=second.access_token).status == 409


def test_two_admins_demoting_each_other_at_once_leave_one_admin(api, atomic_dynamodb):
    # Given two ADMINs
    first = register_studio(api)
    second = add_member(api, first, "ADMIN")

    # When each demotes the other at the same moment
    def demote(pair):
        actor, target = pair
        return api.patch(
            f"/studio/members/{target.user_id}", json={"role": "ARTIST"}, token=actor.access_token
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(r.status for r in pool.map(demote, [(first, second), (second, first)]))

    # Then exactly one change went through and exactly one ADMIN remains
    assert statuses in ([200, 409], [200, 403])  # the loser is refused as last ADMIN, or already demoted
    survivor_roles = _members(api, login(api, first.email))
    assert sorted(survivor_roles.values()) == ["ADMIN", "ARTIST"]


def test_patch_to_the_same_role_changes_nothing(api):
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    response = api.patch(
        f"/studio/members/{artist.user_id}", json={"role": "ARTIST"}, token=admin.access_token
    )
    assert response.status == 200 and response.json()["role"] == "ARTIST"


def test_member_list_is_visible_to_every_role_with_names(api):
    admin = register_studio(api)
    viewer = add_member(api, admin, "VIEWER")
    response = api.get("/studio/members", token=viewer.access_token)
    assert response.status == 200
    items = response.json()["items"]
    # pages are in user-id order (a stable key for cursors), not by joining time
    assert sorted((m["userId"], m["role"]) for m in items) == [(m["userId"], m["role"]) for m in items]
    assert sorted(m["role"] for m in items) == ["ADMIN", "VIEWER"]
    assert {m["email"] for m in items} == {admin.email, viewer.email}
    assert all(set(m) == {"userId", "email", "displayName", "role", "joinedAt", "avatarUrl"} for m in items)
    assert all(m["avatarUrl"] is None for m in items)  # nobody set a picture


# ---------------------------------------------------------------- role matrix


@pytest.mark.parametrize("role", NON_ADMINS)
def test_only_admins_manage_members(api, role):
    # Given a member with a non-ADMIN role and another member to act on
    admin = register_studio(api)
    actor = add_member(api, admin, role)
    target = add_member(api, admin, "VIEWER")

    # When they try each member-management route
    invited = api.post(
        "/studio/invitations", json={"email": unique_email(), "role": "VIEWER"}, token=actor.access_token
    )
    patched = api.patch(
        f"/studio/members/{target.user_id}", json={"role": "ARTIST"}, token=actor.access_token
    )
    deleted = api.delete(f"/studio/members/{target.user_id}", token=actor.access_token)
    unknown = api.delete("/studio/members/no-such-user", token=actor.access_token)

    # Then every one is 403 (even for an unknown id: no probing), and reading is allowed
    assert [invited.status, patched.status, deleted.status, unknown.status] == [403, 403, 403, 403]
    assert invited.json()["error"]["code"] == "FORBIDDEN"
    assert api.get("/studio/members", token=actor.access_token).status == 200
    assert api.get("/me", token=actor.access_token).status == 200
    assert _members(api, admin)[target.user_id] == "VIEWER"


def test_admin_manages_members(api):
    admin = register_studio(api)
    target = add_member(api, admin, "VIEWER")
    assert invite_status(api, admin) == 201
    assert (
        api.patch(
            f"/studio/members/{target.user_id}", json={"role": "ARTIST"}, token=admin.access_token
        ).status
        == 200
    )
    assert api.delete(f"/studio/members/{target.user_id}", token=admin.access_token).status == 204


# ---------------------------------------------------------------- tenancy


def test_another_studios_admin_cannot_touch_our_members(api):
    # Given studio A with an artist, and studio B's ADMIN
    a_admin = register_studio(api, studio_name="A")
    a_artist = add_member(api, a_admin, "ARTIST")
    b_admin = register_studio(api, studio_name="B")

    # When B's ADMIN aims every id-taking route at A's members
    for target in (a_admin, a_artist):
        patched = api.patch(
            f"/studio/members/{target.user_id}", json={"role": "VIEWER"}, token=b_admin.access_token
        )
        deleted = api.delete(f"/studio/members/{target.user_id}", token=b_admin.access_token)

        # Then 404 as if they did not exist
        assert patched.status == deleted.status == 404
        assert patched.json()["error"]["code"] == "MEMBER_NOT_FOUND"

    # And A is untouched; B's member list shows only B
    assert _members(api, a_admin) == {a_admin.user_id: "ADMIN", a_artist.user_id: "ARTIST"}
    assert _members(api, b_admin) == {b_admin.user_id: "ADMIN"}
    assert api.get("/me", token=a_artist.access_token).status == 200


def test_a_freelancers_token_only_acts_in_its_own_studio(api):
    # Given a user ADMIN in A and VIEWER in B, holding their A token
    a = register_studio(api, studio_name="A")
    b_admin = register_studio(api, studio_name="B")
    b_artist = add_member(api, b_admin, "ARTIST")
    add_member(api, b_admin, "VIEWER", email=a.email, password=a.password)

    # When they use the A token (ADMIN) against B's member
    response = api.patch(f"/studio/members/{b_artist.user_id}", json={"role": "VIEWER"}, token=a.access_token)

    # Then 404: the token is for A, where that user is not a member
    assert response.status == 404
    assert _members(api, b_admin)[b_artist.user_id] == "ARTIST"


# ---------------------------------------------------------------- events


def test_member_changes_are_published_to_the_studio_room(api):
    # Given
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")
    artist = accept(api, invitation["token"], invitation["email"])

    # When the artist is promoted then removed
    api.patch(f"/studio/members/{artist.user_id}", json={"role": "DIRECTOR"}, token=admin.access_token)
    api.delete(f"/studio/members/{artist.user_id}", token=admin.access_token)

    # Then the studio room has the events in order
    events = room_events(admin.studio_id, "studio")
    assert [e["type"] for e in events] == [
        "member:joined",
        "member:invited",
        "member:joined",
        "member:role-changed",
        "member:removed",
    ]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[1]["data"]["invitationId"] == invitation["invitationId"]
    assert events[3]["data"] == {
        "userId": artist.user_id,
        "role": "DIRECTOR",
        "previousRole": "ARTIST",
        "changedBy": admin.user_id,
    }
    assert events[4]["data"]["userId"] == artist.user_id
    assert "token" not in str(events[1]["data"]).lower()
