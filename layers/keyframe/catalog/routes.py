"""REST routes of projects and assets (catalog-api). Versions, dependencies and the activity log have
their own route modules (``version_routes``, ``graph_routes``, ``activity_routes``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.catalog.schemas import (
    Asset,
    AssetCreate,
    AssetPage,
    AssetStatus,
    AssetType,
    AssetUpdate,
    Project,
    ProjectCreate,
    ProjectPage,
    ProjectUpdate,
)
from keyframe.catalog.vocabulary import SortKey, SortOrder
from keyframe.http.auth import authorize, header
from keyframe.http.contract import answers
from keyframe.http.params import AssetId, ProjectId, query_id
from keyframe.identity.permissions import Permission

router = Router()

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1-100)")]
Cursor = Annotated[str | None, Query(max_length=4096, description="nextCursor of the previous page")]


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type="application/json", body=body, headers=headers or {})


# --- projects -----------------------------------------------------------------------------------


@router.post(
    "/projects",
    status_code=201,
    summary="Create a project (code unique in the studio)",
    tags=["projects"],
    operation_id="createProject",
    openapi_extensions=answers(
        "PROJECT_CODE_TAKEN",
        sends=("Location",),
    ),
)
def create_project(body: ProjectCreate) -> Response[Project]:
    """Create a project; 409 ``PROJECT_CODE_TAKEN`` when the code is used."""
    from keyframe.catalog import projects

    principal = authorize(Permission.PROJECT_WRITE)
    project = projects.create_project(principal.studio_id, principal.user_id, body)
    return _json(201, project, {"Location": f"/projects/{project.id}"})


@router.get(
    "/projects",
    summary="List the studio's active projects, by code",
    tags=["projects"],
    operation_id="listProjects",
    openapi_extensions=answers("INVALID_CURSOR"),
)
def list_projects(limit: Limit = 25, cursor: Cursor = None) -> ProjectPage:
    """A page of projects."""
    from keyframe.catalog import projects

    principal = authorize(Permission.PROJECT_READ)
    return projects.list_projects(principal.studio_id, limit=limit, cursor=cursor)


@router.get(
    "/projects/<projectId>",
    summary="Read a project",
    tags=["projects"],
    operation_id="getProject",
    openapi_extensions=answers("PROJECT_NOT_FOUND"),
)
def get_project(projectId: ProjectId) -> Project:
    """One project (archived ones too)."""
    from keyframe.catalog import projects

    principal = authorize(Permission.PROJECT_READ)
    return projects.get_project(principal.studio_id, projectId)


@router.patch(
    "/projects/<projectId>",
    summary="Edit a project",
    tags=["projects"],
    operation_id="updateProject",
    openapi_extensions=answers(
        "PROJECT_ARCHIVED",
        "PROJECT_CHANGED",
        "PROJECT_CODE_TAKEN",
        "PROJECT_NOT_FOUND",
    ),
)
def update_project(projectId: ProjectId, body: ProjectUpdate) -> Project:
    """Change name, code, description, fps or start frame."""
    from keyframe.catalog import projects

    principal = authorize(Permission.PROJECT_WRITE)
    return projects.update_project(principal.studio_id, principal.user_id, projectId, body)


@router.delete(
    "/projects/<projectId>",
    summary="Archive a project (nothing is deleted)",
    tags=["projects"],
    operation_id="archiveProject",
    openapi_extensions=answers("PROJECT_NOT_FOUND"),
)
def archive_project(projectId: ProjectId) -> Project:
    """Archive: hidden from the list, still readable."""
    from keyframe.catalog import projects

    principal = authorize(Permission.PROJECT_WRITE)
    return projects.archive_project(principal.studio_id, principal.user_id, projectId)


# --- assets -------------------------------------------------------------------------------------


def _with_etag(status: int, asset: Asset, extra: dict[str, str] | None = None) -> Response:
    return _json(status, asset, {"ETag": asset.etag, **(extra or {})})


@router.post(
    "/assets",
    status_code=201,
    summary="Create an asset in a project",
    tags=["assets"],
    operation_id="createAsset",
    openapi_extensions=answers(
        "ASSET_NAME_TAKEN",
        "PROJECT_ARCHIVED",
        "PROJECT_NOT_FOUND",
        sends=("ETag", "Location"),
    ),
)
def create_asset(body: AssetCreate) -> Response[Asset]:
    """Create an asset (status IN_PROGRESS, no versions yet)."""
    from keyframe.catalog import assets

    principal = authorize(Permission.ASSET_WRITE)
    asset = assets.create_asset(principal.studio_id, principal.user_id, body)
    return _with_etag(201, asset, {"Location": f"/assets/{asset.id}"})


@router.get(
    "/assets",
    summary="List, filter, search and sort assets (cursor pagination)",
    tags=["assets"],
    operation_id="listAssets",
    openapi_extensions=answers(
        "INVALID_CURSOR",
        "PROJECT_NOT_FOUND",
    ),
)
def list_assets(
    *,
    projectId: Annotated[str | None, query_id()] = None,
    type: Annotated[AssetType | None, Query()] = None,
    status: Annotated[AssetStatus | None, Query()] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
    sort: Annotated[SortKey, Query()] = SortKey.CREATED_AT,
    order: Annotated[SortOrder | None, Query()] = None,
    limit: Limit = 25,
    cursor: Cursor = None,
) -> AssetPage:
    """Active assets of the studio; ``q`` is a case-insensitive name prefix."""
    from keyframe.catalog import listing

    principal = authorize(Permission.ASSET_READ)
    return listing.list_assets(
        principal.studio_id,
        project_id=projectId,
        type=type,
        status=status,
        tag=tag,
        q=q,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/assets/<assetId>",
    summary="Read an asset (with its ETag)",
    tags=["assets"],
    operation_id="getAsset",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        sends=("ETag",),
    ),
)
def get_asset(assetId: AssetId) -> Response[Asset]:
    """One asset; the ``ETag`` header is what ``PATCH`` takes in ``If-Match``."""
    from keyframe.catalog import assets

    principal = authorize(Permission.ASSET_READ)
    return _with_etag(200, assets.get_asset(principal.studio_id, assetId))


@router.patch(
    "/assets/<assetId>",
    summary="Edit an asset (If-Match honoured)",
    tags=["assets"],
    operation_id="updateAsset",
    openapi_extensions=answers(
        "ASSET_NAME_TAKEN",
        "ASSET_ARCHIVED",
        "ASSET_NOT_FOUND",
        "PRECONDITION_FAILED",
        sends=("ETag",),
        reads=("If-Match",),
    ),
)
def update_asset(assetId: AssetId, body: AssetUpdate) -> Response[Asset]:
    """Change name, type, description or tags; a stale ``If-Match`` answers 412."""
    from keyframe.catalog import assets

    principal = authorize(Permission.ASSET_WRITE)
    asset = assets.update_asset(
        principal.studio_id, principal.user_id, assetId, body, if_match=header("If-Match")
    )
    return _with_etag(200, asset)


@router.delete(
    "/assets/<assetId>",
    summary="Archive an asset (restorable; nothing is deleted)",
    tags=["assets"],
    operation_id="archiveAsset",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        sends=("ETag",),
    ),
)
def archive_asset(assetId: AssetId) -> Response[Asset]:
    """Archive: hidden from lists, readable by id, restorable."""
    from keyframe.catalog import assets

    principal = authorize(Permission.ASSET_ARCHIVE)
    return _with_etag(200, assets.archive_asset(principal.studio_id, principal.user_id, assetId))


@router.post(
    "/assets/<assetId>/restore",
    summary="Restore an archived asset",
    tags=["assets"],
    operation_id="restoreAsset",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        sends=("ETag",),
    ),
)
def restore_asset(assetId: AssetId) -> Response[Asset]:
    """Bring an archived asset back into the lists."""
    from keyframe.catalog import assets

    principal = authorize(Permission.ASSET_ARCHIVE)
    return _with_etag(200, assets.restore_asset(principal.studio_id, principal.user_id, assetId))
