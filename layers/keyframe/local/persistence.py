"""Local data that lasts: a snapshot of the emulator's backends in ``<state>/data``, restored at start.

``make dev`` keeps its tables, objects, secrets and Step Functions executions across restarts:

- :func:`keyframe.local.snapshot_save.save` writes a snapshot at shutdown and every
  ``KEYFRAME_SNAPSHOT_SECONDS`` (default 60; ``0`` only at shutdown): DynamoDB items as JSON lines
  per table (``dynamodb/<table>.jsonl``), every S3 object version as a file of its own
  (``objects/<hash>``, written once: a version never changes), the secrets' current values, the KMS
  keys that sign (their id, spec and private key, so access tokens signed before a restart still
  verify) and the executions of every state machine, with ``manifest.json`` naming them, replaced
  atomically last. Files no manifest names are removed afterwards.
- :func:`keyframe.local.snapshot_restore.restore` runs after the resources exist
  (:mod:`keyframe.local.bootstrap` is idempotent): items are put back, S3 versions are put back with
  their version ids, ETags, metadata and dates and read from their files when asked (no byte is
  copied and no file is held open at start: the cost grows with the number of items and versions,
  not their bytes, and 10,000 versions need no more file descriptors than one;
  ``tests/performance/bench_persistence.py`` measures it), secrets get their saved value (tokens
  signed before the restart stay valid), state machines created through the API are created again,
  executions are listed and described again. An execution that was RUNNING when the stack stopped
  is restored ``FAILED`` with error ``LocalStackStopped`` and returned, so the stack can tell its
  workflow (:func:`keyframe.local.snapshot_restore.abort_interrupted`: the mark-failed function
  answers ``PIPELINE_ABORTED`` for an upload).
- S3 multipart uploads in progress are kept with the parts already sent (each part a file of its
  own, like an object version): an interrupted ``keyframe upload`` resumes after a restart and sends
  only the missing parts.
- What is not kept: Batch jobs, WebSocket connections, and anything written after the last snapshot
  when the stack is killed (``kill -9``) instead of stopped.

This module runs the snapshots (:class:`Snapshots`: periodic and at stop) and deletes them
(``python -m keyframe.local.persistence reset``, ``make dev-reset``); the files' layout is
:mod:`keyframe.local.snapshot_layout`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from keyframe import registry
from keyframe.local.snapshot_layout import data_dir
from keyframe.local.snapshot_save import save

log = logging.getLogger("keyframe.local.persistence")


# ------------------------------------------------------------------------------------------ periodic


class Snapshots:
    """Save a snapshot every ``interval`` seconds (0: never) on a daemon thread, and at :meth:`stop`."""

    def __init__(self, directory: Path, region: str, interval: float) -> None:
        self.directory = directory
        self.region = region
        self.interval = interval
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the periodic snapshots (if an interval is set)."""
        if self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
            self._thread.start()

    def save(self) -> None:
        """One snapshot now (never two at once); logs its cost."""
        with self._lock:
            started = time.perf_counter()
            counts = save(self.directory, self.region)
            log.info(
                "snapshot: %d items, %d object versions, %d parts of %d multipart uploads (%d files new) "
                "in %.1f s", counts["items"], counts["objects"], counts["parts"], counts["multipartUploads"],
                counts["newObjects"], time.perf_counter() - started,
            )  # fmt: skip

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.save()
            except Exception:
                log.exception("snapshot failed")

    def stop(self) -> None:
        """Stop the periodic snapshots and save a last one."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.save()


# ------------------------------------------------------------------------------------------- reset


def _running_pid(state_dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        pid = int(json.loads((state_dir / "local-stack.json").read_text())["pid"])
        os.kill(pid, 0)
        return pid
    return None


def reset(state_dir: Path) -> bool:
    """Delete the snapshot of the stack whose state folder is ``state_dir``; False if it runs now."""
    if _running_pid(state_dir) is not None:
        return False
    shutil.rmtree(data_dir(state_dir), ignore_errors=True)
    return True


def main(argv: list[str] | None = None) -> int:
    """``reset``: delete ``$KEYFRAME_STATE_DIR/data`` (default ``.keyframe/data``) unless the stack runs."""
    parser = argparse.ArgumentParser(prog="python -m keyframe.local.persistence")
    parser.add_argument("command", choices=["reset"])
    parser.parse_args(argv)
    state = Path(os.environ.get("KEYFRAME_STATE_DIR") or registry.REPO_ROOT / ".keyframe")
    pid = _running_pid(state)
    if not reset(state):
        message = f"the local stack runs (pid {pid}): stop `make dev` first, then run make dev-reset"
        print(message, file=sys.stderr)
        return 1
    print(f"local data deleted ({data_dir(state)}): the next `make dev` starts empty")
    return 0


if __name__ == "__main__":
    sys.exit(main())
