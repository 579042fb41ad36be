"""What keeping the local stack's data costs: snapshot write time, start (restore) time and snapshot
size with 10,000 assets and 1 GiB of objects, against the start time of an empty stack.

The real ``python -m keyframe.local`` runs in its own process on free ports with a temporary state
folder (``KEYFRAME_SNAPSHOT_SECONDS=0``: a snapshot only at stop), as ``make dev`` runs it:

1. baseline: an empty stack starts (process start to ``GET /ready`` = 200) and stops, ``ROUNDS`` times;
2. a studio is registered and one asset created through the API; its catalog items are cloned into
   10,000 assets (new ids and names, the same item shapes and indexes) with ``BatchWriteItem``, and
   10,000 object versions of 105 KiB (1 GiB in all, one per asset, as a studio's thumbnails and
   small files) are put into the media bucket;
3. the stack stops: the snapshot written at stop is timed (from the stack's own log line) and
   measured on disk;
4. the stack starts again from it, ``ROUNDS`` times, with the open-file limit at 1024 (a laptop's
   default): start time to ready, the restore's own time, the stack's memory; the second stop's
   snapshot (nothing new to copy, as every periodic snapshot after the first) is timed too.

Printed: each figure, and the start time with the data as a ratio of the empty start. Not a gate.
Run alone: ``python -m tests.performance.bench_persistence`` (``BENCH_PERSISTENCE_ASSETS``, default
10000; ``BENCH_PERSISTENCE_MIB``, default 1024; ``BENCH_PERSISTENCE_ROUNDS``, default 2, medians).
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support.local_stack import LocalStackProcess, start_local_stack

ASSETS = int(os.environ.get("BENCH_PERSISTENCE_ASSETS", "10000"))
MIB = int(os.environ.get("BENCH_PERSISTENCE_MIB", "1024"))
ROUNDS = int(os.environ.get("BENCH_PERSISTENCE_ROUNDS", "2"))
OPEN_FILES = 1024
PASSWORD = "correct horse battery staple"
UP = r"local stack is up \(([\d.]+) s\)"
SECONDS = 600
"""How long a start (restoring the data) or a stop (writing the first snapshot) may take."""


def _rss_mib(stack: LocalStackProcess) -> float:
    """Resident memory of the stack's main process (MiB)."""
    for line in Path(f"/proc/{stack.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _limit_open_files(pid: int) -> None:
    """Lower the stack's open-file limit to :data:`OPEN_FILES` (long before it restores anything)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (min(OPEN_FILES, hard), hard))


@contextmanager
def _stack(state_dir: Path, *, limited: bool = False) -> Iterator[tuple[LocalStackProcess, float]]:
    """Start the stack on free ports with ``state_dir``: it and its start time (process start to ready,
    seconds); stop it (SIGTERM, snapshot) on leaving."""
    started = time.perf_counter()
    stack = start_local_stack(
        state_dir,
        log_level=None,
        ready_within=SECONDS,
        poll_seconds=0.05,
        on_spawn=_limit_open_files if limited else None,
    )
    try:
        yield stack, time.perf_counter() - started
    finally:
        stack.stop(timeout=SECONDS)


def _last(log: Path, pattern: str) -> float:
    """Seconds from the last log line matching ``pattern`` (its ``in N s`` group)."""
    found = re.findall(pattern, log.read_text())
    return float(found[-1]) if found else float("nan")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _seed(stack: LocalStackProcess) -> tuple[int, int]:
    """A studio with ``ASSETS`` assets and ``MIB`` MiB of objects; (items written, bytes written)."""
    with requests.Session() as http:
        run = uuid.uuid4().hex[:8]
        owner = {"studioName": f"Bench {run}", "email": f"ada-{run}@example.com", "password": PASSWORD,
                 "displayName": "Ada"}  # fmt: skip
        registered = http.post(f"{stack.http_url}/auth/register", json=owner, timeout=60).json()
        auth = {"Authorization": f"Bearer {registered['accessToken']}"}
        studio = registered["studio"]["studioId"]
        code = {"name": "Bench", "code": "BN"}
        project = http.post(f"{stack.http_url}/projects", json=code, headers=auth, timeout=60).json()
        body = {"projectId": project["id"], "name": "BENCH_TEMPLATE", "type": "SHOT", "tags": ["bench"]}
        template = http.post(f"{stack.http_url}/assets", json=body, headers=auth, timeout=60).json()

    dynamodb = stack.client("dynamodb")
    table = stack.env["CATALOG_TABLE"]
    pk = f"STUDIO#{studio}#ASSET#{template['id']}"
    items = dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )["Items"]
    replacements = (template["id"], "BENCH_TEMPLATE", "bench_template")

    def clone(value: Any, asset_id: str, name: str) -> Any:
        if isinstance(value, str):
            return (
                value.replace(replacements[0], asset_id)
                .replace(replacements[1], name)
                .replace(replacements[2], name.lower())
            )
        if isinstance(value, dict):
            return {k: clone(v, asset_id, name) for k, v in value.items()}
        if isinstance(value, list):
            return [clone(v, asset_id, name) for v in value]
        return value

    ids = [str(uuid.uuid4()) for _ in range(ASSETS)]
    clones = [clone(item, ids[n], f"BENCH_{n:05d}") for n in range(ASSETS) for item in items]

    def write(batch: list[dict[str, Any]]) -> None:
        client = stack.client("dynamodb")
        request = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    batches = [clones[i : i + 25] for i in range(0, len(clones), 25)]
    object_size = MIB * 1024 * 1024 // ASSETS
    payload = os.urandom(object_size)
    bucket = stack.env["MEDIA_BUCKET"]
    s3 = stack.client("s3")

    def put(n: int) -> None:
        key = f"studios/{studio}/bench/{n:05d}/thumbnail.jpg"
        s3.put_object(Bucket=bucket, Key=key, Body=n.to_bytes(4, "big") + payload[4:])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, batches))
        list(pool.map(put, range(ASSETS)))
    return len(clones), object_size * ASSETS


def main() -> int:
    """Measure and print; 0 unless the stack failed to start or stop."""
    with tempfile.TemporaryDirectory(prefix="bench-persistence-") as folder:
        root = Path(folder)
        empty_starts, empty_ups = [], []
        for n in range(ROUNDS):
            empty = root / f"empty-{n}"
            empty.mkdir()
            with _stack(empty) as (stack, started_in):
                empty_starts.append(started_in)
                empty_ups.append(_last(stack.log_path, UP))
        empty_start = statistics.median(empty_starts)
        print(f"empty stack: starts in {empty_start:.2f} s (median of {ROUNDS}: "
              f"{', '.join(f'{s:.2f}' for s in empty_starts)}); the stack's own 'is up' "
              f"{statistics.median(empty_ups):.2f} s", flush=True)  # fmt: skip

        state = root / "seeded"
        state.mkdir()
        with _stack(state) as (stack, _):
            seeding = time.perf_counter()
            items, written = _seed(stack)
            seeded_in = time.perf_counter() - seeding
            stopping = time.perf_counter()
        stopped_in = time.perf_counter() - stopping
        first_snapshot = _last(stack.log_path, r"snapshot: .* in ([\d.]+) s")
        size = _size(state / "data")
        print(f"seeded {ASSETS} assets ({items} catalog items) and {written / 2**30:.2f} GiB in "
              f"{ASSETS} objects through the emulator in {seeded_in:.0f} s", flush=True)  # fmt: skip
        print(f"first snapshot at stop: {first_snapshot:.1f} s (stop in {stopped_in:.1f} s), "
              f"{size / 2**30:.2f} GiB on disk", flush=True)  # fmt: skip

        starts, ups, restores, rss, later = [], [], [], [], []
        for _ in range(ROUNDS):
            with _stack(state, limited=True) as (stack, started_in):
                starts.append(started_in)
                ups.append(_last(stack.log_path, UP))
                restores.append(_last(stack.log_path, r"restored .* in ([\d.]+) s"))
                rss.append(_rss_mib(stack))
                answer = stack.client("s3").list_objects_v2(Bucket=stack.env["MEDIA_BUCKET"], MaxKeys=1)
                assert answer["KeyCount"] == 1
            later.append(_last(stack.log_path, r"snapshot: .* in ([\d.]+) s"))
        start, restore = statistics.median(starts), statistics.median(restores)
        print(f"start with the data (open files limited to {OPEN_FILES}): {start:.2f} s (median of "
              f"{ROUNDS}: {', '.join(f'{s:.2f}' for s in starts)}); the stack's own 'is up' "
              f"{statistics.median(ups):.2f} s, of which restore {restore:.2f} s; memory "
              f"{statistics.median(rss):.0f} MiB", flush=True)  # fmt: skip
        print(f"later snapshots (nothing new to copy): {statistics.median(later):.1f} s", flush=True)
        print(f"ratio: start with {ASSETS} assets and {written / 2**30:.2f} GiB / empty start = "
              f"{start / empty_start:.2f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
