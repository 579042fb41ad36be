"""The render safety net: an execution that ends outside its Catch (timed out, stopped, failed in a state
without a Catch) still ends its job, through the EventBridge "Step Functions Execution Status Change"
event sent to ``render-mark-failed`` (``events/renders/execution_status_change.json``)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from keyframe.renders import service, worker_writes
from keyframe.renders.tasks import EXECUTION_EVENT, from_execution_event
from tests.integration.renders.conftest import Spy, Target, invoke_task, task_event
from tests.support.identity import Session


def _request(api: Any, session: Session, asset_id: str) -> str:
    response = api.post(f"/assets/{asset_id}/renders", json={"preset": "hls"}, token=session.access_token)
    assert response.status == 202, response.body
    return str(response.json()["renderJobId"])


def execution_ended(
    studio_id: str,
    job_id: str,
    status: str,
    *,
    attempt: int = 1,
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """The sample status-change event for attempt ``attempt`` of a job, ended with ``status``."""
    event = copy.deepcopy(task_event("execution_status_change"))
    detail = event["detail"]
    execution_input = {**json.loads(detail["input"]), "studioId": studio_id, "renderJobId": job_id}
    execution_input["attempt"] = attempt
    detail.update(status=status, error=error, cause=cause, input=json.dumps(execution_input))
    return event


def _job(api: Any, session: Session, job_id: str) -> dict[str, Any]:
    return api.get(f"/renders/{job_id}", token=session.access_token).json()


def test_the_sample_event_is_an_execution_status_change_carrying_the_start_input() -> None:
    # Given the sample event and the sample execution input
    event = task_event("execution_status_change")
    # Then it has EventBridge's shape, and its input (a JSON string) is the state machine's input
    assert (event["source"], event["detail-type"]) == ("aws.states", EXECUTION_EVENT)
    assert event["detail"]["status"] == "TIMED_OUT"
    assert event["resources"] == [event["detail"]["executionArn"]]
    assert json.loads(event["detail"]["input"]) == task_event("start")
    # And it becomes the task input of a Catch that caught States.Timeout
    assert from_execution_event(event) == {
        **task_event("start"),
        "error": {"Error": "States.Timeout", "Cause": "The render execution ended TIMED_OUT"},
    }


@pytest.mark.parametrize(
    ("status", "error", "cause", "expected"),
    [
        ("ABORTED", None, None, ("ExecutionAborted", "The render execution ended ABORTED")),
        ("FAILED", "States.Runtime", "MarkFailed gave up", ("States.Runtime", "MarkFailed gave up")),
        ("TIMED_OUT", "States.Timeout", None, ("States.Timeout", "The render execution ended TIMED_OUT")),
    ],
)
def test_the_executions_own_error_is_kept_and_a_missing_one_is_named(
    status: str, error: str | None, cause: str | None, expected: tuple[str, str]
) -> None:
    event = execution_ended("s", "j", status, error=error, cause=cause)
    assert from_execution_event(event)["error"] == {"Error": expected[0], "Cause": expected[1]}


def test_a_step_functions_task_input_passes_unchanged() -> None:
    event = task_event("mark_failed_timeout")
    assert from_execution_event(event) is event


def test_an_event_without_the_execution_input_is_refused() -> None:
    event = task_event("execution_status_change")
    event["detail"].update(input=None, inputDetails={"included": False})
    with pytest.raises(ValueError, match="carries no execution input"):
        from_execution_event(event)


def test_a_timed_out_execution_fails_its_running_job_and_kills_its_container(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a RUNNING job whose container reported its Batch job
    job_id = _request(api, admin, target.asset_id)
    assert (
        worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id="batch-7", batch_attempt=1)
        is not None
    )
    assert service.active_renders(admin.studio_id) == 1
    # When its execution times out (no Catch runs) and EventBridge delivers the status change
    result = invoke_task("render-mark-failed", execution_ended(admin.studio_id, job_id, "TIMED_OUT"))
    # Then the job is FAILED with RENDER_TIMEOUT, its Batch job terminated and its slot given back
    assert result == {"status": "FAILED"}
    job = _job(api, admin, job_id)
    assert job["status"] == "FAILED" and job["endedAt"]
    assert job["error"]["code"] == "RENDER_TIMEOUT"
    assert runs.terminated == [("batch-7", "Render timed out")]
    assert service.active_renders(admin.studio_id) == 0


def test_a_stopped_execution_fails_its_running_job_and_kills_its_container(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a RUNNING job
    job_id = _request(api, admin, target.asset_id)
    worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id="batch-8", batch_attempt=1)
    # When its execution is stopped outside the API (the console), not by a cancel
    event = execution_ended(admin.studio_id, job_id, "ABORTED", cause="Stopped from the console")
    invoke_task("render-mark-failed", event)
    # Then the job is FAILED saying so, and nothing is left running on Batch
    job = _job(api, admin, job_id)
    assert job["status"] == "FAILED" and job["error"]["code"] == "RENDER_FAILED"
    assert "ExecutionAborted" in job["error"]["message"] and "console" in job["error"]["message"]
    assert [t[0] for t in runs.terminated] == ["batch-8"]


def test_a_succeeded_job_is_left_as_it_is(api: Any, admin: Session, target: Target, runs: Spy) -> None:
    # Given a job that SUCCEEDED
    job_id = _request(api, admin, target.asset_id)
    worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id="batch-9", batch_attempt=1)
    worker_writes.record_outputs(
        admin.studio_id, job_id, 1, {"prefix": "p/", "keys": ["p/x"], "primary": "p/x"}
    )
    invoke_task("render-finalize", task_event("finalize", studioId=admin.studio_id, renderJobId=job_id))
    before = _job(api, admin, job_id)
    assert before["status"] == "SUCCEEDED"
    # When a (late, or duplicated) status change of its execution arrives
    result = invoke_task("render-mark-failed", execution_ended(admin.studio_id, job_id, "TIMED_OUT"))
    # Then it stays SUCCEEDED, unchanged, and no Batch job is terminated
    assert result == {"status": "SUCCEEDED"}
    assert _job(api, admin, job_id) == before
    assert runs.terminated == []


def test_a_job_the_catch_already_failed_keeps_its_reason(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a job MarkFailed already failed (the execution then ends FAILED in RenderFailed)
    job_id = _request(api, admin, target.asset_id)
    invoke_task(
        "render-mark-failed", task_event("mark_failed_timeout", studioId=admin.studio_id, renderJobId=job_id)
    )
    before = _job(api, admin, job_id)
    runs.terminated.clear()
    # When the FAILED status change of that execution arrives
    event = execution_ended(
        admin.studio_id, job_id, "FAILED", error="RenderFailed", cause="The render job failed"
    )
    assert invoke_task("render-mark-failed", event) == {"status": "FAILED"}
    # Then nothing changes: the first reason stays and nothing is terminated
    assert _job(api, admin, job_id) == before
    assert runs.terminated == []


def test_a_cancelled_job_stays_cancelled_and_a_retry_is_not_touched(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    # Given a job cancelled while running (its execution is stopped: ABORTED), then retried as attempt 2
    job_id = _request(api, admin, target.asset_id)
    worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id="batch-10", batch_attempt=1)
    assert api.delete(f"/renders/{job_id}", token=admin.access_token).status == 200
    aborted = execution_ended(
        admin.studio_id, job_id, "ABORTED", error="Cancelled", cause="Cancelled by a user"
    )
    invoke_task("render-mark-failed", aborted)
    assert _job(api, admin, job_id)["status"] == "CANCELLED"
    assert api.post(f"/renders/{job_id}/retry", token=admin.access_token).status == 202
    worker_writes.begin_try(admin.studio_id, job_id, 2, batch_job_id="batch-11", batch_attempt=1)
    runs.terminated.clear()
    # When attempt 1's status change arrives (again, late)
    invoke_task("render-mark-failed", aborted)
    # Then attempt 2 keeps RUNNING and its container is not terminated
    job = _job(api, admin, job_id)
    assert (job["status"], job["attempts"]) == ("RUNNING", 2)
    assert runs.terminated == []
