"""Upload throughput of ``keyframe upload`` against boto3's transfer manager, and API bytes per upload.

Both clients send the same file, with the same part size and concurrency, to the same emulator: the
local stack's (:mod:`keyframe.local.emulator`, what ``make dev`` serves on port 4566: moto with
DynamoDB writes and queries that cost what they touch), in its own process on a free port so that it
does not share the clients' GIL. Plain moto would charge the uploads API's DynamoDB calls for the
whole table (each TransactWriteItems deep-copies every table it names, each Query sorts the whole
table), so ``keyframe upload`` got slower as the table filled, which DynamoDB does not do (the
transfer manager makes no DynamoDB call at all): over 40 pairs on plain moto its median went from
0.84 s in the first 20 to 1.02 s in the last 20 while boto3's stayed at 0.73 s, 0.80x in all;
on this emulator, the same code, 0.71 s then 0.67 s, 0.97x in all.

- ``keyframe upload`` opens an upload through the real uploads API (gateway, authorizer and handlers
  in-process, as in the integration tests), PUTs the parts to presigned URLs while a thread hashes
  the file, and completes with the hash;
- the baseline is ``boto3 s3.upload_file`` with ``TransferConfig(multipart_chunksize=part size,
  max_concurrency=parallel)``, which sends the parts with the SDK and no API at all.

The machine may be shared (other work running), so the two are measured as interleaved pairs after a
warm-up of each: each pair's two runs back to back, the order alternating from pair to pair (A,B then
B,A), at least 7 pairs (default 15: the same upload's time varies by up to 2x from one pair to the
next on this kind of machine). The emulator spools the objects it stores to ``/dev/shm`` (moto keeps
only ~5 MB of an object in memory), so other processes' disk traffic does not land on one client's
``CompleteMultipartUpload`` (moto copies the parts into the object there) more than on the other's.

After each pair the objects ``keyframe upload`` made are deleted (untimed; see
:func:`_delete_uploaded_objects`).

Printed: seconds and MB/s of each (medians), the throughput ratio keyframe/boto3 as the median of
each pair's own ratio with its quartiles and range (1.0 = as fast; keyframe's time includes its API
calls and hashing the file, which overlaps the sending), the load average before and after, and the
bytes that went through Lambda
(every request and response body the uploads API's handlers saw) against the file size: file content
must never pass through Lambda, so that number stays a few KB whatever the file size.

Both are run for a 96 MiB and a 256 MiB file, one after the other on the same emulator. (A line
through the two sizes' medians does not split the API's fixed cost from the transfer: the emulator
takes more than 2.67x as long for 2.67x the bytes, both clients alike.)

Run alone: ``python -m tests.performance.bench_uploads`` (``BENCH_UPLOAD_MB``, comma-separated, default
``96,256``;
``BENCH_UPLOAD_PARALLEL``, default 4; ``BENCH_UPLOAD_ROUNDS``, pairs, default 15, at least 7).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from boto3.s3.transfer import TransferConfig

from tests.support import environment

PART_SIZE = 8 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_emulator(spool: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.performance.bench_uploads", "--emulator", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(spool)},
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{endpoint}/moto-api/", timeout=1)
            return process, endpoint
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the emulator did not start")


def _write_file(path: Path, size: int) -> None:
    block = hashlib.sha256(b"keyframe").digest() * (1024 * 1024 // 32)
    with path.open("wb") as handle:
        left = size
        while left:
            chunk = block[: min(left, len(block))]
            handle.write(chunk)
            left -= len(chunk)


class _LambdaMeter:
    """Counts the request and response body bytes of every in-process Lambda invocation."""

    def __init__(self) -> None:
        self.request_bytes = 0
        self.response_bytes = 0
        self.calls = 0

    def install(self) -> None:
        from keyframe.local import lambdas

        real = lambdas.invoke

        def metered(name: str, event: dict[str, Any]) -> Any:
            result = real(name, event)
            if name.endswith("-api"):
                self.calls += 1
                self.request_bytes += len((event.get("body") or "").encode())
                if isinstance(result, dict):
                    self.response_bytes += len(str(result.get("body") or "").encode())
            return result

        lambdas.invoke = metered  # type: ignore[assignment]


def _setup_studio(api: Any) -> tuple[str, str]:
    from tests.support.identity import register_studio

    admin = register_studio(api)
    project = api.post("/projects", json={"name": "Bench", "code": "BENCH"}, token=admin.access_token).json()
    asset = api.post(
        "/assets",
        json={"projectId": project["id"], "name": "Bench", "type": "SHOT"},
        token=admin.access_token,
    ).json()
    return admin.access_token, asset["id"]


def _configure(endpoint: str) -> None:
    environment.apply()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    from keyframe import settings
    from tests.support.aws import create_resources

    create_resources()
    machine = boto3.client("stepfunctions").create_state_machine(
        name="keyframe-bench-pipeline",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/bench",
    )["stateMachineArn"]
    os.environ["ASSET_PIPELINE_STATE_MACHINE_ARN"] = machine
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    settings.reset()


def _keyframe_upload(api: Any, token: str, asset_id: str, path: Path, parallel: int) -> tuple[float, Any]:
    from keyframe.cli.client import ApiClient
    from keyframe.cli.upload import upload_file
    from tests.integration.uploads.http_adapter import API, GatewayAdapter

    client = ApiClient(API, token)
    client.http.mount(API, GatewayAdapter(api.gateway))
    args = argparse.Namespace(
        file=path,
        asset=asset_id,
        note=None,
        parallel=parallel,
        no_wait=True,
        timeout=60.0,
        state_dir=Path(tempfile.mkdtemp(dir=path.parent)),  # a fresh upload each round, never a resume
        content_type="application/octet-stream",
        quiet=True,
    )
    started = time.perf_counter()
    code = upload_file(client, args)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"keyframe upload exited {code}")
    return elapsed, client


def _boto3_upload(path: Path, parallel: int) -> float:
    config = TransferConfig(
        multipart_threshold=PART_SIZE,
        multipart_chunksize=PART_SIZE,
        max_concurrency=parallel,
        use_threads=True,
    )
    s3 = boto3.client("s3")
    started = time.perf_counter()
    s3.upload_file(str(path), os.environ["MEDIA_BUCKET"], BOTO3_KEY, Config=config)
    return time.perf_counter() - started


BOTO3_KEY = "bench/boto3-transfer-manager.bin"


def _delete_uploaded_objects() -> None:
    """Delete the objects ``keyframe upload`` made (a new key per upload, where boto3's runs overwrite
    their one key), outside the timed runs, so that every pair starts with the emulator holding the
    same bytes. Kept, they made every later ``keyframe upload`` write to memory the machine had to
    find anew while boto3's reused what its previous object freed: at 256 MiB over 15 pairs,
    ``keyframe upload`` took 2.10-2.13 s (medians) with them kept and 1.62-1.64 s without, boto3
    1.53-1.84 s in all four runs."""
    s3 = boto3.client("s3")
    bucket = os.environ["MEDIA_BUCKET"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"] != BOTO3_KEY:
                s3.delete_object(Bucket=bucket, Key=item["Key"])


def _pair(
    pair: int, api: Any, token: str, asset_id: str, *, path: Path, parallel: int
) -> tuple[float, float, Any]:
    """One pair: ``(boto3 seconds, keyframe seconds, keyframe's API client)``, run back to back in
    the order of the pair's parity (A,B then B,A), so that neither the load's drift nor going first
    favours one client; then the objects of ``keyframe upload`` are deleted (untimed)."""
    if pair % 2:
        elapsed, client = _keyframe_upload(api, token, asset_id, path, parallel)
        baseline = _boto3_upload(path, parallel)
    else:
        baseline = _boto3_upload(path, parallel)
        elapsed, client = _keyframe_upload(api, token, asset_id, path, parallel)
    _delete_uploaded_objects()
    return baseline, elapsed, client


def _hash_seconds(path: Path) -> float:
    from keyframe.cli.upload import sha256_of

    started = time.perf_counter()
    sha256_of(path)
    return time.perf_counter() - started


def _spool_dir() -> Path:
    """Where the emulator spools stored objects and parts (moto keeps only ~5 MB of each in memory):
    a fresh folder in ``/dev/shm`` when there is one, so the disk's other users (a shared machine)
    do not slow one client's complete more than the other's."""
    shm = Path("/dev/shm")
    return Path(tempfile.mkdtemp(prefix="bench-uploads-", dir=shm if shm.is_dir() else None))


def _spread(values: list[float]) -> str:
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return f"quartiles {low:.2f}-{high:.2f}, range {min(values):.2f}-{max(values):.2f}"


@dataclass
class _World:
    """What every size's measurement shares: the emulator, the API in-process and the studio's asset."""

    api: Any
    token: str
    asset_id: str
    meter: _LambdaMeter
    endpoint: str
    spool: Path
    parallel: int
    pairs: int


def _measure(world: _World, size: int, folder: Path) -> None:
    """Warm up, run ``world.pairs`` pairs for a ``size``-byte file and print them."""
    load_before = os.getloadavg()[0]
    path = folder / f"bench-{size}.bin"
    _write_file(path, size)
    hashing = _hash_seconds(path)  # also warms the page cache for both clients
    _boto3_upload(path, world.parallel)  # warm-up of both (connections, first imports): not counted
    _keyframe_upload(world.api, world.token, world.asset_id, path, world.parallel)
    _delete_uploaded_objects()
    baselines, ours_runs = [], []
    for pair in range(world.pairs):
        before = (world.meter.request_bytes, world.meter.response_bytes, world.meter.calls)
        baseline_seconds, elapsed, client = _pair(
            pair, world.api, world.token, world.asset_id, path=path, parallel=world.parallel
        )
        baselines.append(baseline_seconds)
        ours_runs.append(elapsed)
        through_lambda = world.meter.request_bytes + world.meter.response_bytes - before[0] - before[1]
        calls = world.meter.calls - before[2]
    path.unlink()
    baseline, ours = statistics.median(baselines), statistics.median(ours_runs)
    throughput = [b / o for o, b in zip(ours_runs, baselines, strict=True)]
    mb = size / 1e6
    print(
        f"file: {size} bytes ({size // PART_SIZE + bool(size % PART_SIZE)} parts of {PART_SIZE}), "
        f"parallel {world.parallel}, {world.pairs} interleaved pairs (order alternating) after a warm-up, "
        f"emulator {world.endpoint} spooling to {world.spool.parent}; load average {load_before:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after"
    )
    print(
        f"boto3 transfer manager : {baseline:7.2f} s  {mb / baseline:8.1f} MB/s (median) "
        f"{_rounded(baselines)}"
    )
    print(
        f"keyframe upload        : {ours:7.2f} s  {mb / ours:8.1f} MB/s (median) {_rounded(ours_runs)} "
        f"(the SHA-256 of the file, {hashing:.2f} s alone, is made on a thread from before the open)"
    )
    print(
        f"throughput keyframe/boto3: {statistics.median(throughput):.2f}x, the median of each pair's "
        f"ratio ({_spread(throughput)}); {baseline / ours:.2f}x from the medians"
    )
    print(
        f"bytes through Lambda   : {through_lambda} in {calls} API calls "
        f"(client sent {client.sent_bytes}, received {client.received_bytes}) for a {size}-byte file: "
        f"{through_lambda / size:.5%} of the file size, no file content"
    )


def main() -> None:
    """Run the benchmark for each size of ``BENCH_UPLOAD_MB`` (comma-separated, default 96 and 256) and
    print the ratios."""
    sizes = [int(float(mb) * 1024 * 1024) for mb in os.environ.get("BENCH_UPLOAD_MB", "96,256").split(",")]
    spool = _spool_dir()
    process, endpoint = _start_emulator(spool)
    saved_env = dict(os.environ)
    try:
        _configure(endpoint)
        from tests.support.api import ApiClient as GatewayClient

        meter = _LambdaMeter()
        meter.install()
        api = GatewayClient()
        token, asset_id = _setup_studio(api)
        world = _World(
            api, token, asset_id, meter, endpoint, spool,
            parallel=int(os.environ.get("BENCH_UPLOAD_PARALLEL", "4")),
            pairs=max(7, int(os.environ.get("BENCH_UPLOAD_ROUNDS", "15"))),
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            for size in sizes:
                _measure(world, size, Path(folder))
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(spool, ignore_errors=True)


def _rounded(values: list[float]) -> list[float]:
    return [round(value, 2) for value in values]


def serve_emulator(port: int) -> None:
    """Serve the local stack's emulator (moto behind :class:`keyframe.local.emulator.EmulatorApp`) on
    ``127.0.0.1:port`` until killed: the child process :func:`_start_emulator` starts."""
    from keyframe.local.emulator import EmulatorApp, EmulatorServer, moto_app

    EmulatorServer(EmulatorApp(moto_app()), "127.0.0.1", port).start()
    threading.Event().wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--emulator"]:
        serve_emulator(int(sys.argv[2]))
    else:
        main()
