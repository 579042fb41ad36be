"""REST routes of the dependency graph (catalog-api)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from keyframe.catalog.schemas import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_NODES,
    MAX_DEPTH,
    MAX_NODES,
    Dependency,
    DependencyPut,
    GraphResult,
)
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import AssetId, path_id
from keyframe.identity.permissions import Permission

router = Router()

DependsOnId = Annotated[str, path_id("the asset depended on")]
Transitive = Annotated[bool, Query(description="The whole closure, with depth and path per node")]
MaxDepth = Annotated[int, Query(ge=1, le=MAX_DEPTH, description="Levels to follow (transitive)")]
MaxNodes = Annotated[int, Query(ge=1, le=MAX_NODES, description="Nodes to return at most")]


@router.put(
    "/assets/<assetId>/dependencies/<dependsOnId>",
    summary="Say that an asset uses another (pinned to a version, or following its current one)",
    tags=["dependencies"],
    operation_id="putDependency",
    openapi_extensions=answers(
        "ASSET_ARCHIVED",
        "ASSET_NOT_FOUND",
        "DEPENDENCY_CYCLE",
        "GRAPH_TOO_LARGE",
        "SELF_DEPENDENCY",
        "UNKNOWN_VERSION",
        "VERSION_FAILED",
        "VERSION_NOT_FOUND",
    ),
)
def put_dependency(
    assetId: AssetId,
    dependsOnId: DependsOnId,
    body: Annotated[DependencyPut | None, Body()] = None,
) -> Response[Dependency]:
    """201 when created, 200 when re-pinned; 409 ``DEPENDENCY_CYCLE`` names the cycle."""
    from keyframe.catalog import graph

    principal = authorize(Permission.ASSET_WRITE)
    dependency, created = graph.put_dependency(
        principal.studio_id, principal.user_id, assetId, dependsOnId, body or DependencyPut()
    )
    return Response(status_code=201 if created else 200, content_type="application/json", body=dependency)


@router.delete(
    "/assets/<assetId>/dependencies/<dependsOnId>",
    status_code=204,
    summary="Remove a dependency",
    tags=["dependencies"],
    operation_id="removeDependency",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "DEPENDENCY_NOT_FOUND",
    ),
)
def remove_dependency(assetId: AssetId, dependsOnId: DependsOnId) -> Response[None]:
    """204 when removed; 404 when there was no such dependency."""
    from keyframe.catalog import graph

    principal = authorize(Permission.ASSET_WRITE)
    graph.remove_dependency(principal.studio_id, principal.user_id, assetId, dependsOnId)
    return Response(status_code=204, content_type=None, body=None)


@router.get(
    "/assets/<assetId>/dependencies",
    summary="What an asset uses",
    tags=["dependencies"],
    operation_id="listDependencies",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_INPUT",
    ),
)
def dependencies(
    assetId: AssetId,
    transitive: Transitive = False,
    maxDepth: MaxDepth = DEFAULT_MAX_DEPTH,
    maxNodes: MaxNodes = DEFAULT_MAX_NODES,
) -> GraphResult:
    """Direct dependencies, or the closure with ``transitive=true``."""
    from keyframe.catalog import graph

    principal = authorize(Permission.ASSET_READ)
    return graph.traverse(
        principal.studio_id,
        assetId,
        graph.DEPENDENCIES,
        transitive=transitive,
        max_depth=maxDepth,
        max_nodes=maxNodes,
    )


@router.get(
    "/assets/<assetId>/dependents",
    summary="What uses an asset (the impact set)",
    tags=["dependencies"],
    operation_id="listDependents",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_INPUT",
    ),
)
def dependents(
    assetId: AssetId,
    transitive: Transitive = False,
    maxDepth: MaxDepth = DEFAULT_MAX_DEPTH,
    maxNodes: MaxNodes = DEFAULT_MAX_NODES,
) -> GraphResult:
    """Direct dependents, or the whole impact set with ``transitive=true``."""
    from keyframe.catalog import graph

    principal = authorize(Permission.ASSET_READ)
    return graph.traverse(
        principal.studio_id,
        assetId,
        graph.DEPENDENTS,
        transitive=transitive,
        max_depth=maxDepth,
        max_nodes=maxNodes,
    )
