"""Mentions, replies and decisions notify the right members, and nobody else."""

from __future__ import annotations

from tests.integration.live.support import make_version
from tests.support.identity import accept, invite, register_studio


def _member(api, admin, role: str, name: str):
    invitation = invite(api, admin, role)
    return accept(api, invitation["token"], invitation["email"], display_name=name)


def _inbox(api, session) -> list[dict]:
    answer = api.get("/me/notifications", token=session.access_token)
    assert answer.status == 200, answer.body
    return answer.json()["items"]


def _comment(api, session, target, body: str, **extra):
    url = f"/assets/{target.asset_id}/versions/{target.version}/comments"
    response = api.post(url, json={"body": body, **extra}, token=session.access_token)
    assert response.status == 201, response.body
    return response.json()


def test_a_mention_notifies_members_only_and_is_stored_with_the_comment(api, live) -> None:
    # Given a studio with Ada (admin), Dora Lee and Arlo, and Zed in another studio
    ada = register_studio(api, display_name="Ada Lovelace")
    dora = _member(api, ada, "DIRECTOR", "Dora Lee")
    arlo = _member(api, ada, "ARTIST", "Arlo")
    zed = register_studio(api, display_name="Zed")
    target = make_version(ada)
    dora_tab = live.connect(dora)
    # When Ada mentions Dora by full name, Arlo by first name, herself, Zed, an e-mail and nobody
    body = "@DoraLee and @arlo: the blink. cc @Ada @Zed ana@example.com @Nobody."
    comment = _comment(api, ada, target, body)
    # Then the comment keeps its text and stores exactly the members mentioned (Ada too)
    assert comment["body"] == body
    assert comment["mentions"] == [
        {"userId": dora.user_id, "displayName": "Dora Lee"},
        {"userId": arlo.user_id, "displayName": "Arlo"},
        {"userId": ada.user_id, "displayName": "Ada Lovelace"},
    ]
    listed = api.get(f"/assets/{target.asset_id}/versions/1/comments", token=arlo.access_token).json()[
        "items"
    ]
    assert listed[0]["mentions"] == comment["mentions"]
    # And Dora and Arlo each have one mention notification naming Ada, the asset and the comment
    for member in (dora, arlo):
        [note] = _inbox(api, member)
        assert note["type"] == "mention"
        assert note["title"] == "Ada Lovelace mentioned you on Hero v1"
        assert note["actorId"] == ada.user_id and note["body"] == body
        assert note["target"]["commentId"] == comment["commentId"]
        assert note["target"]["assetId"] == target.asset_id
    # And Dora's open socket got it live
    [event] = dora_tab.received("notification:created")
    assert event["data"]["type"] == "mention"
    # And nobody else was notified: not Ada (her own action), not Zed (another studio)
    assert _inbox(api, ada) == [] and _inbox(api, zed) == []


def test_a_mention_of_another_studios_user_or_an_ambiguous_name_stays_text(api) -> None:
    # Given two members whose first name is Sam, and Zoe Park in another studio
    ada = register_studio(api, display_name="Ada")
    sam1 = _member(api, ada, "ARTIST", "Sam One")
    sam2 = _member(api, ada, "ARTIST", "Sam Two")
    zoe = register_studio(api, display_name="Zoe Park")
    target = make_version(ada)
    # When Ada writes @Sam and @ZoePark
    comment = _comment(api, ada, target, "@Sam look, and @ZoePark too")
    # Then nothing is stored as a mention, nobody is notified, nothing about Zoe is shown
    assert comment["mentions"] == []
    assert "Zoe Park" not in str(comment) and zoe.user_id not in str(comment)
    for session in (sam1, sam2, zoe):
        assert _inbox(api, session) == []


def test_a_reply_notifies_the_parent_author_once_and_an_edit_only_new_mentions(api) -> None:
    # Given a comment by Arlo
    ada = register_studio(api, display_name="Ada")
    arlo = _member(api, ada, "ARTIST", "Arlo")
    dora = _member(api, ada, "DIRECTOR", "Dora")
    target = make_version(ada)
    parent = _comment(api, arlo, target, "Is the blink late?")
    # When Dora replies, and Ada replies mentioning Arlo, and Arlo replies to himself
    _comment(api, dora, target, "Yes, two frames", parentId=parent["commentId"])
    _comment(api, ada, target, "@Arlo agreed", parentId=parent["commentId"])
    _comment(api, arlo, target, "Fixing", parentId=parent["commentId"])
    # Then Arlo has Dora's reply and Ada's mention, not a second one for Ada's reply, nothing of his own
    notes = _inbox(api, arlo)
    assert [(n["type"], n["actorId"]) for n in notes] == [("mention", ada.user_id), ("reply", dora.user_id)]
    assert notes[1]["title"] == "Dora replied to your comment on Hero v1"
    # When Dora edits her reply to mention Ada, then edits it again keeping that mention
    mine = _comment(api, dora, target, "@Arlo see")
    edited = api.patch(
        f"/comments/{mine['commentId']}", json={"body": "@Arlo @Ada see"}, token=dora.access_token
    )
    assert edited.status == 200 and len(edited.json()["mentions"]) == 2
    api.patch(f"/comments/{mine['commentId']}", json={"body": "@Arlo @Ada look"}, token=dora.access_token)
    # Then Ada got one mention (the first edit), Arlo one more (the comment itself), no repeats
    assert [n["type"] for n in _inbox(api, ada)] == ["mention"]
    assert [n["type"] for n in _inbox(api, arlo)] == ["mention", "mention", "reply"]


def test_a_decision_notifies_the_versions_publisher_not_the_reviewer(api) -> None:
    # Given a version Arlo published, and Dora, a director
    ada = register_studio(api, display_name="Ada")
    arlo = _member(api, ada, "ARTIST", "Arlo")
    dora = _member(api, ada, "DIRECTOR", "Dora")
    target = make_version(arlo)
    url = f"/assets/{target.asset_id}/versions/1/review"
    # When Dora requests changes with a note
    answer = api.post(
        url, json={"decision": "CHANGES_REQUESTED", "note": "Hold the blink"}, token=dora.access_token
    )
    assert answer.status == 201, answer.body
    # Then Arlo is told, with the note
    [note] = _inbox(api, arlo)
    assert note["type"] == "review" and note["title"] == "Dora requested changes on Hero v1"
    assert note["body"] == "Hold the blink" and note["target"]["version"] == 1
    # When a reviewer decides on a version they published themselves
    own = make_version(dora)
    api.post(
        f"/assets/{own.asset_id}/versions/1/review", json={"decision": "APPROVED"}, token=dora.access_token
    )
    # Then Dora is not notified of her own decision
    assert _inbox(api, dora) == []
