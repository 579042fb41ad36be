"""Preferences per type, the immediate e-mail, the daily digest and the unsubscribe link."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from keyframe.local import mailbox
from keyframe.notifications import emails
from tests.integration.live.support import make_version
from tests.support.identity import accept, invite, register_studio


def _member(api, admin, role: str, name: str):
    invitation = invite(api, admin, role)
    return accept(api, invitation["token"], invitation["email"], display_name=name)


def _comment(api, session, target, body: str, **extra) -> dict:
    url = f"/assets/{target.asset_id}/versions/{target.version}/comments"
    response = api.post(url, json={"body": body, **extra}, token=session.access_token)
    assert response.status == 201, response.body
    return response.json()


def _mails(to: str, template: str = "notification") -> list:
    """Captured e-mails to ``to`` from ``template`` (the invitation e-mail is left out)."""
    return [m for m in mailbox.messages(to=to) if m.template == template]


def _token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_a_mention_is_mailed_at_once_until_the_unsubscribe_link_is_used(api) -> None:
    # Given Dora, who never chose a delivery (a mention is e-mailed at once by default)
    ada = register_studio(api, studio_name="Moonbeam", display_name="Ada")
    dora = _member(api, ada, "DIRECTOR", "Dora")
    target = make_version(ada)
    # When Ada mentions her
    _comment(api, ada, target, "@Dora the blink is late")
    # Then one e-mail reaches Dora with the title, the studio, the text and an unsubscribe link
    [message] = _mails(dora.email)
    assert message.template == "notification"
    assert message.subject == "Ada mentioned you on Hero v1"
    assert "Moonbeam" in message.html and "@Dora the blink is late" in message.text
    [unsubscribe] = [link for link in message.links if emails.UNSUBSCRIBE_PATH in link]
    # When the link's token is posted without signing in
    answer = api.post("/notifications/unsubscribe", json={"token": _token_of(unsubscribe)})
    # Then mentions now reach Dora's inbox only, and the next mention sends no e-mail
    assert answer.status == 200, answer.body
    assert answer.json() == {"types": ["mention"]}
    delivery = api.get("/me/notification-preferences", token=dora.access_token).json()["delivery"]
    assert delivery["mention"] == "INBOX" and delivery["review"] == "IMMEDIATE"
    _comment(api, ada, target, "@Dora again")
    assert len(_mails(dora.email)) == 1
    assert len(api.get("/me/notifications", token=dora.access_token).json()["items"]) == 2


def test_a_tampered_unsubscribe_token_changes_nothing(api) -> None:
    # Given a real link's token with another member's id swapped in
    ada = register_studio(api, display_name="Ada")
    dora = _member(api, ada, "DIRECTOR", "Dora")
    target = make_version(ada)
    _comment(api, ada, target, "@Dora look")
    [message] = _mails(dora.email)
    token = _token_of(next(link for link in message.links if emails.UNSUBSCRIBE_PATH in link))
    payload, signature = token.split(".")
    for bad in (f"{payload}x.{signature}", f"{payload}.{signature[:-2]}", "not-a-token-at-all"):
        # When it is posted / Then 400 INVALID_UNSUBSCRIBE_TOKEN and mentions are still e-mailed
        answer = api.post("/notifications/unsubscribe", json={"token": bad})
        assert answer.status == 400 and answer.json()["error"]["code"] == "INVALID_UNSUBSCRIBE_TOKEN"
    delivery = api.get("/me/notification-preferences", token=dora.access_token).json()["delivery"]
    assert delivery["mention"] == "IMMEDIATE"


def test_preferences_choose_inbox_only_or_the_daily_digest(api) -> None:
    # Given Arlo's comment, and Arlo choosing: mentions to the inbox only, replies in the digest
    ada = register_studio(api, studio_name="Moonbeam", display_name="Ada")
    arlo = _member(api, ada, "ARTIST", "Arlo")
    dora = _member(api, ada, "DIRECTOR", "Dora")
    target = make_version(ada)
    parent = _comment(api, arlo, target, "Is the blink late?")
    changed = api.patch(
        "/me/notification-preferences",
        json={"delivery": {"mention": "INBOX", "reply": "DIGEST"}},
        token=arlo.access_token,
    )
    assert changed.status == 200, changed.body
    assert changed.json()["delivery"]["mention"] == "INBOX"
    # When Dora and Ada reply, and Ada mentions him
    _comment(api, dora, target, "Yes", parentId=parent["commentId"])
    _comment(api, ada, target, "Two frames", parentId=parent["commentId"])
    _comment(api, ada, target, "@Arlo see above")
    # Then no e-mail yet; the day's digest sends one e-mail listing both replies, once
    assert _mails(arlo.email) + _mails(arlo.email, "digest") == []
    assert emails.send_digests(emails._today()) == 1
    [digest] = _mails(arlo.email, "digest")
    assert digest.template == "digest" and digest.subject == "2 new in Moonbeam"
    assert "Dora replied to your comment on Hero v1" in digest.text
    assert "Ada replied to your comment on Hero v1" in digest.text
    assert emails.send_digests(emails._today()) == 0
    # And the digest's unsubscribe link stops every type
    link = next(link for link in digest.links if emails.UNSUBSCRIBE_PATH in link)
    answer = api.post("/notifications/unsubscribe", json={"token": _token_of(link)}).json()
    assert len(answer["types"]) == 7
    delivery = api.get("/me/notification-preferences", token=arlo.access_token).json()["delivery"]
    assert set(delivery.values()) == {"INBOX"}


def test_a_preference_names_a_known_type_and_delivery(api) -> None:
    ada = register_studio(api)
    for body in ({"delivery": {}}, {"delivery": {"mention": "SMS"}}, {"delivery": {"poke": "INBOX"}}, {}):
        answer = api.patch("/me/notification-preferences", json=body, token=ada.access_token)
        assert answer.status == 400, (body, answer.body)
