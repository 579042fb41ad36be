"""Notifications end to end on the local stack: a mention reaches the mentioned member's inbox, every
one of their open sockets (two tabs), and their mailbox (an immediate e-mail captured by the stack)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_live import (
    PASSWORD,
    Member,
    _member,
    new_asset,
    of_type,
    register,
    upload_png,
    wait_until_ready,
)
from tests.unit.media.samples import ffmpeg_sample

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-features")]


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ffmpeg_sample("png", tmp_path_factory.mktemp("notify") / "frame_0001.png")


def _invite(admin: Member, role: str, name: str) -> tuple[Member, str]:
    email = f"notify-{uuid.uuid4().hex[:10]}@example.com"
    invitation = admin.post("/studio/invitations", {"email": email, "role": role})
    accepted = admin.http.post(
        "/auth/accept-invitation",
        json={"token": invitation["token"], "password": PASSWORD, "displayName": name},
    )
    assert accepted.status_code == 201, accepted.text
    return _member(admin.http, accepted.json()), email


def _mailbox(http: BaseUrlSession, to: str, template: str, timeout: float = 10) -> list[dict[str, Any]]:
    """The captured e-mails to ``to`` made from ``template`` (waiting up to ``timeout`` for one)."""
    deadline = time.monotonic() + timeout
    while True:
        items = http.get("/_local/mailbox", params={"to": to}).json()["items"]
        found = [m for m in items if m.get("template") == template]
        if found or time.monotonic() > deadline:
            return found


@pytest.mark.slow  # tests/integration/notifications covers each channel
def test_a_mention_reaches_the_inbox_every_open_socket_and_the_mailbox(
    local_stack: LocalStackProcess, png: Path
) -> None:
    with BaseUrlSession(local_stack.http_url) as http:
        # Given a studio whose artist Arlo has two tabs open, and a version to review
        admin = register(http, "Notify Studio")
        arlo, arlo_email = _invite(admin, "ARTIST", "Arlo")
        _, asset_id = new_asset(admin)
        upload_png(admin, asset_id, png)
        assert wait_until_ready(admin, asset_id)["status"] == "READY"
        with arlo.socket() as tab1, arlo.socket() as tab2:
            # When the admin mentions him in a comment
            comment = admin.post(
                f"/assets/{asset_id}/versions/1/comments", {"body": "@Arlo the blink is two frames late"}
            )
            # Then the comment stores the mention
            assert comment["mentions"] == [{"userId": arlo.user_id, "displayName": "Arlo"}]
            # And both tabs receive the same notification in his room
            events = [
                tab.wait_for(of_type("notification:created", type="mention"), timeout=15).frame
                for tab in (tab1, tab2)
            ]
            assert {e["room"] for e in events} == {f"user:{arlo.user_id}"}
            assert events[0]["data"] == events[1]["data"] and events[0]["seq"] == events[1]["seq"]
            note = events[0]["data"]
            assert note["target"]["commentId"] == comment["commentId"]
            # And it is in his inbox, unread, counted on /me
            inbox = arlo.get("/me/notifications")
            assert [n["notificationId"] for n in inbox["items"]] == [note["notificationId"]]
            assert arlo.get("/me")["unreadNotifications"] == 1
            # And an e-mail was captured for him at once, with a link to his inbox and an unsubscribe link
            [mail] = _mailbox(http, arlo_email, "notification")
            assert mail["subject"] == "Ada mentioned you on Hero v1"
            assert any("/notifications/unsubscribe?token=" in link for link in mail["links"])
            # When one tab marks it read, both tabs are told
            arlo.post("/me/notifications/read", {"ids": [note["notificationId"]]}, expect=200)
            for tab in (tab1, tab2):
                read = tab.wait_for(of_type("notification:read"), timeout=15).frame
                assert read["data"] == {"ids": [note["notificationId"]], "unreadCount": 0}
        # And the admin, who acted, was notified of nothing
        assert admin.get("/me/notifications")["items"] == []
