"""The Batch backlog monitor: the age of each queue's oldest RUNNABLE job, as one datapoint per queue."""

from __future__ import annotations

from typing import Any

from infra.monitors.batch_backlog import oldest_runnable_age_seconds, publish, queue_name

NOW_MS = 1_800_000_000_000
JOBS = "arn:aws:batch:eu-west-1:123456789012:job-queue/keyframe-prod-jobs"
HIGH = "arn:aws:batch:eu-west-1:123456789012:job-queue/keyframe-prod-jobs-high"


class FakeBatch:
    """``list_jobs`` pages per queue, as the paginator yields them."""

    def __init__(self, pages: dict[str, list[list[int]]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def get_paginator(self, operation: str) -> FakeBatch:
        assert operation == "list_jobs"
        return self

    def paginate(self, **kwargs: Any):
        self.calls.append(kwargs)
        for page in self.pages.get(kwargs["jobQueue"], []):
            yield {"jobSummaryList": [{"jobId": str(c), "createdAt": c} for c in page]}


class FakeCloudWatch:
    def __init__(self) -> None:
        self.put: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> None:
        self.put.append(kwargs)


def test_the_oldest_runnable_job_on_any_page_sets_the_age():
    # Given a queue whose oldest RUNNABLE job (40 min old) is on the second page
    batch = FakeBatch({JOBS: [[NOW_MS - 60_000], [NOW_MS - 2_400_000, NOW_MS - 5_000]]})
    # Then its age is 2400 s, and only RUNNABLE jobs of that queue were asked for
    assert oldest_runnable_age_seconds(batch, JOBS, NOW_MS) == 2400.0
    assert batch.calls == [{"jobQueue": JOBS, "jobStatus": "RUNNABLE"}]


def test_an_empty_queue_publishes_zero_so_the_alarm_recovers():
    # Given two queues, one empty and one with a job waiting 90 s
    batch = FakeBatch({HIGH: [[NOW_MS - 90_000]]})
    cloudwatch = FakeCloudWatch()
    # When the monitor runs
    ages = publish(
        batch,
        cloudwatch,
        [JOBS, HIGH],
        namespace="Keyframe/Batch",
        metric="OldestRunnableJobAgeSeconds",
        now_ms=NOW_MS,
    )
    # Then each queue gets one datapoint in seconds, by queue name (0 for the empty one)
    assert ages == {"keyframe-prod-jobs": 0.0, "keyframe-prod-jobs-high": 90.0}
    (call,) = cloudwatch.put
    assert call["Namespace"] == "Keyframe/Batch"
    assert [(d["MetricName"], d["Dimensions"], d["Value"], d["Unit"]) for d in call["MetricData"]] == [
        (
            "OldestRunnableJobAgeSeconds",
            [{"Name": "JobQueue", "Value": "keyframe-prod-jobs"}],
            0.0,
            "Seconds",
        ),
        (
            "OldestRunnableJobAgeSeconds",
            [{"Name": "JobQueue", "Value": "keyframe-prod-jobs-high"}],
            90.0,
            "Seconds",
        ),
    ]


def test_queue_names_come_from_their_arns():
    assert queue_name(HIGH) == "keyframe-prod-jobs-high"
