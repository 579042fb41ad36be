"""Render policies (issue 17.6): per project, presets queued automatically when a version of a
matching asset type becomes READY ("``hls`` for every SHOT").

Storage (renders table): one item per policy, ``STUDIO#{s}#PROJECT#{p}#RENDERPOLICY`` /
``POLICY#{policyId}``, so a project's policies are one Query. Writes are PRODUCER/ADMIN
(``project:write``); every member reads them. Each change commits with its activity entry
(``render-policy:created|updated|deleted``, catalog table) in one transaction and is announced to the
studio and project rooms as the live event of the same name.

Queueing is :mod:`keyframe.renders.triggers` (the outbox stream's ``version:ready``): for each enabled
policy of the version's project whose ``assetTypes`` contain the asset's type, each preset is requested
once per version: the job id is derived from (policy, asset, version, preset), so a redelivered event
or a second READY of the same version queues nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from keyframe.catalog.projects import load_project
from keyframe.catalog.vocabulary import AssetType
from keyframe.clock import now_iso
from keyframe.errors import Conflict, NotFound
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, project_room
from keyframe.identity.permissions import Principal
from keyframe.renders.schemas import RenderPolicy, RenderPolicyCreate, RenderPolicyList, RenderPolicyPatch
from keyframe.storage import activity
from keyframe.storage.models import table_meta
from keyframe.storage.tables import RENDERS
from keyframe.storage.transactions import Cancelled, Transaction

POLICY_PREFIX = "POLICY#"
MAX_POLICIES_PER_PROJECT = 50


def policies_pk(studio_id: str, project_id: str) -> str:
    """``STUDIO#{s}#PROJECT#{p}#RENDERPOLICY`` (renders table)."""
    return f"STUDIO#{studio_id}#PROJECT#{project_id}#RENDERPOLICY"


class RenderPolicyItem(Model):
    """One render policy of a project (renders table)."""

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    policy_id = UnicodeAttribute(attr_name="policyId")
    project_id = UnicodeAttribute(attr_name="projectId")
    asset_types = ListAttribute(of=UnicodeAttribute, attr_name="assetTypes")  # type: ignore[var-annotated]
    presets = ListAttribute(of=UnicodeAttribute)  # type: ignore[var-annotated]
    enabled = BooleanAttribute(default=True)
    created_by = UnicodeAttribute(attr_name="createdBy")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")


def to_policy(item: RenderPolicyItem) -> RenderPolicy:
    """The API shape of a policy item."""
    return RenderPolicy(
        policy_id=item.policy_id,
        project_id=item.project_id,
        asset_types=[AssetType(str(t)) for t in item.asset_types or []],
        presets=[str(p) for p in item.presets or []],
        enabled=bool(item.enabled),
        created_by=item.created_by,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _not_found(policy_id: str) -> NotFound:
    return NotFound(
        "Render policy not found", code="RENDER_POLICY_NOT_FOUND", details={"policyId": policy_id}
    )


def project_policies(studio_id: str, project_id: str) -> list[RenderPolicyItem]:
    """Every policy of the project, oldest first (one Query, consistent)."""
    items = RenderPolicyItem.query(
        policies_pk(studio_id, project_id),
        RenderPolicyItem.sk.startswith(POLICY_PREFIX),
        consistent_read=True,
    )
    return sorted(items, key=lambda i: (i.created_at, i.policy_id))


def list_policies(studio_id: str, project_id: str) -> RenderPolicyList:
    """``GET /projects/{projectId}/render-policies``.

    Raises
    ------
    NotFound
        ``PROJECT_NOT_FOUND``: unknown project or another studio's.
    """
    load_project(studio_id, project_id)
    return RenderPolicyList(items=[to_policy(i) for i in project_policies(studio_id, project_id)])


def _load(studio_id: str, project_id: str, policy_id: str) -> RenderPolicyItem:
    try:
        return RenderPolicyItem.get(
            policies_pk(studio_id, project_id), POLICY_PREFIX + policy_id, consistent_read=True
        )
    except DoesNotExist as exc:
        raise _not_found(policy_id) from exc


def _commit(principal: Principal, action: str, policy: RenderPolicyItem, tx: Transaction) -> None:
    """Commit ``tx`` with the activity entry and the event ``action`` (data: ``policy`` as the change
    leaves it), one transaction."""
    stage(
        tx,
        principal.studio_id,
        action,
        to_policy(policy).to_json(),
        rooms=[STUDIO_ROOM, project_room(policy.project_id)],
        subject=f"render-policy/{policy.policy_id}",
    )
    activity.record(
        principal.studio_id,
        principal.user_id,
        action,
        "render-policy",
        policy.policy_id,
        {"assetTypes": list(policy.asset_types), "presets": list(policy.presets), "enabled": policy.enabled},
        project_id=policy.project_id,
        transaction=tx,
    )


def create_policy(principal: Principal, project_id: str, request: RenderPolicyCreate) -> RenderPolicy:
    """Create a policy (renders table) with its ``render-policy:created`` entry; emits the event.

    Raises
    ------
    NotFound
        ``PROJECT_NOT_FOUND``.
    Conflict
        ``PROJECT_ARCHIVED`` (via the catalog), ``TOO_MANY_RENDER_POLICIES`` (more than 50 in a project).
    """
    project = load_project(principal.studio_id, project_id)
    if project.archived:
        raise _archived(project_id)
    if len(project_policies(principal.studio_id, project_id)) >= MAX_POLICIES_PER_PROJECT:
        raise _too_many()
    now = now_iso()
    policy_id = uuid.uuid4().hex
    item = RenderPolicyItem(
        policies_pk(principal.studio_id, project_id),
        POLICY_PREFIX + policy_id,
        policy_id=policy_id,
        project_id=project_id,
        asset_types=_unique(request.asset_types),
        presets=_unique(request.presets),
        enabled=request.enabled,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    tx = Transaction()
    tx.put("policy", item, condition=RenderPolicyItem.pk.does_not_exist())
    _commit(principal, "render-policy:created", item, tx)
    return to_policy(item)


def update_policy(
    principal: Principal, project_id: str, policy_id: str, request: RenderPolicyPatch
) -> RenderPolicy:
    """Change a policy's types, presets or ``enabled``; ``render-policy:updated`` entry and event.

    Raises
    ------
    NotFound
        ``PROJECT_NOT_FOUND``, ``RENDER_POLICY_NOT_FOUND``.
    """
    load_project(principal.studio_id, project_id)
    item: Any = _load(principal.studio_id, project_id, policy_id)
    item.updated_at = now_iso()
    actions = [RenderPolicyItem.updated_at.set(item.updated_at)]
    if request.asset_types is not None:
        item.asset_types = _unique(request.asset_types)
        actions.append(RenderPolicyItem.asset_types.set(item.asset_types))
    if request.presets is not None:
        item.presets = _unique(request.presets)
        actions.append(RenderPolicyItem.presets.set(item.presets))
    if request.enabled is not None:
        item.enabled = request.enabled
        actions.append(RenderPolicyItem.enabled.set(request.enabled))
    tx = Transaction()
    tx.update("policy", RenderPolicyItem(item.pk, item.sk), actions, condition=RenderPolicyItem.pk.exists())
    try:
        _commit(principal, "render-policy:updated", item, tx)
    except Cancelled as exc:
        if "policy" not in exc.failed:
            raise
        raise _not_found(policy_id) from exc
    return to_policy(_load(principal.studio_id, project_id, policy_id))


def delete_policy(principal: Principal, project_id: str, policy_id: str) -> None:
    """Delete a policy (renders already queued by it run on); ``render-policy:deleted`` entry and event.

    Raises
    ------
    NotFound
        ``PROJECT_NOT_FOUND``, ``RENDER_POLICY_NOT_FOUND``.
    """
    load_project(principal.studio_id, project_id)
    item = _load(principal.studio_id, project_id, policy_id)
    tx = Transaction()
    tx.delete("policy", RenderPolicyItem(item.pk, item.sk), condition=RenderPolicyItem.pk.exists())
    try:
        _commit(principal, "render-policy:deleted", item, tx)
    except Cancelled as exc:
        if "policy" not in exc.failed:
            raise
        raise _not_found(policy_id) from exc


def _archived(project_id: str) -> Conflict:
    return Conflict("The project is archived", code="PROJECT_ARCHIVED", details={"projectId": project_id})


def _too_many() -> Conflict:
    return Conflict(
        f"A project has at most {MAX_POLICIES_PER_PROJECT} render policies",
        code="TOO_MANY_RENDER_POLICIES",
        details={"limit": MAX_POLICIES_PER_PROJECT},
    )
