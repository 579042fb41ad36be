"""Local Batch array jobs: one child per index with its own retries, the parent's summary, dependsOn
on the parent, terminate of the parent stopping every child (real local processes, a few ms each)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from keyframe.local import batch_jobs, batch_queue

# exit 1 on the first try of index 1, 0 otherwise (AWS_BATCH_JOB_ATTEMPT counts tries)
CHILD = (
    "import os, sys; i = os.environ.get('AWS_BATCH_JOB_ARRAY_INDEX', 'x'); "
    "a = os.environ['AWS_BATCH_JOB_ATTEMPT']; "
    "open(os.environ['OUT'] + f'/{i}-{a}', 'w').close(); sys.exit(1 if (i, a) == ('1', '1') else 0)"
)


def runner(tmp_path: Path, command: list[str], max_concurrent: int = 2) -> batch_queue.LocalBatch:
    definition: dict[str, Any] = {
        "jobDefinitionArn": "arn:aws:batch:us-east-1:123456789012:job-definition/keyframe-test-scene:1",
        "containerProperties": {"command": command, "environment": [{"name": "OUT", "value": str(tmp_path)}]},
        "retryStrategy": {"attempts": 3, "evaluateOnExit": [{"onExitCode": "*", "action": "RETRY"}]},
    }
    return batch_queue.LocalBatch(
        definitions=lambda ref: definition,
        queues=lambda ref: "arn:aws:batch:us-east-1:123456789012:job-queue/jobs",
        environment=lambda: {"PATH": "/usr/bin:/bin"},
        log_dir=tmp_path / "logs",
        cwd=tmp_path,
        max_concurrent=max_concurrent,
        kill_grace_seconds=1,
    )


def wait(local: batch_queue.LocalBatch, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [job] = local.describe([job_id])
        if job["status"] in batch_jobs.TERMINAL:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{job_id} did not end")


def test_each_child_runs_with_its_index_and_retries_alone_and_a_dependent_waits(tmp_path: Path) -> None:
    # Given an array job of 3 children whose index 1 fails its first try, and a job that dependsOn it
    local = runner(tmp_path, [sys.executable, "-c", CHILD])
    parent = local.submit({"jobName": "chunks", "jobDefinition": "scene", "jobQueue": "jobs",
                           "arrayProperties": {"size": 3}})["jobId"]  # fmt: skip
    after = local.submit({"jobName": "assemble", "jobDefinition": "scene", "jobQueue": "jobs",
                          "dependsOn": [{"jobId": parent}]})["jobId"]  # fmt: skip
    try:
        # When it runs
        done = wait(local, parent)
        # Then every child succeeded, child 1 on its second try only
        assert done["status"] == "SUCCEEDED"
        assert done["arrayProperties"] == {"size": 3, "statusSummary": {"SUCCEEDED": 3}}
        [child] = local.describe([f"{parent}:1"])
        assert child["arrayProperties"] == {"index": 1} and len(child["attempts"]) == 2
        # And the dependent job ran after all of them
        assert wait(local, after)["status"] == "SUCCEEDED"
        written = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
        assert written == ["0-1", "1-1", "1-2", "2-1", "x-1"]
    finally:
        local.shutdown(timeout=5)


def test_terminating_the_parent_stops_every_child_and_fails_the_dependent(tmp_path: Path) -> None:
    # Given an array job whose children sleep
    local = runner(tmp_path, [sys.executable, "-c", "import time; time.sleep(60)"], max_concurrent=3)
    parent = local.submit({"jobName": "chunks", "jobDefinition": "scene", "jobQueue": "jobs",
                           "arrayProperties": {"size": 3}})["jobId"]  # fmt: skip
    after = local.submit({"jobName": "assemble", "jobDefinition": "scene", "jobQueue": "jobs",
                          "dependsOn": [{"jobId": parent}]})["jobId"]  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while local.describe([parent])[0]["status"] != "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)
        # When the parent is terminated
        local.terminate(parent, "Cancelled by a user")
        # Then every child FAILED without a retry, and so did the parent and the dependent
        done = wait(local, parent)
        assert done["status"] == "FAILED" and done["arrayProperties"]["statusSummary"] == {"FAILED": 3}
        assert all(len(c["attempts"]) <= 1 for c in local.describe([f"{parent}:{i}" for i in range(3)]))
        assert wait(local, after)["statusReason"].startswith("Dependent Job failed")
    finally:
        local.shutdown(timeout=5)


@pytest.mark.parametrize("size", [1, 10_001])
def test_an_array_size_outside_batch_limits_is_refused(tmp_path: Path, size: int) -> None:
    local = runner(tmp_path, ["true"])
    with pytest.raises(batch_jobs.BatchError, match="between 2 and 10000"):
        local.submit(
            {"jobName": "x", "jobDefinition": "scene", "jobQueue": "jobs", "arrayProperties": {"size": size}}
        )
    local.shutdown(timeout=1)
