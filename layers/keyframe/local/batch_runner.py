"""One attempt of a local Batch job: a subprocess in the repository root, its output in the job's log.

The definition's command (a leading ``python``/``python3`` becomes this interpreter) runs in its own
process group with the stack's environment (AWS endpoint, tables, bucket, ``ffmpeg`` on ``PATH``),
the job's, and the ``AWS_BATCH_*`` variables a container sees. Standard output and error go to the
job's log file (``<state>/batch-logs/<jobId>.log``, reported as ``container.logStreamName``), each
attempt after a ``=== attempt N: <command>`` line. A terminated or timed-out attempt gets SIGTERM,
then SIGKILL after the grace time; a signal ``n`` is reported as exit code ``128 + n``, as a
container's is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from keyframe.local.batch_jobs import ESSENTIAL_EXITED, TERMINAL, TIMEOUT_REASON, Job, now_ms


def local_command(args: list[str]) -> list[str]:
    """The command to run here: a leading ``python``/``python3`` becomes this interpreter."""
    if args and args[0] in ("python", "python3", "python3.11"):
        return [sys.executable, *args[1:]]
    return list(args)


class ProcessRunner:
    """Runs attempts of jobs as local subprocesses.

    Parameters
    ----------
    environment:
        Returns the base environment of every job process (called at each start).
    cwd:
        Working directory of job processes (the repository root).
    lock:
        The queue's lock: every change to a :class:`~keyframe.local.batch_jobs.Job`'s fields is made
        holding it.
    kill_grace_seconds:
        Time between SIGTERM and SIGKILL when a job is terminated or times out.
    """

    def __init__(
        self,
        *,
        environment: Callable[[], dict[str, str]],
        cwd: Path,
        lock: threading.RLock,
        kill_grace_seconds: float = 5.0,
    ) -> None:
        self._environment = environment
        self.cwd = cwd
        self._lock = lock
        self.kill_grace_seconds = kill_grace_seconds

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """Stop ``process``'s group: SIGTERM, then SIGKILL after the grace time (gone already: nothing)."""
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=self.kill_grace_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def process_env(self, job: Job, attempt: int) -> dict[str, str]:
        """The environment of attempt ``attempt``'s process: the stack's, the job's and ``AWS_BATCH_*``."""
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

    def run_attempt(
        self, job: Job, attempt: int, on_started: Callable[[Job], None]
    ) -> tuple[int, bool] | None:
        """Run attempt ``attempt`` of ``job`` to its end: STARTING -> RUNNING, the process, the attempt
        appended to ``job.attempts`` (exit code, log stream, status reason, times in epoch ms).

        ``on_started(job)`` is called under the lock once the process runs (an array child makes
        its parent RUNNING). Returns ``(exit code, timed out)``, or ``None`` when the job was
        terminated or finished before it started (nothing ran). A job terminated while STARTING is
        killed as soon as its process exists.

        Raises
        ------
        OSError
            The command could not start (not found, not executable).
        """
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
                env=self.process_env(job, attempt),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = now_ms()
        with self._lock:
            job.process = process
            job.status = "RUNNING"
            job.started_at = job.started_at or started
            on_started(job)
            job.exit_code, job.reason = None, None
            stop_now = job.terminate_reason is not None
        if stop_now:
            self.kill(process)
        timed_out = False
        try:
            process.wait(timeout=job.timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill(process)
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
                    "stoppedAt": now_ms(),
                    "statusReason": status_reason,
                }
            )
        return exit_code, timed_out
