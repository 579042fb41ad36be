"""Renders the system queues by itself, from the durable domain events (the outbox stream consumer).

Registered as the ``renders`` consumer of :mod:`keyframe.outbox.stream` (``functions/outbox_stream``);
the catalog only stores its events, so no catalog code knows about renders. Each event can come more
than once: every render queued here has a job id derived from its cause, written on condition that
it does not exist (:func:`keyframe.renders.requests.request_automatic`), so a redelivery queues
nothing more.

``version:ready`` -> render policies (issue 17.6)
    Each enabled policy of the version's project, created before the version became READY, whose
    ``assetTypes`` contain the asset's type queues each of its presets for that version (job id
    from policy, asset, version, preset), as a request of the policy's creator; the activity entry
    ``render:requested`` (actor: the system) carries ``trigger: {kind: "render-policy", policyId,
    eventId}``, as does the job's lineage.

``asset:dependency-updated`` -> re-render on change (issue 17.7)
    When a dependency an asset *follows* (not pinned) gets a new current version and the asset
    opted in (``rerenderOnChange``) and its current version is a scene, one ``scene-review`` of that
    current version is queued. Its job id is derived from the asset, its version and the versions of
    every asset its scene would read now (the dependency closure), so changes that land before the
    consumer reads the closure share one render (the debounce), and a redelivered event queues
    nothing more. The lineage's ``trigger`` names the change (``{kind: "dependency-change",
    dependencyId, dependencyVersion, eventId}``); the asset's room gets ``asset:rerender-queued``.
    Assets that use the changed one transitively are candidates too (a shot using a rig whose texture
    got a new version re-renders: its scene reads that texture through the rig).

A cause that cannot be rendered (a preset that does not fit the file, a quota reached, a dependency
not READY) is skipped, not retried: retrying would hold every later event of the stream behind it
(a spent month of render minutes stays spent for weeks), and a render queued long after its cause
would surprise more than it helps. It is not silent either: the refusal is logged and written to
the activity log as ``render:not-queued`` (actor: the system; ``details``: ``preset``, ``version``,
the refusal's ``code`` and ``message`` — e.g. ``CONCURRENT_RENDERS_QUOTA_EXCEEDED`` — and the
``trigger``), so a producer reading the asset's activity sees which automatic render did not happen
and why, and can request it by hand once the quota allows. A redelivered event may write that entry
again (the render itself is still never queued twice).
"""

from __future__ import annotations

import hashlib
from typing import Any

from keyframe.catalog.assets import load_asset
from keyframe.catalog.graph import DEPENDENCIES, impact_set, traverse
from keyframe.catalog.models import AssetItem
from keyframe.catalog.vocabulary import AssetType
from keyframe.errors import KeyframeError
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.observability import logger
from keyframe.outbox.records import DomainEvent
from keyframe.renders import policies, requests, scenes, sources
from keyframe.renders.schemas import RenderRequest, RerenderQueued
from keyframe.storage import activity

RERENDER_PRESET = "scene-review"
NOT_QUEUED = "render:not-queued"
"""Activity action of an automatic render that was refused (quota, preset, dependency)."""
IMPACT_MAX_NODES = 500
"""Assets one dependency change may re-render at most (the dependents walk's bound)."""


def consume(event: DomainEvent) -> None:
    """The stream consumer: queue the renders ``event`` causes (see the module docstring).

    A domain refusal (an asset or project gone, a quota) is logged and the event skipped; any other
    exception propagates, so the stream hands the event again (every step is idempotent).
    """
    try:
        if event.type == "version:ready":
            queue_for_policies(event)
        elif event.type == "asset:dependency-updated":
            rerender_on_change(event)
    except KeyframeError as exc:
        logger.warning(
            "event causes no render", extra={"event_id": event.id, "event_type": event.type, "code": exc.code}
        )


def _job_id(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def queue_for_policies(event: DomainEvent) -> list[str]:
    """Queue the presets of the project's matching policies for the READY version in ``event``.

    Reads the project's policies (renders table, one Query) and, when one is enabled, the asset
    (catalog table). Returns the ids of the jobs queued now (empty when there was nothing to do or
    every one was queued before).
    """
    data = event.data
    studio_id, asset_id, project_id = event.studio, data.get("assetId"), data.get("projectId")
    if data.get("status") != "READY" or not asset_id or not project_id or data.get("version") is None:
        return []
    enabled = [
        p
        for p in policies.project_policies(studio_id, project_id)
        if p.enabled and p.created_at <= event.occurred_at  # versions READY before the policy: not
    ]
    if not enabled:
        return []
    asset = load_asset(studio_id, asset_id)
    if asset.archived:
        return []
    version = int(data["version"])
    queued = []
    for policy in enabled:
        if AssetType(asset.type).value not in {str(t) for t in policy.asset_types or []}:
            continue
        for preset in policy.presets or []:
            trigger = {"kind": "render-policy", "policyId": policy.policy_id, "eventId": event.id}
            job = _request(
                studio_id,
                asset_id,
                RenderRequest.model_validate({"preset": str(preset), "version": version}),
                job_id=_job_id("policy", policy.policy_id, asset_id, version, preset),
                requested_for=policy.created_by,
                trigger=trigger,
            )
            if job is not None:
                queued.append(job.render_job_id)
    return queued


def rerender_on_change(event: DomainEvent) -> list[str]:
    """Queue one ``scene-review`` of each opted-in scene whose inputs a dependency's new version changed.

    The asset whose followed dependency moved, and every asset that uses it transitively (its scene
    reads that asset's dependencies too: :func:`keyframe.catalog.graph.impact_set`, at most
    :data:`IMPACT_MAX_NODES`), are candidates; each that opted in and whose current version is a
    READY scene gets one render (see the module docstring).

    Returns
    -------
    list of str
        The jobs queued now (empty: nothing opted in, a pinned dependency, not a scene, or the same
        inputs were queued before).
    """
    data = event.data
    if not data.get("assetId") or not data.get("following"):
        return []  # a pinned dependency's new version changes nothing the scene reads
    queued = []
    for asset in impact_set(event.studio, str(data["assetId"]), max_nodes=IMPACT_MAX_NODES):
        if asset.rerender_on_change and not asset.archived and asset.current_version is not None:
            job_id = _rerender(event, asset)
            if job_id:
                queued.append(job_id)
    return queued


def _rerender(event: DomainEvent, asset: AssetItem) -> str | None:
    """One ``scene-review`` of ``asset``'s current version for ``event``'s change (``None``: none)."""
    studio_id, asset_id, version = event.studio, asset.asset_id, int(asset.current_version)
    try:
        source = sources.resolve(studio_id, asset_id, version)
        scenes.renderer_for(source.media)
    except KeyframeError:
        return None  # not a READY scene: nothing to re-render
    bound = sources.MAX_SCENE_DEPENDENCIES
    closure = traverse(studio_id, asset_id, DEPENDENCIES, transitive=True, max_nodes=bound)
    inputs = sorted(
        (n.asset_id, n.pinned_version if n.pinned_version is not None else n.current_version)
        for n in closure.items
    )
    data = event.data
    dependency_id, dependency_version = str(data.get("dependencyId")), int(data.get("currentVersion") or 0)
    trigger = {
        "kind": "dependency-change",
        "dependencyId": dependency_id,
        "dependencyVersion": dependency_version,
        "eventId": event.id,
    }
    job_id = _job_id("rerender", asset_id, version, inputs)
    queued = RerenderQueued(
        asset_id=asset_id,
        version=version,
        render_job_id=job_id,
        dependency_id=dependency_id,
        dependency_version=dependency_version,
    )
    job = _request(
        studio_id,
        asset_id,
        RenderRequest.model_validate({"preset": RERENDER_PRESET, "version": version}),
        job_id=job_id,
        requested_for=asset.created_by,
        trigger=trigger,
        also=requests.Also(
            "asset:rerender-queued",
            queued.to_json(),
            [STUDIO_ROOM, asset_room(asset_id)],
            f"asset/{asset_id}",
        ),
    )
    return None if job is None else str(job.render_job_id)


def _request(studio_id: str, asset_id: str, request: RenderRequest, **kw: Any) -> Any:
    """:func:`requests.request_automatic`; a refusal is logged, written to the activity log as
    ``render:not-queued`` (catalog table, actor ``None``) and skipped (``None``)."""
    try:
        return requests.request_automatic(studio_id, asset_id, request, **kw)
    except KeyframeError as exc:
        logger.warning(
            "automatic render not queued",
            extra={
                "asset_id": asset_id,
                "preset": request.preset,
                "code": exc.code,
                "trigger": kw.get("trigger"),
            },
        )
        details = {
            "preset": request.preset,
            "version": request.version,
            "code": exc.code,
            "message": exc.message,
            "trigger": kw.get("trigger"),
        }
        activity.record(studio_id, None, NOT_QUEUED, "asset", asset_id, details, asset_id=asset_id)
        return None
