"""Invitations by e-mail: list the pending ones, resend, revoke; 410 for revoked or expired links."""

from __future__ import annotations

import time

from keyframe.events.publisher import room_events
from keyframe.identity.models import INVITATION_SK, InvitationItem, invitation_pk
from tests.support.identity import (
    DEFAULT_PASSWORD,
    accept,
    add_member,
    invite,
    mailed_token,
    register_studio,
)


def _accept(api, token: str):
    return api.post(
        "/auth/accept-invitation", json={"token": token, "password": DEFAULT_PASSWORD, "displayName": "Ann"}
    )


def test_pending_invitations_are_listed_newest_first_page_by_page(api):
    # Given three invitations, one of which was accepted
    admin = register_studio(api)
    first, second, third = (invite(api, admin, "VIEWER") for _ in range(3))
    accept(api, second["token"], second["email"])

    # When the admin lists them one per page
    page1 = api.get("/studio/invitations?limit=1", token=admin.access_token).json()
    page2 = api.get(
        f"/studio/invitations?limit=1&cursor={page1['nextCursor']}", token=admin.access_token
    ).json()

    # Then the pending ones come newest first, with what an admin needs to decide
    assert [i["email"] for i in page1["items"] + page2["items"]] == [third["email"], first["email"]]
    item = page1["items"][0]
    assert item["role"] == "VIEWER" and item["expired"] is False and item["sentCount"] == 1
    assert item["invitedBy"] == admin.user_id
    if page2.get("nextCursor"):
        rest = api.get(f"/studio/invitations?cursor={page2['nextCursor']}", token=admin.access_token)
        assert rest.json()["items"] == []


def test_a_cursor_of_another_studio_is_refused(api):
    admin, other = register_studio(api), register_studio(api)
    for _ in range(2):
        invite(api, other, "VIEWER")
    cursor = api.get("/studio/invitations?limit=1", token=other.access_token).json()["nextCursor"]
    response = api.get(f"/studio/invitations?cursor={cursor}", token=admin.access_token)
    assert response.status == 400 and response.json()["error"]["code"] == "INVALID_CURSOR"


def test_resend_mails_a_new_link_and_the_old_one_stops_working(api):
    # Given an invitation
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")

    # When the admin resends it
    response = api.post(f"/studio/invitations/{invitation['invitationId']}/resend", token=admin.access_token)

    # Then a second e-mail went out with a new token; the first link is no longer valid
    assert response.status == 200 and response.json()["emailSent"] is True
    new_token = mailed_token(invitation["email"])
    assert new_token != invitation["token"]
    old = _accept(api, invitation["token"])
    assert old.status == 400 and old.json()["error"]["code"] == "INVITATION_INVALID"
    listed = api.get("/studio/invitations", token=admin.access_token).json()["items"]
    assert listed[0]["sentCount"] == 2
    assert _accept(api, new_token).status == 201


def test_revoked_invitation_answers_410_and_leaves_the_list(api):
    # Given an invitation the admin revokes
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")
    path = f"/studio/invitations/{invitation['invitationId']}"
    assert api.delete(path, token=admin.access_token).status == 204

    # Then its link answers 410, revoking again is fine, and it is not pending any more
    response = _accept(api, invitation["token"])
    assert response.status == 410 and response.json()["error"]["code"] == "INVITATION_REVOKED"
    assert api.delete(path, token=admin.access_token).status == 204
    assert api.get("/studio/invitations", token=admin.access_token).json()["items"] == []
    resend = api.post(f"{path}/resend", token=admin.access_token)
    assert resend.status == 409 and resend.json()["error"]["code"] == "INVITATION_NOT_PENDING"

    # And the studio's activity and live room say so
    actions = [e["action"] for e in api.get("/activity", token=admin.access_token).json()["items"]]
    assert "member:invitation-revoked" in actions and "member:invited" in actions
    events = [e["type"] for e in room_events(admin.studio_id, "studio")]
    assert "member:invitation-revoked" in events


def test_revoking_the_invitation_just_accepted_is_409(api):
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")
    accept(api, invitation["token"], invitation["email"])
    response = api.delete(f"/studio/invitations/{invitation['invitationId']}", token=admin.access_token)
    assert response.status == 409 and response.json()["error"]["code"] == "INVITATION_ACCEPTED"


def test_expired_invitation_is_flagged_and_410_until_resent(api):
    admin = register_studio(api)
    invitation = invite(api, admin, "ARTIST")
    item = InvitationItem.get(invitation_pk(invitation["invitationId"]), INVITATION_SK)
    item.update(actions=[InvitationItem.expires_at.set(int(time.time()) - 1)])
    assert api.get("/studio/invitations", token=admin.access_token).json()["items"][0]["expired"] is True
    assert _accept(api, invitation["token"]).status == 410
    api.post(f"/studio/invitations/{invitation['invitationId']}/resend", token=admin.access_token)
    assert _accept(api, mailed_token(invitation["email"])).status == 201


def test_another_studios_invitation_is_not_found(api):
    admin, other = register_studio(api), register_studio(api)
    theirs = invite(api, other, "VIEWER")
    path = f"/studio/invitations/{theirs['invitationId']}"
    assert api.delete(path, token=admin.access_token).status == 404
    assert api.post(f"{path}/resend", token=admin.access_token).status == 404
    assert _accept(api, theirs["token"]).status == 201  # untouched


def test_only_admins_see_and_manage_invitations(api):
    admin = register_studio(api)
    producer = add_member(api, admin, "PRODUCER")
    invitation = invite(api, admin, "VIEWER")
    assert api.get("/studio/invitations", token=producer.access_token).status == 403
    path = f"/studio/invitations/{invitation['invitationId']}"
    assert api.delete(path, token=producer.access_token).status == 403
    assert api.post(f"{path}/resend", token=producer.access_token).status == 403


def test_members_are_paginated_and_filtered_by_role(api):
    # Given a studio with an ADMIN, two ARTISTs and a VIEWER
    admin = register_studio(api)
    artists = {add_member(api, admin, "ARTIST").user_id for _ in range(2)}
    add_member(api, admin, "VIEWER")

    # When the members are read two per page, and the artists alone
    page1 = api.get("/studio/members?limit=2", token=admin.access_token).json()
    page2 = api.get(f"/studio/members?limit=2&cursor={page1['nextCursor']}", token=admin.access_token).json()
    only_artists = api.get("/studio/members?role=ARTIST", token=admin.access_token).json()

    # Then every member appears once, and the filter keeps the artists
    everyone = [m["userId"] for m in page1["items"] + page2["items"]]
    assert len(everyone) == len(set(everyone)) == 4 and page2.get("nextCursor") is None
    assert {m["userId"] for m in only_artists["items"]} == artists
    # a cursor is bound to its filter
    mixed = api.get(f"/studio/members?role=VIEWER&cursor={page1['nextCursor']}", token=admin.access_token)
    assert mixed.status == 400 and mixed.json()["error"]["code"] == "INVALID_CURSOR"


def test_role_changes_and_removals_are_in_the_activity_log(api):
    admin = register_studio(api)
    member = add_member(api, admin, "ARTIST")
    api.patch(f"/studio/members/{member.user_id}", json={"role": "DIRECTOR"}, token=admin.access_token)
    api.delete(f"/studio/members/{member.user_id}", token=admin.access_token)
    entries = api.get("/activity", token=admin.access_token).json()["items"]
    by_action = {e["action"]: e for e in entries}
    assert {"member:joined", "member:invited", "member:role-changed", "member:removed"} <= set(by_action)
    assert by_action["member:role-changed"]["target"] == {"type": "member", "id": member.user_id}
