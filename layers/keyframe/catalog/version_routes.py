"""REST routes of versions: list, read, rollback, download of the original and derived files (catalog-api).

Versions are created by the upload pipeline (:func:`keyframe.catalog.versions.publish_version`),
never through these routes; nothing here changes a version.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from keyframe.catalog.schemas import (
    Asset,
    DerivedDownload,
    DerivedName,
    Download,
    RollbackRequest,
    Version,
    VersionPage,
)
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import AssetId
from keyframe.identity.permissions import Permission

router = Router()

VersionNumber = Annotated[int, Path(ge=1, description="Version number (1, 2, 3 ...)")]


@router.get(
    "/assets/<assetId>/versions",
    summary="List an asset's versions, newest first",
    tags=["versions"],
    operation_id="listVersions",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_CURSOR",
    ),
)
def list_versions(
    assetId: AssetId,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> VersionPage:
    """A page of versions."""
    from keyframe.catalog import versions

    principal = authorize(Permission.ASSET_READ)
    return versions.list_versions(principal.studio_id, assetId, limit=limit, cursor=cursor)


@router.get(
    "/assets/<assetId>/versions/<version>",
    summary="Read one version",
    tags=["versions"],
    operation_id="getVersion",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "VERSION_NOT_FOUND",
    ),
)
def get_version(assetId: AssetId, version: VersionNumber) -> Version:
    """One immutable version with its processing and review status."""
    from keyframe.catalog import versions

    principal = authorize(Permission.ASSET_READ)
    return versions.get_version(principal.studio_id, assetId, version)


@router.get(
    "/assets/<assetId>/versions/<version>/download",
    summary="A presigned download URL of a version's file (15 minutes, Range requests work)",
    tags=["versions"],
    operation_id="downloadVersion",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "VERSION_NOT_FOUND",
    ),
)
def download_version(assetId: AssetId, version: VersionNumber) -> Download:
    """``{url, expiresAt, fileName, size}``."""
    from keyframe.catalog import downloads

    principal = authorize(Permission.ASSET_READ)
    return downloads.download_version(principal.studio_id, assetId, version)


@router.get(
    "/assets/<assetId>/versions/<version>/derived/<name>",
    summary="A presigned download URL of a derived file: thumbnail, proxy or waveform (15 minutes)",
    tags=["versions"],
    operation_id="downloadDerived",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "DERIVED_NOT_FOUND",
        "VERSION_NOT_FOUND",
    ),
)
def download_derived(
    assetId: AssetId,
    version: VersionNumber,
    name: Annotated[DerivedName, Path(description="thumbnail | proxy | waveform")],
) -> DerivedDownload:
    """``{url, expiresAt, fileName, contentType}``; images ``inline``, the proxy ``attachment``; Range
    requests work. 404 ``DERIVED_NOT_FOUND`` when the version has no such derived file."""
    from keyframe.catalog import downloads

    principal = authorize(Permission.ASSET_READ)
    return downloads.download_derived(principal.studio_id, assetId, version, name.value)


@router.patch(
    "/assets/<assetId>/rollback",
    summary="Make an existing READY version current (roll back or forward)",
    tags=["versions"],
    operation_id="rollbackAsset",
    openapi_extensions=answers(
        "ASSET_ARCHIVED",
        "ASSET_CHANGED",
        "ASSET_NOT_FOUND",
        "NO_VERSIONS",
        "VERSION_NOT_FOUND",
        "VERSION_NOT_READY",
    ),
)
def rollback(assetId: AssetId, body: RollbackRequest) -> Asset:
    """404 unknown version; 409 no versions yet, or the version is PROCESSING or FAILED."""
    from keyframe.catalog import versions

    principal = authorize(Permission.VERSION_ROLLBACK)
    return versions.rollback(principal.studio_id, principal.user_id, assetId, body.version)
