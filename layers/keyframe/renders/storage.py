"""The render outputs in the media bucket: upload a folder, remove an attempt's objects, presign.

Every key is under ``studios/{studioId}/renders/{renderJobId}/attempt-{n}/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keyframe.renders.presets import CONTENT_TYPES
from keyframe.storage import s3 as s3_client


def s3() -> Any:
    """A SigV4 S3 client (presigned URLs work in every region); path-style on an emulator endpoint."""
    style = "path" if os.environ.get("AWS_ENDPOINT_URL") else "auto"
    return s3_client.client(addressing_style=style)


def content_type(name: str) -> str:
    """The MIME type of an output file from its suffix (``application/octet-stream`` if unknown)."""
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def walk(folder: Path) -> Iterator[Path]:
    """Every file under ``folder``, sorted (relative paths keep the playlists' layout)."""
    yield from sorted(p for p in folder.rglob("*") if p.is_file())


def upload_folder(bucket: str, folder: Path, prefix: str) -> tuple[int, int]:
    """Upload every file of ``folder`` to ``prefix`` + its relative path, with its content type.

    Returns
    -------
    tuple
        ``(file count, total bytes)``.
    """
    client = s3()
    count = total = 0
    for path in walk(folder):
        key = prefix + path.relative_to(folder).as_posix()
        client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type(path.name)})
        count += 1
        total += path.stat().st_size
    return count, total


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` (all versions' current objects); returns how many."""
    client = s3()
    deleted = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def presign_get(bucket: str, key: str, expires_in: int, **response: str) -> str:
    """A presigned GET of ``key`` valid ``expires_in`` seconds; ``response`` sets ``Response*`` overrides."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, **response}
    return str(s3().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))
