"""Resource-level rule (issue 9.5): a render is cancelled or retried by its requester, a PRODUCER or an
ADMIN; a DIRECTOR or ARTIST who did not request it gets 403 ``NOT_RENDER_REQUESTER``; a VIEWER gets
403 for ``render:write``. A refused job is left exactly as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.renders.conftest import Spy, Target, invoke_task, task_event
from tests.support.identity import Session, add_member

ROLES = ["ADMIN", "PRODUCER", "DIRECTOR", "ARTIST", "VIEWER"]
MAY_CONTROL_ANYONES = {"ADMIN", "PRODUCER"}


def _requested_by(api: Any, session: Session, target: Target) -> str:
    response = api.post(
        f"/assets/{target.asset_id}/renders", json={"preset": "hls"}, token=session.access_token
    )
    assert response.status == 202, response.body
    return response.json()["renderJobId"]


def _assert_refused(response: Any, role: str) -> None:
    assert response.status == 403, response.body
    error = response.json()["error"]
    if role == "VIEWER":
        assert error["code"] == "FORBIDDEN"
        assert error["details"] == {"permission": "render:write", "role": "VIEWER"}
    else:
        assert error["code"] == "NOT_RENDER_REQUESTER"
        assert error["details"] == {"permission": "render:control-any", "role": role, "owner": "requester"}


@pytest.mark.parametrize("role", ROLES)
def test_someone_elses_render_is_cancelled_only_by_a_producer_or_admin(
    api: Any, admin: Session, artist: Session, target: Target, *, runs: Spy, role: str
) -> None:
    # Given an artist's queued render, and a member of `role` who did not request it
    job_id = _requested_by(api, artist, target)
    other = add_member(api, admin, role)
    # When that member cancels it
    response = api.delete(f"/renders/{job_id}", token=other.access_token)
    # Then a PRODUCER or ADMIN may; anyone else is refused and it stays queued, nothing stopped
    status = api.get(f"/renders/{job_id}", token=artist.access_token).json()["status"]
    if role in MAY_CONTROL_ANYONES:
        assert response.status == 200, response.body
        assert status == "CANCELLED"
    else:
        _assert_refused(response, role)
        assert status == "QUEUED"
        assert runs.stopped == [] and runs.terminated == []


@pytest.mark.parametrize("role", ROLES)
def test_someone_elses_render_is_retried_only_by_a_producer_or_admin(
    api: Any, admin: Session, artist: Session, target: Target, *, runs: Spy, role: str
) -> None:
    # Given an artist's render that failed, and a member of `role` who did not request it
    job_id = _requested_by(api, artist, target)
    event = task_event("mark_failed_timeout", studioId=admin.studio_id, renderJobId=job_id)
    assert invoke_task("render-mark-failed", event) == {"status": "FAILED"}
    other = add_member(api, admin, role)
    # When that member retries it
    response = api.post(f"/renders/{job_id}/retry", token=other.access_token)
    # Then a PRODUCER or ADMIN may; anyone else is refused and it stays FAILED as attempt 1
    job = api.get(f"/renders/{job_id}", token=artist.access_token).json()
    if role in MAY_CONTROL_ANYONES:
        assert response.status == 202, response.body
        assert (job["status"], job["attempts"]) == ("QUEUED", 2)
    else:
        _assert_refused(response, role)
        assert (job["status"], job["attempts"]) == ("FAILED", 1)


@pytest.mark.parametrize("role", ["ADMIN", "PRODUCER", "DIRECTOR", "ARTIST"])
def test_the_requester_cancels_and_retries_their_own_render_in_every_creator_role(
    api: Any, admin: Session, target: Target, runs: Spy, role: str
) -> None:
    requester = add_member(api, admin, role)
    job_id = _requested_by(api, requester, target)
    assert api.delete(f"/renders/{job_id}", token=requester.access_token).status == 200
    retried = api.post(f"/renders/{job_id}/retry", token=requester.access_token)
    assert retried.status == 202 and retried.json()["attempts"] == 2
