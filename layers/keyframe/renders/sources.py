"""What a render reads, from the catalog: the asset, the exact version, its object and media facts.

The one place the render domain touches the catalog and identity tables (read only), so a change of
their shapes is a change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PynamoDBException

from keyframe.catalog.assets import get_asset, load_asset
from keyframe.catalog.graph import DEPENDENCIES, traverse
from keyframe.catalog.versions import get_version
from keyframe.errors import Conflict
from keyframe.identity.models import USER_SK, UserItem, user_pk
from keyframe.observability import logger
from keyframe.storage import s3


@dataclass(frozen=True)
class Source:
    """One READY version of an asset of the caller's studio.

    Attributes
    ----------
    asset_id, project_id, asset_name:
        The asset.
    version:
        The version number.
    file:
        ``{key, size, contentType, fileName, sha256}`` of the stored object.
    media:
        The pipeline's probe (``width``, ``height``, ``fps``, ``duration``, ``frameCount``, ``codecs``...).
    """

    asset_id: str
    project_id: str | None
    asset_name: str
    version: int
    file: dict[str, Any]
    media: dict[str, Any]


def resolve(studio_id: str, asset_id: str, version: int | None) -> Source:
    """The version a render request names (default: the asset's current version).

    Raises
    ------
    NotFound
        Unknown asset or version, or another studio's (catalog table).
    Conflict
        ``NO_CURRENT_VERSION`` (no version is ready yet) or ``VERSION_NOT_READY`` (PROCESSING/FAILED).
    """
    asset = get_asset(studio_id, asset_id)
    number = version if version is not None else asset.current_version
    if number is None:
        raise Conflict("The asset has no ready version to render yet", code="NO_CURRENT_VERSION")
    found = get_version(studio_id, asset_id, number)
    status = str(getattr(found.status, "value", found.status))
    if status != "READY":
        raise Conflict(
            f"Version {number} is {status}; only READY versions can be rendered",
            code="VERSION_NOT_READY",
            details={"version": number, "status": status},
        )
    media = dict(found.media or {})
    return Source(
        asset_id=asset_id,
        project_id=asset.project_id,
        asset_name=asset.name,
        version=number,
        file=found.file.model_dump(mode="json", by_alias=True, exclude_none=True),
        media=media,
    )


MAX_SCENE_DEPENDENCIES = 500
"""Assets a scene render may read besides the scene (the dependency walk's default bound)."""


def dependency_closure(studio_id: str, asset_id: str, bucket: str) -> list[dict[str, Any]]:
    """Every asset the scene uses, transitively, at its pinned version or else its current one.

    Walks the dependency graph (catalog table, :func:`keyframe.catalog.graph.traverse`) and reads
    each version (catalog table) and its object's S3 ``VersionId`` (media bucket, ``HeadObject``).

    Returns
    -------
    list
        ``[{assetId, version, pinned, key, s3VersionId?, sha256?, size, fileName, via}]``, nearest
        first (the :class:`keyframe.renders.schemas.LineageInput` shape without ``path``, which the
        probe step adds).

    Raises
    ------
    Conflict
        ``DEPENDENCY_NOT_READY``: a dependency has no READY version to read (none yet, or its pin is
        PROCESSING/FAILED); ``DEPENDENCIES_TRUNCATED``: more than :data:`MAX_SCENE_DEPENDENCIES`.
    """
    graph = traverse(studio_id, asset_id, DEPENDENCIES, transitive=True, max_nodes=MAX_SCENE_DEPENDENCIES)
    if graph.truncated:
        raise Conflict(
            f"The scene uses more than {MAX_SCENE_DEPENDENCIES} assets or deeper than the walk goes",
            code="DEPENDENCIES_TRUNCATED",
        )
    closure: list[dict[str, Any]] = []
    for node in graph.items:
        number = node.pinned_version if node.pinned_version is not None else node.current_version
        found = get_version(studio_id, node.asset_id, number) if number is not None else None
        status = str(getattr(found.status, "value", found.status)) if found else None
        if found is None or status != "READY":
            raise Conflict(
                f"Dependency {node.asset_id} has no ready version to render with",
                code="DEPENDENCY_NOT_READY",
                details={"assetId": node.asset_id, "version": number, "status": status},
            )
        file = found.file.model_dump(mode="json", by_alias=True, exclude_none=True)
        entry: dict[str, Any] = {
            "assetId": node.asset_id,
            "version": int(number),  # type: ignore[arg-type]
            "pinned": node.pinned_version is not None,
            "key": file["key"],
            "sha256": file.get("sha256"),
            "size": file.get("size"),
            "fileName": file["fileName"],
            "via": node.path[1:-1],
        }
        version_id = file.get("s3VersionId") or object_version_id(bucket, file["key"])
        if version_id:
            entry["s3VersionId"] = version_id
        closure.append({k: v for k, v in entry.items() if v is not None})
    return closure


def require_asset(studio_id: str, asset_id: str) -> None:
    """Check that ``asset_id`` is an asset of the studio (archived ones count; one GetItem, catalog table).

    Raises
    ------
    NotFound
        ``ASSET_NOT_FOUND``: unknown id or another studio's asset.
    """
    load_asset(studio_id, asset_id)


def object_version_id(bucket: str, key: str) -> str | None:
    """The S3 ``VersionId`` of the current object at ``key`` (``None`` when the bucket is unversioned).

    Reads the media bucket (``HeadObject``); a failure is logged and gives ``None``.
    """
    try:
        head = s3.client().head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("head_object failed for the render source", extra={"key": key, "error": str(exc)})
        return None
    version_id = head.get("VersionId")
    return None if version_id in (None, "null") else str(version_id)


def viewer_label(user_id: str) -> str:
    """The requesting user as the watermark names them: e-mail if known, else the id (tenants table)."""
    try:
        return str(UserItem.get(user_pk(user_id), USER_SK).email)
    except (DoesNotExist, PynamoDBException, KeyError):
        return user_id
