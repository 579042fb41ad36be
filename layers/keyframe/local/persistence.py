"""Local data that lasts: a snapshot of the emulator's backends in ``<state>/data``, restored at start.

``make dev`` keeps its tables, objects, secrets and Step Functions executions across restarts:

- :func:`save` writes a snapshot at shutdown and every ``KEYFRAME_SNAPSHOT_SECONDS`` (default 60;
  ``0`` only at shutdown): DynamoDB items as JSON lines per table (``dynamodb/<table>.jsonl``), every
  S3 object version as a file of its own (``objects/<hash>``, written once: a version never changes),
  the secrets' current values, the KMS keys that sign (their id, spec and private key, so access
  tokens signed before a restart still verify) and the executions of every state machine, with
  ``manifest.json`` naming them, replaced atomically last. Files no manifest names are removed afterwards.
- :func:`restore` runs after the resources exist (:mod:`keyframe.local.bootstrap` is idempotent):
  items are put back, S3 versions are put back with their version ids, ETags, metadata and dates
  and read from their files when asked (no byte is copied and no file is held open at start: the
  cost grows with the number of items and versions, not their bytes, and 10,000 versions need no
  more file descriptors than one; ``tests/performance/bench_persistence.py`` measures it),
  secrets get their saved value (tokens signed before the restart stay valid), state machines
  created through the API are created again, executions are listed and described again.
  An execution that was RUNNING when the stack stopped is restored ``FAILED`` with error
  ``LocalStackStopped`` and returned, so the stack can tell its workflow
  (:func:`abort_interrupted`: the mark-failed function answers ``PIPELINE_ABORTED`` for an upload).
- S3 multipart uploads in progress are kept with the parts already sent (each part a file of its
  own, like an object version): an interrupted ``keyframe upload`` resumes after a restart and sends
  only the missing parts.
- What is not kept: Batch jobs, WebSocket connections, and anything written after the last snapshot
  when the stack is killed (``kill -9``) instead of stopped.

``python -m keyframe.local.persistence reset`` (``make dev-reset``) deletes the snapshot.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.kms.models import Key as KmsKey
from moto.kms.models import kms_backends
from moto.s3.models import FakeDeleteMarker, FakeKey, FakeMultipart, s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.utilities.utils import CaseInsensitiveDict

from keyframe import registry
from keyframe.local import atomic
from keyframe.local.handlers import LOCAL_ACCOUNT_ID

log = logging.getLogger("keyframe.local.persistence")

FORMAT = 1
MANIFEST = "manifest.json"
STOPPED_ERROR = "LocalStackStopped"
STOPPED_CAUSE = "The local stack stopped while this execution was running"
MARK_FAILED = {"asset-pipeline": "pipeline-mark-failed", "render": "render-mark-failed"}
"""State machine (name after ``keyframe-{stage}-``) -> the function its safety net sends failures to."""


def data_dir(state_dir: Path) -> Path:
    """Where the snapshot lives: ``<state>/data``."""
    return state_dir / "data"


@dataclass
class Restored:
    """What :func:`restore` put back."""

    items: int = 0
    objects: int = 0
    object_bytes: int = 0
    secrets: int = 0
    executions: int = 0
    multipart_uploads: int = 0
    """Multipart uploads in progress at stop, opened again with their parts."""
    parts: int = 0
    interrupted: list[dict[str, Any]] = field(default_factory=list)
    """Executions that were RUNNING at stop: ``{"executionArn", "stateMachineArn", "name", "input"}``."""


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _date(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if value else None


def _object_file(bucket: str, key: FakeKey) -> str:
    identity = f"{bucket}\0{key.name}\0{key.version_id}\0{key.etag}"
    return hashlib.sha256(identity.encode()).hexdigest()


def _part_file(bucket: str, upload_id: str, number: int, part: FakeKey) -> str:
    identity = f"{bucket}\0multipart\0{upload_id}\0{number}\0{part.etag}"
    return hashlib.sha256(identity.encode()).hexdigest()


class SavedBytes:
    """The bytes of one saved object version, read from its file only when asked.

    Stands in for a restored :class:`FakeKey`'s in-memory buffer (moto only seeks, reads, tells and
    closes it): the file is opened for each read and closed again, so restoring any number of
    versions holds no file descriptor (a laptop's default limit is 256 to 1024). Writing is
    refused: moto replaces a key rather than rewriting its bytes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position = 0
        self.closed = False

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the read position like :meth:`io.IOBase.seek`; returns it."""
        if whence == os.SEEK_SET:
            self.position = offset
        elif whence == os.SEEK_CUR:
            self.position += offset
        else:
            self.position = self.path.stat().st_size + offset
        return self.position

    def tell(self) -> int:
        """The read position, in bytes."""
        return self.position

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all when negative) from the position; ``ValueError`` once closed."""
        if self.closed:
            raise ValueError("I/O operation on closed file")
        with self.path.open("rb") as file:
            file.seek(self.position)
            data = file.read(-1 if size is None else size)
        self.position += len(data)
        return data

    def close(self) -> None:
        """Forget the file (it stays on disk until no snapshot names it)."""
        self.closed = True


def _saved_key(name: Any, path: Path, size: int, etag: str, region: str, **kwargs: Any) -> FakeKey:
    """A :class:`FakeKey` whose bytes stay in ``path`` (see :class:`SavedBytes`)."""
    key = FakeKey(name, b"", LOCAL_ACCOUNT_ID, region, etag=etag, **kwargs)
    key._value_buffer.close()
    key._value_buffer = SavedBytes(path)  # type: ignore[assignment]  # moto only seeks, reads, closes
    key.contentsize = size
    return key


def _copy_bytes(key: FakeKey, target: Path) -> bool:
    """Write ``key``'s bytes to ``target`` once (a version never changes); True if written now."""
    if target.exists():
        return False
    tmp = target.with_name(f".{target.name}.tmp")
    with key.lock:
        key._value_buffer.seek(0)
        with tmp.open("wb") as out:
            shutil.copyfileobj(key._value_buffer, out, 8 * 1024 * 1024)
    tmp.replace(target)
    return True


def _versions(bucket: Any) -> list[tuple[str, list[Any]]]:
    return [(name, list(versions)) for name, versions in bucket.keys.iterlists()]


def _retrying(read: Callable[[], Any]) -> Any:
    """``read()`` again when a backend's dict changed size under it (moto has no locks there)."""
    for _ in range(5):
        try:
            return read()
        except RuntimeError:
            time.sleep(0.01)
    return read()


# ---------------------------------------------------------------------------------------------- save


def save(directory: Path, region: str) -> dict[str, int]:
    """Write a snapshot of the emulator's backends into ``directory``; counts of what was written.

    Consistent per table (DynamoDB requests wait while a table is read, see :mod:`atomic`); S3
    versions written since the last snapshot are copied once.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dynamodb").mkdir(exist_ok=True)
    objects_dir = directory / "objects"
    objects_dir.mkdir(exist_ok=True)
    manifest: dict[str, Any] = {"format": FORMAT, "savedAt": _iso(datetime.datetime.now(datetime.UTC))}
    counts = {"items": 0, "objects": 0, "newObjects": 0, "multipartUploads": 0, "parts": 0}

    dynamodb: Any = dynamodb_backends[LOCAL_ACCOUNT_ID][region]
    tables: dict[str, str] = {}
    for name, table in list(dynamodb.tables.items()):
        with atomic.serialised():
            rows = [json.dumps(item.to_json()["Attributes"]) for item in table.all_items()]
        path = directory / "dynamodb" / f"{name}.jsonl"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(row + "\n" for row in rows))
        tmp.replace(path)
        tables[name] = path.name
        counts["items"] += len(rows)
    manifest["dynamodb"] = tables

    s3: Any = s3_backends[LOCAL_ACCOUNT_ID]["aws"]
    buckets: dict[str, list[dict[str, Any]]] = {}
    multiparts: dict[str, list[dict[str, Any]]] = {}
    for bucket_name, bucket in list(s3.buckets.items()):
        entries: list[dict[str, Any]] = []
        listing: list[tuple[str, list[Any]]] = _retrying(partial(_versions, bucket))
        for name, versions in listing:
            for key in list(versions):
                if isinstance(key, FakeDeleteMarker):
                    entries.append({"key": name, "deleteMarker": True, "versionId": key.version_id,
                                    "lastModified": _iso(key.last_modified)})  # fmt: skip
                    continue
                file = _object_file(bucket_name, key)
                counts["newObjects"] += _copy_bytes(key, objects_dir / file)
                entries.append(
                    {
                        "key": name,
                        "versionId": key._version_id,
                        "etag": key.etag.strip('"'),
                        "size": key.size,
                        "lastModified": _iso(key.last_modified),
                        "metadata": dict(key.metadata),
                        "checksumAlgorithm": key.checksum_algorithm,
                        "checksumValue": key.checksum_value,
                        "file": file,
                    }
                )
                counts["objects"] += 1
        buckets[bucket_name] = entries
        in_progress: list[Any] = _retrying(partial(list, bucket.multiparts.values()))
        uploads = [_save_multipart(bucket_name, upload, objects_dir, counts) for upload in in_progress]
        if uploads:
            multiparts[bucket_name] = uploads
    manifest["s3"] = buckets
    manifest["multipartUploads"] = multiparts

    secrets: Any = secretsmanager_backends[LOCAL_ACCOUNT_ID][region]
    manifest["secrets"] = {
        name: secret.secret_string
        for name, secret in list(secrets.secrets.items())
        if getattr(secret, "secret_string", None) is not None
    }

    manifest["kmsKeys"] = _save_kms_keys(region)

    states: Any = stepfunctions_parser_backends[LOCAL_ACCOUNT_ID][region]
    executions = []
    manifest["stateMachines"] = [
        {"name": m.name, "definition": m.definition, "roleArn": m.roleArn}
        for m in list(states.state_machines)
    ]
    for machine in list(states.state_machines):
        for execution in list(machine.executions):
            executions.append(
                {
                    "stateMachineArn": machine.arn,
                    "name": execution.name,
                    "executionArn": execution.exec_arn,
                    "status": getattr(execution.exec_status, "value", execution.exec_status),
                    "input": execution.execution_input,
                    "output": execution.output,
                    "error": execution.error,
                    "cause": execution.cause,
                    "startDate": _iso(execution.start_date),
                    "stopDate": _iso(execution.stop_date),
                }
            )
    manifest["executions"] = executions

    tmp = directory / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest))
    tmp.replace(directory / MANIFEST)
    _remove_unreferenced(directory, manifest)
    return counts


def _save_multipart(bucket: str, upload: Any, objects_dir: Path, counts: dict[str, int]) -> dict[str, Any]:
    """One multipart upload in progress: its key, metadata and the parts sent so far (files of their own)."""
    parts = []
    for number, part in sorted(_retrying(lambda: list(upload.parts.items()))):
        file = _part_file(bucket, upload.id, number, part)
        counts["newObjects"] += _copy_bytes(part, objects_dir / file)
        parts.append({"partNumber": number, "etag": part.etag.strip('"'), "size": part.size,
                      "lastModified": _iso(part.last_modified), "file": file})  # fmt: skip
    counts["multipartUploads"] += 1
    counts["parts"] += len(parts)
    return {
        "uploadId": upload.id,
        "key": upload.key_name,
        "metadata": dict(upload.metadata or {}),
        "storage": upload.storage,
        "tags": dict(upload.tags or {}),
        "sseEncryption": upload.sse_encryption,
        "kmsKeyId": upload.kms_key_id,
        "parts": parts,
    }


def _remove_unreferenced(directory: Path, manifest: dict[str, Any]) -> None:
    files = {e["file"] for entries in manifest["s3"].values() for e in entries if "file" in e}
    files |= {
        part["file"]
        for uploads in manifest.get("multipartUploads", {}).values()
        for upload in uploads
        for part in upload["parts"]
    }
    for path in (directory / "objects").iterdir():
        if path.name not in files and not path.name.startswith("."):
            path.unlink(missing_ok=True)
    tables = set(manifest["dynamodb"].values())
    for path in (directory / "dynamodb").iterdir():
        if path.name not in tables:
            path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------- restore


def restore(directory: Path, region: str) -> Restored:
    """Put a snapshot back into the emulator's (already bootstrapped) backends.

    Tables, buckets, secrets or state machines the snapshot names but the bootstrap did not create
    are skipped (a resource removed from the code since).
    """
    restored = Restored()
    path = directory / MANIFEST
    if not path.exists():
        return restored
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        log.warning("ignoring %s: format %s, expected %s", path, manifest.get("format"), FORMAT)
        return restored
    _restore_tables(directory, manifest["dynamodb"], region, restored)
    _restore_objects(directory, manifest["s3"], region, restored)
    _restore_multiparts(directory, manifest.get("multipartUploads", {}), region, restored)
    secrets: Any = secretsmanager_backends[LOCAL_ACCOUNT_ID][region]
    for name, value in manifest["secrets"].items():
        if name in secrets.secrets:
            secrets.put_secret_value(name, secret_string=value, secret_binary=None,
                                     client_request_token=None, version_stages=["AWSCURRENT"])  # fmt: skip
            restored.secrets += 1
    _restore_kms_keys(manifest.get("kmsKeys", []), region)
    _restore_executions(manifest.get("stateMachines", []), manifest["executions"], region, restored)
    return restored


def _save_kms_keys(region: str) -> list[dict[str, Any]]:
    """The emulator's asymmetric KMS keys (token keys): id, spec, usage, description, tags, PEM."""
    backend: Any = kms_backends[LOCAL_ACCOUNT_ID][region]
    saved = []
    for key_id, key in list(backend.keys.items()):
        private = getattr(getattr(key, "private_key", None), "private_key", None)
        if key.key_usage != "SIGN_VERIFY" or private is None:
            continue
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tags = backend.list_resource_tags(key_id).get("Tags", [])
        saved.append({"id": key_id, "keySpec": key.key_spec, "keyUsage": key.key_usage,
                      "description": key.description, "tags": tags, "privateKey": pem.decode()})  # fmt: skip
    return saved


def _restore_kms_keys(saved: list[dict[str, Any]], region: str) -> None:
    """Put saved signing keys back under their own ids (a key the bootstrap made is kept too)."""
    backend: Any = kms_backends[LOCAL_ACCOUNT_ID][region]
    for entry in saved:
        if entry["id"] in backend.keys:
            continue
        key: Any = KmsKey(  # type: ignore[abstract]  # moto's model, built as create_key does
            None, entry["keyUsage"], entry["keySpec"], entry["description"], LOCAL_ACCOUNT_ID, region
        )
        key.id = entry["id"]
        key.arn = key.arn.rsplit("/", 1)[0] + "/" + entry["id"]
        key.private_key.private_key = serialization.load_pem_private_key(entry["privateKey"].encode(), None)
        backend.keys[key.id] = key
        if entry.get("tags"):  # saved as KMS lists them; moto's tag_resource takes {key: value}
            backend.tag_resource(key.id, {tag["TagKey"]: tag["TagValue"] for tag in entry["tags"]})


def _restore_tables(directory: Path, tables: dict[str, str], region: str, restored: Restored) -> None:
    dynamodb: Any = dynamodb_backends[LOCAL_ACCOUNT_ID][region]
    for name, file in tables.items():
        table = dynamodb.tables.get(name)
        if table is None:
            continue
        with (directory / "dynamodb" / file).open() as rows:
            for row in rows:
                _put_saved_item(table, json.loads(row))
                restored.items += 1


def _put_saved_item(table: Any, attributes: dict[str, Any]) -> None:
    """Store an item the table held before: as ``Table.put_item`` stores it, without its checks.

    The item passed them when it was written; moto's size check on each attribute set costs the
    square of the attribute count (a catalog item has about 30), which made ``put_item`` the bulk of
    a restart with 10,000 assets.
    """
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    item: Any = Item.__new__(Item)
    item.hash_key, item.range_key = hash_key, range_key
    # dict.update does not call LimitedSizeDict.__setitem__ (the per-attribute size check)
    item.attrs = LimitedSizeDict({name: DynamoType(value) for name, value in attributes.items()})
    if range_key is not None:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item


def _restore_objects(
    directory: Path, buckets: dict[str, list[dict[str, Any]]], region: str, restored: Restored
) -> None:
    s3: Any = s3_backends[LOCAL_ACCOUNT_ID]["aws"]
    for bucket_name, entries in buckets.items():
        bucket = s3.buckets.get(bucket_name)
        if bucket is None:
            continue
        for entry in entries:
            if entry.get("deleteMarker"):
                current = bucket.keys.get(entry["key"])
                if current is not None:
                    marker = FakeDeleteMarker(key=current)
                    marker._version_id = entry["versionId"]
                    bucket.keys[entry["key"]] = marker
                continue
            key = _saved_key(
                entry["key"], directory / "objects" / entry["file"], entry["size"], entry["etag"], region,
                is_versioned=bucket.is_versioned, version_id=entry["versionId"], bucket_name=bucket_name,
            )  # fmt: skip
            key.last_modified = _date(entry["lastModified"]) or key.last_modified
            for name, value in (entry.get("metadata") or {}).items():
                key._metadata[name] = value
            key.checksum_algorithm = entry.get("checksumAlgorithm")
            key.checksum_value = entry.get("checksumValue")
            if bucket.is_versioned:
                bucket.keys[entry["key"]] = key  # appended: the saved order is the versions' order
            else:
                bucket.keys.setlist(entry["key"], [key])
            restored.objects += 1
            restored.object_bytes += entry["size"]


def _restore_multiparts(
    directory: Path, uploads: dict[str, list[dict[str, Any]]], region: str, restored: Restored
) -> None:
    """Open again each multipart upload that was in progress, with the same id and the parts it had."""
    s3: Any = s3_backends[LOCAL_ACCOUNT_ID]["aws"]
    for bucket_name, saved_uploads in uploads.items():
        bucket = s3.buckets.get(bucket_name)
        if bucket is None:
            continue
        for saved in saved_uploads:
            upload = FakeMultipart(
                saved["key"], CaseInsensitiveDict(saved["metadata"]), LOCAL_ACCOUNT_ID, region,
                storage=saved["storage"], tags=saved["tags"], sse_encryption=saved["sseEncryption"],
                kms_key_id=saved["kmsKeyId"],
            )  # fmt: skip
            upload.id = saved["uploadId"]
            for part in saved["parts"]:
                key = _saved_key(part["partNumber"], directory / "objects" / part["file"], part["size"],
                                 part["etag"], region, encryption=saved["sseEncryption"],
                                 kms_key_id=saved["kmsKeyId"])  # fmt: skip
                key.last_modified = _date(part["lastModified"]) or key.last_modified
                upload.parts[part["partNumber"]] = key
                upload.partlist.append(part["partNumber"])
                restored.object_bytes += part["size"]
            bucket.multiparts[upload.id] = upload
            restored.multipart_uploads += 1
            restored.parts += len(saved["parts"])


def _restore_executions(
    machines_saved: list[dict[str, Any]], executions: list[dict[str, Any]], region: str, restored: Restored
) -> None:
    states: Any = stepfunctions_parser_backends[LOCAL_ACCOUNT_ID][region]
    names = {machine.name for machine in states.state_machines}
    for saved_machine in machines_saved:  # those the bootstrap does not make (created through the API)
        if saved_machine["name"] not in names:
            states.create_state_machine(
                saved_machine["name"], saved_machine["definition"], saved_machine["roleArn"]
            )
    machines = {machine.arn: machine for machine in states.state_machines}
    for saved in executions:
        machine = machines.get(saved["stateMachineArn"])
        if machine is None or any(e.exec_arn == saved["executionArn"] for e in machine.executions):
            continue
        execution: Any = Execution(
            name=saved["name"], sm_type=machine.sm_type, role_arn=machine.roleArn,
            exec_arn=saved["executionArn"], account_id=LOCAL_ACCOUNT_ID, region_name=region,
            state_machine=machine, start_date=_date(saved["startDate"]) or _now(),
            cloud_watch_logging_session=None, input_data=saved["input"] or "{}", trace_header=None,
            activity_store={},
        )  # fmt: skip
        status = saved["status"]
        if status == ExecutionStatus.RUNNING:
            status, saved["error"], saved["cause"] = ExecutionStatus.FAILED, STOPPED_ERROR, STOPPED_CAUSE
            saved["stopDate"] = _iso(datetime.datetime.now(datetime.UTC))
            restored.interrupted.append(
                {"executionArn": saved["executionArn"], "stateMachineArn": machine.arn,
                 "name": saved["name"], "input": saved["input"] or "{}"}
            )  # fmt: skip
        execution.exec_status = ExecutionStatus(status)
        execution.output = saved["output"]
        execution.error = saved["error"]
        execution.cause = saved["cause"]
        execution.stop_date = _date(saved["stopDate"])
        machine.executions.append(execution)
        restored.executions += 1


def abort_interrupted(
    interrupted: list[dict[str, Any]], stage: str, invoke: Callable[[str, dict[str, Any]], Any]
) -> int:
    """Tell each interrupted execution's workflow that it ended, as the cloud's safety net does.

    Sends the EventBridge "Step Functions Execution Status Change" event (status ``ABORTED``) to the
    state machine's mark-failed function (:data:`MARK_FAILED`), which fails the upload's pipeline
    (``PIPELINE_ABORTED``) or the render job; returns how many were told.
    """
    told = 0
    for execution in interrupted:
        machine = execution["stateMachineArn"].rsplit(":", 1)[-1].removeprefix(f"keyframe-{stage}-")
        function = MARK_FAILED.get(machine)
        if function is None:
            continue
        event = {
            "version": "0",
            "id": execution["name"],
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": LOCAL_ACCOUNT_ID,
            "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [execution["executionArn"]],
            "detail": {
                "executionArn": execution["executionArn"],
                "stateMachineArn": execution["stateMachineArn"],
                "name": execution["name"],
                "status": "ABORTED",
                "input": execution["input"],
                "error": STOPPED_ERROR,
                "cause": STOPPED_CAUSE,
            },
        }
        try:
            invoke(function, event)
            told += 1
        except Exception:
            log.exception("could not mark the interrupted execution %s failed", execution["executionArn"])
    return told


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
