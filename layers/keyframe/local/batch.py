"""AWS Batch on the local stack: the job definitions Keyframe declares, and a runner for their jobs.

Declaring a job definition
--------------------------
Append a :class:`JobDefinitionSpec` to :data:`JOB_DEFINITIONS` (one line per definition). The local
stack registers each one on the emulator as ``keyframe-{stage}-{name}`` in the job queue
``keyframe-{stage}-jobs``, and state machines reach it through the ``${<Name>JobDefinitionArn}`` and
``${JobQueueArn}`` placeholders (see :mod:`keyframe.local.bootstrap`). :meth:`JobDefinitionSpec.
register_request` is the exact ``RegisterJobDefinition`` request, so the CDK app can build its
``CfnJobDefinition`` from the same spec.

Running jobs
------------
moto stores job definitions and queues but cannot run containers, so the emulator answers
``SubmitJob``/``DescribeJobs``/``ListJobs``/``TerminateJob``/``CancelJob`` with :class:`LocalBatch`:
a submitted job runs the definition's container ``command`` (``containerOverrides`` and
``Ref::param`` substitution applied) as a local subprocess in the repository root, with the stack's
environment (AWS endpoint, tables, bucket, ``ffmpeg`` on ``PATH``) plus the job's. A leading
``python``/``python3`` becomes this interpreter. Output goes to ``<state>/batch-logs/<jobId>.log``
(also reported as ``container.logStreamName``). Statuses follow Batch: SUBMITTED -> (PENDING while
``dependsOn`` jobs run) -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED/FAILED, with
``retryStrategy`` (``attempts``, ``evaluateOnExit``) and ``timeout.attemptDurationSeconds``.

Array jobs (``arrayProperties.size`` 2-10,000) run as in Batch: the parent ``{jobId}`` gets one child
``{jobId}:{index}`` per index, each a job of its own with ``AWS_BATCH_JOB_ARRAY_INDEX`` in its
environment and its own retries; the children share the runner's pool, so at most ``max_concurrent``
run at once (``KEYFRAME_BATCH_CONCURRENCY``: bounded parallelism on a laptop). The parent is PENDING,
then RUNNING once a child runs, and SUCCEEDED when every child did, else FAILED once all ended;
``arrayProperties.statusSummary`` counts the children. ``TerminateJob`` of the parent terminates every
child, and a job that ``dependsOn`` the parent waits for all of them.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyframe.media.jobs import MEDIA_JOB
from keyframe.renders.jobs import RENDER_JOB

log = logging.getLogger("keyframe.local.batch")


@dataclass(frozen=True)
class JobDefinitionSpec:
    """One Batch job definition (container type, EC2 platform).

    Attributes
    ----------
    name:
        Logical name (``render``); the physical name is ``keyframe-{stage}-{name}``.
    command:
        The container command, e.g. ``("python", "-m", "keyframe.renders.worker", "Ref::jobId")``.
        ``Ref::<param>`` tokens are replaced by the job's parameters.
    vcpus / memory_mib:
        Resource requirements (informational locally).
    timeout_seconds:
        ``timeout.attemptDurationSeconds`` (None: no timeout).
    retry_attempts:
        ``retryStrategy.attempts`` (1 to 10).
    evaluate_on_exit:
        ``retryStrategy.evaluateOnExit`` entries, e.g. ``{"onExitCode": "137", "action": "RETRY"}``.
    environment / parameters:
        Default container environment and default parameters.
    image:
        The container image in the cloud (unused locally).
    """

    name: str
    command: tuple[str, ...]
    vcpus: float = 1.0
    memory_mib: int = 2048
    timeout_seconds: int | None = None
    retry_attempts: int = 1
    evaluate_on_exit: tuple[dict[str, str], ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    image: str = "keyframe-worker:latest"

    def physical_name(self, stage: str) -> str:
        """``keyframe-{stage}-{name}``."""
        return f"keyframe-{stage}-{self.name}"

    def register_request(self, stage: str) -> dict[str, Any]:
        """The boto3 ``batch.register_job_definition`` arguments for this spec."""
        request: dict[str, Any] = {
            "jobDefinitionName": self.physical_name(stage),
            "type": "container",
            "parameters": dict(self.parameters),
            "containerProperties": {
                "image": self.image,
                "command": list(self.command),
                "resourceRequirements": [
                    {"type": "VCPU", "value": f"{self.vcpus:g}"},
                    {"type": "MEMORY", "value": str(self.memory_mib)},
                ],
                "environment": [{"name": k, "value": v} for k, v in sorted(self.environment.items())],
            },
            "retryStrategy": {
                "attempts": self.retry_attempts,
                "evaluateOnExit": [dict(entry) for entry in self.evaluate_on_exit],
            },
            "platformCapabilities": ["EC2"],
        }
        if self.timeout_seconds:
            request["timeout"] = {"attemptDurationSeconds": self.timeout_seconds}
        return request


JOB_DEFINITIONS: list[JobDefinitionSpec] = [
    # The asset pipeline's Derive step (keyframe.media.worker): data in keyframe.media.jobs, shared with CDK.
    JobDefinitionSpec(**MEDIA_JOB),
    # Render jobs (keyframe.renders.worker): definition data in keyframe.renders.jobs, shared with CDK.
    JobDefinitionSpec(**RENDER_JOB),
]
"""Every Batch job definition of Keyframe (one entry per definition; the render issue adds its own)."""

JOB_QUEUE = "jobs"
"""Logical name of the one job queue (``keyframe-{stage}-jobs``)."""

COMPUTE_ENVIRONMENT = "compute"
"""Logical name of the compute environment (``keyframe-{stage}-compute``)."""

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


def _now_ms() -> int:
    return int(time.time() * 1000)


def substitute(args: Iterable[str], parameters: dict[str, str]) -> list[str]:
    """Replace ``Ref::name`` in each argument with ``parameters[name]`` (unknown refs stay as they are)."""
    return [_REF.sub(lambda m: str(parameters.get(m.group(1), m.group(0))), str(arg)) for arg in args]


def local_command(args: list[str]) -> list[str]:
    """The command to run here: a leading ``python``/``python3`` becomes this interpreter."""
    if args and args[0] in ("python", "python3", "python3.11"):
        return [sys.executable, *args[1:]]
    return list(args)


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
    created_at: int = field(default_factory=_now_ms)
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


class LocalBatch:
    """Runs Batch jobs as local subprocesses.

    Parameters
    ----------
    definitions:
        ``ref -> job definition`` (as ``DescribeJobDefinitions`` returns it) for a name, ``name:rev``
        or ARN; raises :class:`BatchError` if unknown.
    queues:
        ``ref -> job queue ARN`` for a name or ARN; raises :class:`BatchError` if unknown.
    environment:
        Returns the base environment of every job process (called at each start).
    log_dir:
        Folder of the per-job log files.
    cwd:
        Working directory of job processes (the repository root).
    max_concurrent:
        How many jobs run at once; the others wait RUNNABLE.
    kill_grace_seconds:
        Time between SIGTERM and SIGKILL when a job is terminated or times out.
    """

    def __init__(
        self,
        *,
        definitions: DefinitionLookup,
        queues: QueueLookup,
        environment: Callable[[], dict[str, str]],
        log_dir: Path,
        cwd: Path,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        max_concurrent: int = 2,
        kill_grace_seconds: float = 5.0,
    ) -> None:
        self._definitions = definitions
        self._queues = queues
        self._environment = environment
        self.log_dir = log_dir
        self.cwd = cwd
        self.region = region
        self.account_id = account_id
        self.kill_grace_seconds = kill_grace_seconds
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="batch-job")
        self._closed = False

    # ------------------------------------------------------------------ API
    def handle(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one Batch API call (``submitjob``, ``describejobs``, ``listjobs``, ``terminatejob``,
        ``canceljob``) with its JSON response.

        Raises
        ------
        BatchError
            Invalid request (unknown job definition or queue, missing fields).
        """
        if action == "submitjob":
            return self.submit(body)
        if action == "describejobs":
            return {"jobs": self.describe(body.get("jobs") or [])}
        if action == "listjobs":
            return {"jobSummaryList": self.list_jobs(body)}
        if action in ("terminatejob", "canceljob"):
            job_id, reason = body.get("jobId"), body.get("reason")
            if not job_id or not reason:
                raise BatchError("jobId and reason are required")
            if action == "terminatejob":
                self.terminate(job_id, reason)
            else:
                self.cancel(job_id, reason)
            return {}
        raise BatchError(f"Unsupported action {action}")

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """``SubmitJob``: create the job and queue it; returns ``{jobArn, jobName, jobId}``."""
        if self._closed:
            raise BatchError("The local stack is stopping", code="ServerException", status=500)
        name, definition_ref, queue_ref = (request.get(k) for k in ("jobName", "jobDefinition", "jobQueue"))
        if not name or not definition_ref or not queue_ref:
            raise BatchError("jobName, jobDefinition and jobQueue are required")
        queue_arn = self._queues(queue_ref)
        definition = self._definitions(definition_ref)
        props = definition.get("containerProperties") or {}
        overrides = request.get("containerOverrides") or {}
        parameters = {**(definition.get("parameters") or {}), **(request.get("parameters") or {})}
        environment = {e["name"]: e["value"] for e in props.get("environment") or []}
        environment.update({e["name"]: e["value"] for e in overrides.get("environment") or []})
        command = substitute(overrides.get("command") or props.get("command") or [], parameters)
        timeout = (request.get("timeout") or definition.get("timeout") or {}).get("attemptDurationSeconds")
        depends_on = [d["jobId"] for d in request.get("dependsOn") or []]
        for dependency in depends_on:
            if dependency not in self._jobs:
                raise BatchError(f"Dependent job {dependency} does not exist")
        array = request.get("arrayProperties") or {}
        size = int(array.get("size") or 0) if array else None
        if size is not None and not 2 <= size <= 10_000:
            raise BatchError("arrayProperties.size must be between 2 and 10000")
        job_id = str(uuid.uuid4())
        job = Job(
            job_id=job_id,
            name=name,
            arn=f"arn:aws:batch:{self.region}:{self.account_id}:job/{job_id}",
            queue_arn=queue_arn,
            definition_arn=definition.get("jobDefinitionArn", definition_ref),
            command=command,
            environment=environment,
            parameters=parameters,
            retry_strategy=request.get("retryStrategy") or definition.get("retryStrategy") or {"attempts": 1},
            timeout_seconds=int(timeout) if timeout else None,
            depends_on=depends_on,
            tags={**(definition.get("tags") or {}), **(request.get("tags") or {})},
            image=props.get("image", "local"),
            log_path=self.log_dir / f"{job_id}.log",
            array_size=size,
        )
        with self._lock:
            self._jobs[job_id] = job
        log.info("batch job %s (%s) submitted: %s", job_id, name, " ".join(command))
        if size is not None:
            self._submit_children(job, size)
        elif depends_on:
            job.status = "PENDING"
            threading.Thread(target=self._await_dependencies, args=(job,), daemon=True).start()
        else:
            self._enqueue(job)
        return {"jobArn": job.arn, "jobName": job.name, "jobId": job.job_id}

    def _submit_children(self, parent: Job, size: int) -> None:
        """Create the ``{parent}:{index}`` children and queue them (after the parent's dependencies)."""
        for index in range(size):
            child_id = f"{parent.job_id}:{index}"
            child = Job(
                job_id=child_id, name=parent.name, arn=f"{parent.arn}:{index}", queue_arn=parent.queue_arn,
                definition_arn=parent.definition_arn, command=list(parent.command),
                environment={**parent.environment, "AWS_BATCH_JOB_ARRAY_INDEX": str(index)},
                parameters=parent.parameters, retry_strategy=parent.retry_strategy,
                timeout_seconds=parent.timeout_seconds, depends_on=list(parent.depends_on), tags=parent.tags,
                image=parent.image, log_path=self.log_dir / f"{parent.job_id}-{index}.log",
                array_index=index, parent=parent,
            )  # fmt: skip
            parent.children.append(child)
            with self._lock:
                self._jobs[child_id] = child
        parent.status = "PENDING"
        for child in parent.children:
            if child.depends_on:
                child.status = "PENDING"
                threading.Thread(target=self._await_dependencies, args=(child,), daemon=True).start()
            else:
                self._enqueue(child)

    def describe(self, job_ids: Iterable[str]) -> list[dict[str, Any]]:
        """``DescribeJobs``: the known jobs among ``job_ids`` (ids or ARNs), unknown ones left out."""
        found = []
        with self._lock:
            for ref in job_ids:
                job = self._jobs.get(ref.rsplit("/", 1)[-1])
                if job is not None:
                    found.append(job.describe())
        return found

    def list_jobs(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """``ListJobs``: jobs of a queue with one status (default RUNNING) or matching ``filters``."""
        queue_ref = request.get("jobQueue")
        queue_arn = self._queues(queue_ref) if queue_ref else None
        filters = {f["name"]: f.get("values") or [] for f in request.get("filters") or []}
        status = request.get("jobStatus") or "RUNNING"
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.created_at)
        result = []
        for job in jobs:
            if queue_arn and job.queue_arn != queue_arn:
                continue
            if filters:
                names = filters.get("JOB_NAME")
                if names and not any(fnmatch.fnmatchcase(job.name, n) for n in names):
                    continue
            elif job.status != status:
                continue
            result.append(job.summary())
        return result

    def terminate(self, job_id: str, reason: str) -> None:
        """``TerminateJob``: stop the job (SIGTERM, then SIGKILL to its process group) and fail it."""
        job = self._job(job_id)
        for child in job.children:  # an array job: every child stops
            self.terminate(child.job_id, reason)
        with self._lock:
            if job.status in TERMINAL or job.array_size is not None:
                return
            job.terminate_reason = reason
            process = job.process
            if process is None:
                if job.status != "STARTING":  # not started yet: fails at once
                    self._finish(job, "FAILED", reason)
                return  # STARTING: the worker kills the process as soon as it exists
        self._kill(process)

    def cancel(self, job_id: str, reason: str) -> None:
        """``CancelJob``: fail a job that has not started; a started job keeps running (as in Batch)."""
        job = self._job(job_id)
        with self._lock:
            if job.status in ("SUBMITTED", "PENDING", "RUNNABLE"):
                job.terminate_reason = reason
                self._finish(job, "FAILED", reason)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every unfinished job and the worker threads (used when the local stack stops)."""
        self._closed = True
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.status not in TERMINAL]
        for job in jobs:
            self.terminate(job.job_id, "Local stack stopped")
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for job in jobs:
            job.done.wait(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------ internals
    def _job(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id.rsplit("/", 1)[-1])
        if job is None:
            raise BatchError(f"Job {job_id} does not exist")
        return job

    def _enqueue(self, job: Job) -> None:
        with self._lock:
            if job.status in TERMINAL:
                return
            job.status = "RUNNABLE"
        try:
            self._pool.submit(self._run, job)
        except RuntimeError:  # pool shut down
            self._finish(job, "FAILED", "Local stack stopped")

    def _await_dependencies(self, job: Job) -> None:
        for dependency in job.depends_on:
            other = self._jobs[dependency]
            other.done.wait()
            if other.status != "SUCCEEDED":
                with self._lock:
                    self._finish(job, "FAILED", f"Dependent Job failed: {dependency}")
                return
        self._enqueue(job)

    def _finish(self, job: Job, status: str, reason: str | None) -> None:
        job.status = status
        job.status_reason = reason
        job.stopped_at = _now_ms()
        job.process = None
        job.done.set()
        log.info("batch job %s (%s) %s: %s", job.job_id, job.name, status, reason)
        parent = job.parent
        if (
            parent is not None
            and parent.status not in TERMINAL
            and all(child.status in TERMINAL for child in parent.children)
        ):
            failed = sum(child.status == "FAILED" for child in parent.children)
            outcome = "FAILED" if failed else "SUCCEEDED"
            reason = f"{failed} of {len(parent.children)} child jobs failed" if failed else ESSENTIAL_EXITED
            self._finish(parent, outcome, reason)

    def _child_started(self, job: Job) -> None:
        parent = job.parent
        if parent is not None and parent.status not in TERMINAL and parent.status != "RUNNING":
            parent.status = "RUNNING"
            parent.started_at = parent.started_at or _now_ms()

    def _kill(self, process: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=self.kill_grace_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def _process_env(self, job: Job, attempt: int) -> dict[str, str]:
        env = {**self._environment(), **job.environment}
        env.update(
            {
                "AWS_BATCH_JOB_ID": job.job_id,
                "AWS_BATCH_JOB_ATTEMPT": str(attempt),
                "AWS_BATCH_JQ_NAME": job.queue_arn.rsplit("/", 1)[-1],
                "AWS_BATCH_CE_NAME": "local",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _run(self, job: Job) -> None:
        try:
            self._run_attempts(job)
        except Exception as exc:  # a launch failure (command not found ...) fails the job
            log.exception("batch job %s could not run", job.job_id)
            with self._lock:
                if job.status not in TERMINAL:
                    job.reason = f"CannotStartContainerError: {exc}"
                    self._finish(job, "FAILED", job.reason)

    def _run_attempts(self, job: Job) -> None:
        max_attempts = max(1, min(10, int(job.retry_strategy.get("attempts") or 1)))
        conditions = list(job.retry_strategy.get("evaluateOnExit") or [])
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, max_attempts + 1):
            outcome = self._run_attempt(job, attempt)
            if outcome is None:  # terminated before it started
                return
            exit_code, timed_out = outcome
            with self._lock:
                if job.terminate_reason:
                    self._finish(job, "FAILED", job.terminate_reason)
                    return
                if timed_out:
                    self._finish(job, "FAILED", TIMEOUT_REASON)
                    return
                if exit_code == 0:
                    self._finish(job, "SUCCEEDED", ESSENTIAL_EXITED)
                    return
                action = decide_retry(conditions, exit_code, job.reason, ESSENTIAL_EXITED)
                if action == "EXIT" or attempt == max_attempts:
                    self._finish(job, "FAILED", ESSENTIAL_EXITED)
                    return
                job.status = "RUNNABLE"
                job.status_reason = None
            log.info("batch job %s attempt %d exited %s: retrying", job.job_id, attempt, exit_code)

    def _run_attempt(self, job: Job, attempt: int) -> tuple[int, bool] | None:
        command = local_command(job.command)
        with self._lock:
            if job.status in TERMINAL or job.terminate_reason:
                return None
            job.status = "STARTING"
        with job.log_path.open("ab") as out:
            out.write(f"=== attempt {attempt}: {' '.join(job.command)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self._process_env(job, attempt),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = _now_ms()
        with self._lock:
            job.process = process
            job.status = "RUNNING"
            job.started_at = job.started_at or started
            self._child_started(job)
            job.exit_code, job.reason = None, None
            stop_now = job.terminate_reason is not None
        if stop_now:
            self._kill(process)
        timed_out = False
        try:
            process.wait(timeout=job.timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill(process)
            process.wait()
        exit_code = process.returncode
        if exit_code < 0:  # killed by a signal: a container reports 128 + signal
            exit_code = 128 - exit_code
        with self._lock:
            job.process = None
            job.exit_code = exit_code
            status_reason = TIMEOUT_REASON if timed_out else (job.terminate_reason or ESSENTIAL_EXITED)
            job.attempts.append(
                {
                    "container": {
                        "exitCode": exit_code,
                        "logStreamName": str(job.log_path),
                        **({"reason": job.reason} if job.reason else {}),
                    },
                    "startedAt": started,
                    "stoppedAt": _now_ms(),
                    "statusReason": status_reason,
                }
            )
        return exit_code, timed_out
