"""Preferences per type, the immediate e-mail, the daily digest and the unsubscribe link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from keyframe import clock
from keyframe.local import digests, mailbox
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


def _digest_of_two_replies(api):
    """Arlo, who chose the digest for replies, and two replies to his comment queued today."""
    ada = register_studio(api, studio_name="Moonbeam", display_name="Ada")
    arlo = _member(api, ada, "ARTIST", "Arlo")
    target = make_version(ada)
    parent = _comment(api, arlo, target, "Is the blink late?")
    api.patch("/me/notification-preferences", json={"delivery": {"reply": "DIGEST"}}, token=arlo.access_token)
    _comment(api, ada, target, "Yes", parentId=parent["commentId"])
    _comment(api, ada, target, "Two frames", parentId=parent["commentId"])
    return arlo, lambda text: _comment(api, ada, target, text, parentId=parent["commentId"])


def test_a_day_is_digested_once_per_member_even_when_the_run_repeats(api) -> None:
    # Given a digest of two replies queued today, sent once
    arlo, reply = _digest_of_two_replies(api)
    today = emails._today()
    assert emails.send_digests(today) == 1
    # When a late reply is queued for the same day and the run repeats (a retry, a run by hand)
    reply("One more")
    assert len(list(emails.DigestEntry.query(emails.digest_pk(today)))) == 1
    # Then no second e-mail of that day reaches Arlo, and the late entry is cleared, not kept for ever
    assert emails.send_digests(today) == 0
    assert len(_mails(arlo.email, "digest")) == 1
    assert list(emails.DigestEntry.query(emails.digest_pk(today))) == []


def test_a_refused_digest_is_sent_by_the_next_run(api, monkeypatch) -> None:
    # Given a digest queued today, and SES refusing the first try
    arlo, _ = _digest_of_two_replies(api)
    today = emails._today()
    real_send = emails.mail.send

    def refuse(*args, **kwargs):
        raise emails.mail.MailError("throttled")

    monkeypatch.setattr(emails.mail, "send", refuse)
    assert emails.send_digests(today) == 0
    # When the next run finds SES accepting again
    monkeypatch.setattr(emails.mail, "send", real_send)
    # Then Arlo gets the digest with both replies, once
    assert emails.send_digests(today) == 1
    [digest] = _mails(arlo.email, "digest")
    assert digest.subject == "2 new in Moonbeam"


def test_the_daily_run_catches_up_the_days_before_today_and_leaves_today_queued(api, monkeypatch) -> None:
    # Given replies queued "yesterday" (the clock moved on a day since)
    arlo, _ = _digest_of_two_replies(api)
    queued_on = emails._today()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()

    morning = datetime.combine(tomorrow, datetime.min.time(), tzinfo=UTC).replace(hour=7)

    # When the scheduled run (no day given) happens the next morning
    monkeypatch.setattr(clock, "now", lambda: morning)
    assert emails.send_digests() == 1
    # Then the day's digest went out, and a run of the same morning sends nothing more
    assert [m.subject for m in _mails(arlo.email, "digest")] == ["2 new in Moonbeam"]
    assert emails.send_digests() == 0
    assert list(emails.DigestEntry.query(emails.digest_pk(queued_on))) == []


def test_the_local_command_sends_today_s_digest_through_the_running_stack(api, tmp_path, monkeypatch, capsys):
    # Given a queued digest and the running local stack's info file (its environment: this test's)
    arlo, _ = _digest_of_two_replies(api)
    (tmp_path / "local-stack.json").write_text(json.dumps({"env": {}}))
    monkeypatch.setenv("KEYFRAME_STATE_DIR", str(tmp_path))
    # When a developer runs `python -m keyframe.local.digests --day today`
    code = digests.main(["--day", "today"])
    # Then the digest is in the mailbox and the command says so
    assert code == 0 and "1 digest e-mail(s) sent" in capsys.readouterr().out
    assert [m.subject for m in _mails(arlo.email, "digest")] == ["2 new in Moonbeam"]
    # And with no stack running it says how to start one
    monkeypatch.setenv("KEYFRAME_STATE_DIR", str(tmp_path / "none"))
    assert digests.main([]) == 1 and "make dev" in capsys.readouterr().err


def test_a_digest_lists_the_member_s_local_day_and_comes_the_next_local_morning(api) -> None:
    # Given Arlo in Auckland, who gets replies in the digest, and two replies queued today
    arlo, reply = _digest_of_two_replies(api)
    chosen = api.patch(
        "/me/notification-preferences", json={"timeZone": "Pacific/Auckland"}, token=arlo.access_token
    )
    assert chosen.status == 200, chosen.body
    assert chosen.json()["timeZone"] == "Pacific/Auckland" and chosen.json()["delivery"]["reply"] == "DIGEST"
    assert api.get("/me/notification-preferences", token=arlo.access_token).json()["timeZone"] == (
        "Pacific/Auckland"
    )
    # (the two replies were queued before he chose, for his UTC day; a third now goes to his Auckland
    # day: the same day, or the next one when Auckland is already a date ahead)
    utc_day = emails._today()
    local_day = datetime.now(ZoneInfo("Pacific/Auckland")).date().isoformat()
    reply("Third reply")
    expected = "3 new in Moonbeam" if local_day == utc_day else "1 new in Moonbeam"
    due = emails.due_at(local_day, "Pacific/Auckland")
    # When the hourly run comes a minute before 07:00 in Auckland the next morning / Then nothing for him
    assert due.astimezone(UTC).hour == 18  # 07:00 NZDT is 18:00 UTC the day before
    emails.send_digests(now=due - timedelta(minutes=1))
    assert not [m for m in _mails(arlo.email, "digest") if m.subject == expected]
    # When it comes at 07:00 there / Then his Auckland day's digest goes, once
    emails.send_digests(now=due)
    emails.send_digests(now=due + timedelta(hours=1))
    assert len([m for m in _mails(arlo.email, "digest") if m.subject == expected]) == 1


def test_a_time_zone_must_be_a_known_iana_name(api) -> None:
    ada = register_studio(api)
    for zone in ("Mars/Olympus", "", "+02:00", 7):
        answer = api.patch("/me/notification-preferences", json={"timeZone": zone}, token=ada.access_token)
        assert answer.status == 400, (zone, answer.body)
    assert api.get("/me/notification-preferences", token=ada.access_token).json()["timeZone"] == "UTC"
