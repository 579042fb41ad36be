"""Restoring a snapshot into the emulator's (already bootstrapped) backends, and the interrupted executions.

:func:`restore` runs after the resources exist (:mod:`keyframe.local.bootstrap` is idempotent):
items are put back, S3 versions are put back with their version ids, ETags, metadata and dates
and read from their files when asked (:class:`SavedBytes`: no byte is copied and no file is held
open at start), multipart uploads in progress are opened again with their parts, secrets get their
saved value, signing KMS keys come back under their ids, state machines created through the API are
created again, executions are listed and described again. An execution that was RUNNING when the
stack stopped is restored ``FAILED`` with error ``LocalStackStopped`` and returned, so the stack can
tell its workflow (:func:`abort_interrupted`). The files are :mod:`keyframe.local.snapshot_layout`.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
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

from keyframe.local.dynamodb_queries import forget_index_maps
from keyframe.local.handlers import LOCAL_ACCOUNT_ID
from keyframe.local.snapshot_layout import FORMAT, MANIFEST, iso, parse_date, utc_now

log = logging.getLogger("keyframe.local.persistence")

STOPPED_ERROR = "LocalStackStopped"
STOPPED_CAUSE = "The local stack stopped while this execution was running"
MARK_FAILED = {"asset-pipeline": "pipeline-mark-failed", "render": "render-mark-failed"}
"""State machine (name after ``keyframe-{stage}-``) -> the function its safety net sends failures to."""


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
    forget_index_maps()  # the items went straight into moto's tables, past the requests that keep them
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
    hash_key = _attribute(attributes[table.hash_key_attr])
    range_key = _attribute(attributes[table.range_key_attr]) if table.range_key_attr else None
    item: Any = Item.__new__(Item)
    item.hash_key, item.range_key = hash_key, range_key
    # dict.update does not call LimitedSizeDict.__setitem__ (the per-attribute size check)
    item.attrs = LimitedSizeDict({name: _attribute(value) for name, value in attributes.items()})
    if range_key is not None:
        table.items[hash_key][range_key] = item
    else:
        table.items[hash_key] = item


def _attribute(value: dict[str, Any]) -> DynamoType:
    """A saved attribute as moto keeps it. Binary values are saved as base64 text: moto keeps a
    top-level ``B`` or ``BS`` as bytes, and one inside a map or list as that text."""
    if "B" in value:
        return DynamoType({"B": base64.b64decode(value["B"])})
    if "BS" in value:
        return DynamoType({"BS": [base64.b64decode(member) for member in value["BS"]]})
    return DynamoType(value)


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
            key.last_modified = parse_date(entry["lastModified"]) or key.last_modified
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
                key.last_modified = parse_date(part["lastModified"]) or key.last_modified
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
            state_machine=machine, start_date=parse_date(saved["startDate"]) or utc_now(),
            cloud_watch_logging_session=None, input_data=saved["input"] or "{}", trace_header=None,
            activity_store={},
        )  # fmt: skip
        status = saved["status"]
        if status == ExecutionStatus.RUNNING:
            status, saved["error"], saved["cause"] = ExecutionStatus.FAILED, STOPPED_ERROR, STOPPED_CAUSE
            saved["stopDate"] = iso(utc_now())
            restored.interrupted.append(
                {"executionArn": saved["executionArn"], "stateMachineArn": machine.arn,
                 "name": saved["name"], "input": saved["input"] or "{}"}
            )  # fmt: skip
        execution.exec_status = ExecutionStatus(status)
        execution.output = saved["output"]
        execution.error = saved["error"]
        execution.cause = saved["cause"]
        execution.stop_date = parse_date(saved["stopDate"])
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
