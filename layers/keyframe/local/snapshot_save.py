"""Writing a snapshot of the emulator's backends (:func:`save`).

Laid out as :mod:`keyframe.local.snapshot_layout` says: DynamoDB items as JSON lines per table,
every S3 object version as a file of its own (written once: a version never changes), multipart
uploads in progress with the parts sent so far, the secrets' current values, the KMS keys that sign
(id, spec and private key, so access tokens signed before a restart still verify), the state
machines and the executions of every state machine, with ``manifest.json`` naming them, replaced
atomically last. Files no manifest names are removed afterwards.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from moto.dynamodb.models import dynamodb_backends
from moto.kms.models import kms_backends
from moto.s3.models import FakeDeleteMarker, FakeKey, s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from keyframe.local import atomic
from keyframe.local.handlers import LOCAL_ACCOUNT_ID
from keyframe.local.snapshot_layout import FORMAT, MANIFEST, iso, object_file, part_file, utc_now


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


def _base64(value: object) -> str:
    """A binary value (``B``, ``BS``, nested too: moto hands them out as bytes) as base64 text, as
    DynamoDB's JSON writes it; :func:`keyframe.local.snapshot_restore.restore` reads it back."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def save(directory: Path, region: str) -> dict[str, int]:
    """Write a snapshot of the emulator's backends into ``directory``; counts of what was written.

    Consistent per table (DynamoDB requests wait while a table is read, see :mod:`atomic`); S3
    versions written since the last snapshot are copied once.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dynamodb").mkdir(exist_ok=True)
    objects_dir = directory / "objects"
    objects_dir.mkdir(exist_ok=True)
    manifest: dict[str, Any] = {"format": FORMAT, "savedAt": iso(utc_now())}
    counts = {"items": 0, "objects": 0, "newObjects": 0, "multipartUploads": 0, "parts": 0}

    dynamodb: Any = dynamodb_backends[LOCAL_ACCOUNT_ID][region]
    tables: dict[str, str] = {}
    for name, table in list(dynamodb.tables.items()):
        with atomic.serialised():
            rows = [json.dumps(item.to_json()["Attributes"], default=_base64) for item in table.all_items()]
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
                                    "lastModified": iso(key.last_modified)})  # fmt: skip
                    continue
                file = object_file(bucket_name, key)
                counts["newObjects"] += _copy_bytes(key, objects_dir / file)
                entries.append(
                    {
                        "key": name,
                        "versionId": key._version_id,
                        "etag": key.etag.strip('"'),
                        "size": key.size,
                        "lastModified": iso(key.last_modified),
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
                    "startDate": iso(execution.start_date),
                    "stopDate": iso(execution.stop_date),
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
        file = part_file(bucket, upload.id, number, part)
        counts["newObjects"] += _copy_bytes(part, objects_dir / file)
        parts.append({"partNumber": number, "etag": part.etag.strip('"'), "size": part.size,
                      "lastModified": iso(part.last_modified), "file": file})  # fmt: skip
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
