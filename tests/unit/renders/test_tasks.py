"""What the state machine's tasks make of Batch's answers (both Step Functions' PascalCase and camelCase)."""

from __future__ import annotations

import json

from keyframe.renders.tasks import batch_logs, failure_error

BATCH_JOB = {
    "jobId": "b-1",
    "status": "FAILED",
    "statusReason": "Essential container in task exited",
    "attempts": [{"container": {"exitCode": 2, "logStreamName": "render/default/abc"}}],
    "container": {"exitCode": 2, "logStreamName": "render/default/abc"},
}


def _pascal(value):
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def test_logs_from_a_batch_job_in_either_case() -> None:
    expected = {
        "batchJobId": "b-1",
        "batchAttempt": 1,
        "logStreamName": "render/default/abc",
        "logGroup": "/aws/batch/job",
    }
    assert batch_logs(BATCH_JOB) == expected
    assert batch_logs(_pascal(BATCH_JOB)) == expected


def test_a_local_log_file_has_no_log_group() -> None:
    job = {**BATCH_JOB, "container": {"logStreamName": "/repo/.keyframe/batch-logs/b-1.log"}}
    logs = batch_logs(job)
    assert logs is not None and "logGroup" not in logs


def test_the_workers_reason_wins_over_batchs() -> None:
    mine = {"code": "INPUT_UNREADABLE", "message": "The source cannot be decoded"}
    error = failure_error({"Error": "States.TaskFailed", "Cause": json.dumps(_pascal(BATCH_JOB))}, mine)
    assert error == mine


def test_without_the_workers_reason_batchs_exit_code_is_told() -> None:
    error = failure_error({"Error": "States.TaskFailed", "Cause": json.dumps(BATCH_JOB)}, None)
    assert error["code"] == "RENDER_FAILED" and "exit code 2" in error["message"]


def test_timeouts_are_named() -> None:
    timed_out = {**BATCH_JOB, "statusReason": "Job attempt duration exceeded timeout"}
    assert (
        failure_error({"Error": "States.TaskFailed", "Cause": json.dumps(timed_out)}, None)["code"]
        == "RENDER_TIMEOUT"
    )
    assert failure_error({"Error": "States.Timeout", "Cause": "x"}, None)["code"] == "RENDER_TIMEOUT"


def test_a_refused_submission_is_named() -> None:
    error = failure_error({"Error": "Batch.ClientException", "Cause": "Job queue does not exist"}, None)
    assert error["code"] == "BATCH_SUBMIT_FAILED"
