"""A render's requester is notified when it succeeds or fails, never when it is cancelled."""

from __future__ import annotations

from typing import Any

from keyframe.renders import service
from keyframe.renders.schemas import RenderStatus
from tests.integration.renders.conftest import Spy, Target, invoke_task
from tests.integration.renders.test_safety_net import execution_ended
from tests.support.identity import Session


def _request(api: Any, session: Session, asset_id: str) -> str:
    response = api.post(f"/assets/{asset_id}/renders", json={"preset": "hls"}, token=session.access_token)
    assert response.status == 202, response.body
    return str(response.json()["renderJobId"])


def _inbox(api: Any, session: Session) -> list[dict[str, Any]]:
    return api.get("/me/notifications", token=session.access_token).json()["items"]


def test_the_requester_hears_of_success_and_failure_but_not_of_a_cancel(
    api: Any, admin: Session, artist: Session, target: Target, runs: Spy
) -> None:
    # Given three renders the artist requested
    done, broken, cancelled = (_request(api, artist, target.asset_id) for _ in range(3))
    # When one succeeds, one times out, and the artist cancels the third
    assert service.finish(artist.studio_id, done, 1, RenderStatus.SUCCEEDED) is not None
    invoke_task("render-mark-failed", execution_ended(artist.studio_id, broken, "TIMED_OUT"))
    assert api.delete(f"/renders/{cancelled}", token=artist.access_token).status in (200, 202)
    # Then the artist has two notifications, newest first, naming the job; the admin none
    failed, finished = _inbox(api, artist)
    assert (failed["type"], failed["target"]["renderJobId"]) == ("render-failed", broken)
    assert failed["title"] == "Your hls render of v1 failed" and failed["body"]
    assert (finished["type"], finished["target"]["renderJobId"]) == ("render-finished", done)
    assert finished["title"] == "Your hls render of v1 is ready" and finished["actorId"] is None
    assert _inbox(api, admin) == []
