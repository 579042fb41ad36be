"""AWS Batch on the local stack: the job queue and each job's status, as the emulator answers them.

moto stores job definitions and queues but cannot run containers, so the emulator answers
``SubmitJob``/``DescribeJobs``/``ListJobs``/``TerminateJob``/``CancelJob`` with :class:`LocalBatch`:
a submitted job runs the definition's container ``command`` (``containerOverrides`` and
``Ref::param`` substitution applied) as a local subprocess in the repository root
(:mod:`keyframe.local.batch_runner`), with the stack's environment (AWS endpoint, tables, bucket,
``ffmpeg`` on ``PATH``) plus the job's. A leading ``python``/``python3`` becomes this interpreter.
Output goes to ``<state>/batch-logs/<jobId>.log`` (also reported as ``container.logStreamName``).
Statuses follow Batch: SUBMITTED -> (PENDING while ``dependsOn`` jobs run) -> RUNNABLE -> STARTING
-> RUNNING -> SUCCEEDED/FAILED, with ``retryStrategy`` (``attempts``, ``evaluateOnExit``) and
``timeout.attemptDurationSeconds``. The job definitions are declared in :mod:`keyframe.local.batch`;
the job record and Batch's rules are :mod:`keyframe.local.batch_jobs`.

Array jobs (``arrayProperties.size`` 2-10,000) run as in Batch: the parent ``{jobId}`` gets one child
``{jobId}:{index}`` per index, each a job of its own with ``AWS_BATCH_JOB_ARRAY_INDEX`` in its
environment and its own retries; the children share the runner's pool, so at most ``max_concurrent``
run at once (``KEYFRAME_BATCH_CONCURRENCY``: bounded parallelism on a laptop). The parent is PENDING,
then RUNNING once a child runs, and SUCCEEDED when every child did, else FAILED once all ended;
``arrayProperties.statusSummary`` counts the children. ``TerminateJob`` of the parent terminates every
child, and a job that ``dependsOn`` the parent waits for all of them.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from keyframe.local.batch_jobs import (
    ESSENTIAL_EXITED,
    TERMINAL,
    TIMEOUT_REASON,
    BatchError,
    DefinitionLookup,
    Job,
    QueueLookup,
    decide_retry,
    now_ms,
    substitute,
)
from keyframe.local.batch_runner import ProcessRunner

log = logging.getLogger("keyframe.local.batch")


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
        self.log_dir = log_dir
        self.region = region
        self.account_id = account_id
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._runner = ProcessRunner(
            environment=environment, cwd=cwd, lock=self._lock, kill_grace_seconds=kill_grace_seconds
        )
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
        self._runner.kill(process)

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
        job.stopped_at = now_ms()
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
            parent.started_at = parent.started_at or now_ms()

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
            outcome = self._runner.run_attempt(job, attempt, self._child_started)
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
