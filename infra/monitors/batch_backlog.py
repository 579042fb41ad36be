"""Publish the age of the oldest RUNNABLE job of each AWS Batch queue as a CloudWatch metric.

Deployed by :meth:`infra.monitoring.Monitoring.watch_batch` (not part of the layer: it needs only
boto3) and run every minute. For each queue ARN of ``JOB_QUEUES`` (comma-separated) it lists the
RUNNABLE jobs and puts ``METRIC_NAMESPACE``/``METRIC_NAME`` (seconds, dimension ``JobQueue`` = the
queue's name) = now - the oldest job's ``createdAt``, or 0 when nothing waits. Batch itself publishes
no metric of jobs still waiting.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3


def queue_name(queue_arn: str) -> str:
    """``arn:aws:batch:…:job-queue/keyframe-prod-jobs`` -> ``keyframe-prod-jobs``."""
    return queue_arn.rsplit("/", 1)[-1]


def oldest_runnable_age_seconds(client: Any, queue_arn: str, now_ms: int) -> float:
    """Seconds the oldest RUNNABLE job of ``queue_arn`` has existed (0.0 when none): every page is read."""
    oldest: int | None = None
    for page in client.get_paginator("list_jobs").paginate(jobQueue=queue_arn, jobStatus="RUNNABLE"):
        for job in page.get("jobSummaryList", []):
            created = int(job.get("createdAt") or now_ms)
            oldest = created if oldest is None else min(oldest, created)
    return 0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000)


def publish(
    batch: Any, cloudwatch: Any, queues: list[str], *, namespace: str, metric: str, now_ms: int
) -> dict:
    """Measure every queue and put one datapoint each; returns ``{queue name: age in seconds}``."""
    ages = {queue_name(arn): oldest_runnable_age_seconds(batch, arn, now_ms) for arn in queues}
    if ages:
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "JobQueue", "Value": name}],
                    "Value": age,
                    "Unit": "Seconds",
                }
                for name, age in ages.items()
            ],
        )
    return ages


def handler(event: dict, context: object) -> dict:
    """EventBridge schedule entry point."""
    queues = [arn for arn in os.environ["JOB_QUEUES"].split(",") if arn]
    return publish(
        boto3.client("batch"),
        boto3.client("cloudwatch"),
        queues,
        namespace=os.environ["METRIC_NAMESPACE"],
        metric=os.environ["METRIC_NAME"],
        now_ms=int(time.time() * 1000),
    )
