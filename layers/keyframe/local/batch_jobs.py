"""Batch jobs on the local stack: the job record DescribeJobs/ListJobs report, and Batch's rules.

- :class:`Job`: one submitted job (an array job's parent or child too) and everything
  ``DescribeJobs``/``ListJobs`` answer about it; its fields change under the queue's lock
  (:class:`keyframe.local.batch_queue.LocalBatch`).
- :func:`substitute` (``Ref::param`` in a command), :func:`decide_retry` (``retryStrategy.
  evaluateOnExit``), the status reasons Batch reports, and :class:`BatchError` (Batch's 400).
- :func:`definition_lookup` / :func:`queue_lookup`: job definitions and queues as the emulator's
  moto keeps them.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINAL = frozenset({"SUCCEEDED", "FAILED"})
ESSENTIAL_EXITED = "Essential container in task exited"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
_REF = re.compile(r"Ref::([A-Za-z0-9_\-]+)")


class BatchError(Exception):
    """A Batch API error answered to the client (``ClientException`` is Batch's 400)."""

    def __init__(self, message: str, code: str = "ClientException", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def now_ms() -> int:
    """The time now in epoch milliseconds (how Batch reports ``createdAt``, ``startedAt``, ``stoppedAt``)."""
    return int(time.time() * 1000)


def substitute(args: Iterable[str], parameters: dict[str, str]) -> list[str]:
    """Replace ``Ref::name`` in each argument with ``parameters[name]`` (unknown refs stay as they are)."""
    return [_REF.sub(lambda m: str(parameters.get(m.group(1), m.group(0))), str(arg)) for arg in args]


def decide_retry(
    conditions: list[dict[str, Any]], exit_code: int | None, reason: str | None, status_reason: str | None
) -> str | None:
    """The ``evaluateOnExit`` action (``RETRY``/``EXIT``) of the first matching condition, else None.

    A condition matches when each of its ``onExitCode``, ``onReason`` and ``onStatusReason`` globs
    that is present matches (case-sensitive, ``*`` allowed), as in AWS Batch.
    """
    for condition in conditions:
        checks = (
            ("onExitCode", "" if exit_code is None else str(exit_code)),
            ("onReason", reason or ""),
            ("onStatusReason", status_reason or ""),
        )
        if all(fnmatch.fnmatchcase(value, condition[key]) for key, value in checks if key in condition):
            return str(condition.get("action", "")).upper() or None
    return None


@dataclass
class Job:
    """One submitted job and everything DescribeJobs reports about it."""

    job_id: str
    name: str
    arn: str
    queue_arn: str
    definition_arn: str
    command: list[str]
    environment: dict[str, str]
    parameters: dict[str, str]
    retry_strategy: dict[str, Any]
    timeout_seconds: int | None
    depends_on: list[str]
    tags: dict[str, str]
    image: str
    log_path: Path
    created_at: int = field(default_factory=now_ms)
    status: str = "SUBMITTED"
    status_reason: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    terminate_reason: str | None = None
    process: subprocess.Popen[bytes] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    array_size: int | None = None
    array_index: int | None = None
    children: list[Job] = field(default_factory=list)
    parent: Job | None = None

    def describe(self) -> dict[str, Any]:
        """The job as ``DescribeJobs`` returns it."""
        container: dict[str, Any] = {
            "image": self.image,
            "command": self.command,
            "environment": [{"name": k, "value": v} for k, v in self.environment.items()],
            "logStreamName": str(self.log_path),
        }
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self.reason:
            container["reason"] = self.reason
        described: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "jobId": self.job_id,
            "jobQueue": self.queue_arn,
            "status": self.status,
            "attempts": list(self.attempts),
            "createdAt": self.created_at,
            "retryStrategy": self.retry_strategy,
            "dependsOn": [{"jobId": d} for d in self.depends_on],
            "jobDefinition": self.definition_arn,
            "parameters": self.parameters,
            "container": container,
            "tags": self.tags,
            "platformCapabilities": ["EC2"],
        }
        if self.status_reason:
            described["statusReason"] = self.status_reason
        if self.started_at is not None:
            described["startedAt"] = self.started_at
        if self.stopped_at is not None:
            described["stoppedAt"] = self.stopped_at
        if self.timeout_seconds:
            described["timeout"] = {"attemptDurationSeconds": self.timeout_seconds}
        if self.array_size is not None:
            summary: dict[str, int] = {}
            for child in self.children:
                summary[child.status] = summary.get(child.status, 0) + 1
            described["arrayProperties"] = {"size": self.array_size, "statusSummary": summary}
        elif self.array_index is not None:
            described["arrayProperties"] = {"index": self.array_index}
        return described

    def summary(self) -> dict[str, Any]:
        """The job as ``ListJobs`` returns it."""
        summary = {
            k: v
            for k, v in self.describe().items()
            if k
            in (
                "jobArn",
                "jobId",
                "jobName",
                "createdAt",
                "status",
                "statusReason",
                "startedAt",
                "stoppedAt",
                "jobDefinition",
            )
        }
        if self.exit_code is not None or self.reason:
            summary["container"] = {
                k: v for k, v in (("exitCode", self.exit_code), ("reason", self.reason)) if v is not None
            }
        return summary


DefinitionLookup = Callable[[str], dict[str, Any]]
QueueLookup = Callable[[str], str]


def definition_lookup(client: Any) -> DefinitionLookup:
    """Resolve a job definition (name, ``name:revision`` or ARN) with a boto3 Batch ``client``
    (the emulator's moto keeps the definitions); the latest ACTIVE revision for a bare name."""

    def lookup(ref: str) -> dict[str, Any]:
        found: list[dict[str, Any]]
        if ":" in ref:
            found = client.describe_job_definitions(jobDefinitions=[ref])["jobDefinitions"]
        else:
            found = client.describe_job_definitions(jobDefinitionName=ref, status="ACTIVE")["jobDefinitions"]
        found = [d for d in found if d.get("status", "ACTIVE") == "ACTIVE"]
        if not found:
            raise BatchError(f"Job definition {ref} does not exist")
        latest = max(found, key=lambda d: d.get("revision", 0))
        return dict(latest)

    return lookup


def queue_lookup(client: Any) -> QueueLookup:
    """Resolve a job queue (name or ARN) to its ARN with a boto3 Batch ``client``."""

    def lookup(ref: str) -> str:
        found = client.describe_job_queues(jobQueues=[ref])["jobQueues"]
        if not found:
            raise BatchError(f"Job queue {ref} does not exist")
        return str(found[0]["jobQueueArn"])

    return lookup
