"""Local Batch rules: parameter substitution, the local command, evaluateOnExit decisions."""

from __future__ import annotations

import sys

from keyframe.local import batch, batch_jobs, batch_runner


def test_ref_tokens_are_replaced_by_parameters_and_unknown_ones_kept() -> None:
    # Given / When
    args = batch_jobs.substitute(
        ["render", "Ref::jobId", "--out=Ref::output", "Ref::missing"], {"jobId": "j-1", "output": "s3://b/k"}
    )

    # Then
    assert args == ["render", "j-1", "--out=s3://b/k", "Ref::missing"]


def test_a_leading_python_runs_with_this_interpreter() -> None:
    assert batch_runner.local_command(["python3", "-m", "x"]) == [sys.executable, "-m", "x"]
    assert batch_runner.local_command(["ffmpeg", "-version"]) == ["ffmpeg", "-version"]


def test_evaluate_on_exit_takes_the_first_matching_condition() -> None:
    # Given: retry on a kill (137), exit on anything else
    conditions = [{"onExitCode": "137", "action": "RETRY"}, {"onReason": "*", "action": "exit"}]

    # When / Then
    assert batch_jobs.decide_retry(conditions, 137, None, batch_jobs.ESSENTIAL_EXITED) == "RETRY"
    assert batch_jobs.decide_retry(conditions, 1, None, batch_jobs.ESSENTIAL_EXITED) == "EXIT"
    assert batch_jobs.decide_retry([{"onExitCode": "2*", "action": "RETRY"}], 1, None, None) is None
    assert (
        batch_jobs.decide_retry(
            [{"onStatusReason": "Essential*", "action": "RETRY"}], 3, None, batch_jobs.ESSENTIAL_EXITED
        )
        == "RETRY"
    )


def test_register_request_is_a_valid_container_job_definition() -> None:
    # Given
    spec = batch.JobDefinitionSpec(
        "render",
        ("python", "-m", "w", "Ref::jobId"),
        timeout_seconds=600,
        retry_attempts=2,
        evaluate_on_exit=({"onExitCode": "137", "action": "RETRY"},),
        environment={"A": "1"},
    )

    # When
    request = spec.register_request("local")

    # Then
    assert request["jobDefinitionName"] == "keyframe-local-render"
    assert request["containerProperties"]["command"] == ["python", "-m", "w", "Ref::jobId"]
    assert request["containerProperties"]["environment"] == [{"name": "A", "value": "1"}]
    assert request["retryStrategy"] == {
        "attempts": 2,
        "evaluateOnExit": [{"onExitCode": "137", "action": "RETRY"}],
    }
    assert request["timeout"] == {"attemptDurationSeconds": 600}
