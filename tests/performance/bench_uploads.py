"""Upload throughput of ``keyframe upload`` against boto3's transfer manager, and API bytes per upload.

Both clients send the same file, with the same part size and concurrency, to the same S3 emulator
(moto server in its own process on a free port, so the emulator does not share the clients' GIL):

- ``keyframe upload`` opens an upload through the real uploads API (gateway, authorizer and handlers
  in-process, as in the integration tests), PUTs the parts to presigned URLs while a thread hashes
  the file, and completes with the hash;
- the baseline is ``boto3 s3.upload_file`` with ``TransferConfig(multipart_chunksize=part size,
  max_concurrency=parallel)``, which sends the parts with the SDK and no API at all.

Printed: seconds and MB/s of each, the ratio (keyframe / boto3; 1.0 = as fast; keyframe's time
includes hashing the file, which overlaps the sending), and the bytes that went through Lambda
(every request and response body the uploads API's handlers saw) against the file size: file content
must never pass through Lambda, so that number stays a few KB whatever the file size.

Run alone: ``python -m tests.performance.bench_uploads`` (``BENCH_UPLOAD_MB``, default 96;
``BENCH_UPLOAD_PARALLEL``, default 4; ``BENCH_UPLOAD_ROUNDS``, default 5, medians printed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
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


def _start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
    raise RuntimeError("moto server did not start")


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
    s3.upload_file(str(path), os.environ["MEDIA_BUCKET"], "bench/boto3-transfer-manager.bin", Config=config)
    return time.perf_counter() - started


def _hash_seconds(path: Path) -> float:
    from keyframe.cli.upload import sha256_of

    started = time.perf_counter()
    sha256_of(path)
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print the ratios."""
    size = int(float(os.environ.get("BENCH_UPLOAD_MB", "96")) * 1024 * 1024)
    parallel = int(os.environ.get("BENCH_UPLOAD_PARALLEL", "4"))
    rounds = int(os.environ.get("BENCH_UPLOAD_ROUNDS", "5"))
    process, endpoint = _start_emulator()
    saved_env = dict(os.environ)
    try:
        _configure(endpoint)
        from tests.support.api import ApiClient as GatewayClient

        meter = _LambdaMeter()
        meter.install()
        api = GatewayClient()
        token, asset_id = _setup_studio(api)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.bin"
            _write_file(path, size)
            hashing = _hash_seconds(path)  # also warms the page cache for both clients
            baselines, ours_runs = [], []
            for _ in range(rounds):  # alternate, so a busy moment hurts both alike; report medians
                baselines.append(_boto3_upload(path, parallel))
                before = (meter.request_bytes, meter.response_bytes, meter.calls)
                elapsed, client = _keyframe_upload(api, token, asset_id, path, parallel)
                ours_runs.append(elapsed)
                through_lambda = meter.request_bytes + meter.response_bytes - before[0] - before[1]
                calls = meter.calls - before[2]
        baseline, ours = statistics.median(baselines), statistics.median(ours_runs)
        mb = size / 1e6
        print(
            f"file: {size} bytes ({size // PART_SIZE + bool(size % PART_SIZE)} parts of {PART_SIZE}), "
            f"parallel {parallel}, median of {rounds} rounds, emulator {endpoint}"
        )
        print(f"boto3 transfer manager : {baseline:7.2f} s  {mb / baseline:8.1f} MB/s")
        print(
            f"keyframe upload        : {ours:7.2f} s  {mb / ours:8.1f} MB/s  (the SHA-256 of the file, "
            f"{hashing:.2f} s alone, is made on a thread while the parts are sent)"
        )
        paired = statistics.median(o / b for o, b in zip(ours_runs, baselines, strict=True))
        print(
            f"ratio keyframe/boto3   : {ours / baseline:5.2f} time (medians), {paired:5.2f} (median of each "
            f"round's ratio, its two runs back to back); throughput {baseline / ours:4.2f}x boto3's; load "
            f"average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"bytes through Lambda   : {through_lambda} in {calls} API calls "
            f"(client sent {client.sent_bytes}, received {client.received_bytes}) for a {size}-byte file: "
            f"{through_lambda / size:.5%} of the file size, no file content"
        )
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
