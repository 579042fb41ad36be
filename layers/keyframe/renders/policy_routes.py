"""REST routes of render policies (function ``renders-api``; logic in :mod:`keyframe.renders.policies`).

Every member reads a project's policies (``render:read``); PRODUCER and ADMIN change them
(``project:write``). Another studio's project answers 404.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import ProjectId, path_id
from keyframe.identity.permissions import Permission
from keyframe.renders.schemas import RenderPolicy, RenderPolicyCreate, RenderPolicyList, RenderPolicyPatch

router = Router()

PolicyId = Annotated[str, path_id("the render policy")]


@router.get(
    "/projects/<projectId>/render-policies",
    tags=["renders"],
    summary="A project's render policies (presets queued when a version of a matching asset type is READY)",
    operation_id="listRenderPolicies",
    openapi_extensions=answers("PROJECT_NOT_FOUND"),
)
def list_render_policies(projectId: ProjectId) -> RenderPolicyList:
    """200 with every policy of the project, oldest first; 404 for a project not in your studio."""
    from keyframe.renders import policies

    principal = authorize(Permission.RENDER_READ)
    return policies.list_policies(principal.studio_id, projectId)


@router.post(
    "/projects/<projectId>/render-policies",
    status_code=201,
    tags=["renders"],
    summary="Queue presets automatically for new READY versions of an asset type (PRODUCER, ADMIN)",
    operation_id="createRenderPolicy",
    openapi_extensions=answers("PROJECT_ARCHIVED", "PROJECT_NOT_FOUND", "TOO_MANY_RENDER_POLICIES"),
)
def create_render_policy(projectId: ProjectId, body: RenderPolicyCreate) -> RenderPolicy:
    """201 with the policy; versions that become READY from now on are rendered with its presets."""
    from keyframe.renders import policies

    return policies.create_policy(authorize(Permission.PROJECT_WRITE), projectId, body)


@router.patch(
    "/projects/<projectId>/render-policies/<policyId>",
    tags=["renders"],
    summary="Change a render policy's asset types, presets or enabled flag (PRODUCER, ADMIN)",
    operation_id="updateRenderPolicy",
    openapi_extensions=answers("PROJECT_NOT_FOUND", "RENDER_POLICY_NOT_FOUND"),
)
def update_render_policy(projectId: ProjectId, policyId: PolicyId, body: RenderPolicyPatch) -> RenderPolicy:
    """200 with the policy after the change."""
    from keyframe.renders import policies

    return policies.update_policy(authorize(Permission.PROJECT_WRITE), projectId, policyId, body)


@router.delete(
    "/projects/<projectId>/render-policies/<policyId>",
    status_code=204,
    tags=["renders"],
    summary="Delete a render policy (PRODUCER, ADMIN)",
    operation_id="deleteRenderPolicy",
    openapi_extensions=answers("PROJECT_NOT_FOUND", "RENDER_POLICY_NOT_FOUND"),
)
def delete_render_policy(projectId: ProjectId, policyId: PolicyId) -> Response[None]:
    """204; renders it already queued run on."""
    from keyframe.renders import policies

    policies.delete_policy(authorize(Permission.PROJECT_WRITE), projectId, policyId)
    return Response(status_code=204, content_type=None, body=None)
