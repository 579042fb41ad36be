"""Versions' review status and rollback, and the state rules every version change shares.

:func:`set_state` is the only way a version changes after creation (status/review actions,
conditional on its current status); :func:`current_is` and :func:`status_for_review` are the asset's
side of those rules. Publishing and processing status are :mod:`keyframe.catalog.versions` (which
re-exports :func:`set_review_status` and :func:`rollback`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from keyframe.catalog import graph, thumbnails
from keyframe.catalog.assets import (
    archived_conflict,
    get_asset,
    load_asset,
    rooms_of,
    to_asset,
    touch,
)
from keyframe.catalog.models import AssetItem, VersionItem, not_archived
from keyframe.catalog.schemas import Asset, AssetStatus, ReviewStatus, Version, VersionStatus
from keyframe.catalog.version_queries import load_version, to_version
from keyframe.clock import now_iso
from keyframe.errors import Conflict, InvalidInput
from keyframe.events.publisher import stage
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction, any_cancellation, retrying


def set_state(item: VersionItem, actions: list[Any], tx: Transaction, *, expected_status: set[str]) -> None:
    """The only way a version changes: status/review actions, conditional on its current status."""
    condition = VersionItem.pk.exists() & VersionItem.status.is_in(*sorted(expected_status))
    tx.update("version", VersionItem(item.pk, item.sk), actions, condition=condition)


def current_is(current: int | None) -> Any:
    """Condition: the asset's current version is still ``current`` (``None``: not set)."""
    if current is None:
        return AssetItem.current_version.does_not_exist()
    return AssetItem.current_version == current


def status_for_review(review_status: str | None) -> AssetStatus:
    if review_status == ReviewStatus.APPROVED.value:
        return AssetStatus.APPROVED
    if review_status == ReviewStatus.CHANGES_REQUESTED.value:
        return AssetStatus.CHANGES_REQUESTED
    return AssetStatus.PENDING_REVIEW


def set_review_status(
    studio_id: str,
    asset_id: str,
    version: int,
    *,
    review_status: ReviewStatus | str,
    actor_id: str,
    note: str | None = None,
    with_items: Sequence[tuple[str, Model, Condition | None]] = (),
) -> Version:
    """Record a review decision on a version (live review calls this).

    Sets the version's ``reviewStatus``; when the version is the asset's current version (or newer
    than it), the asset's status follows: ``APPROVED``, ``CHANGES_REQUESTED`` or ``PENDING_REVIEW``.
    Reviewing an older version leaves the asset's status alone. One transaction writes the version,
    the asset, the ``version:reviewed`` activity entry and ``with_items``; then ``asset:updated`` is
    emitted.

    Parameters
    ----------
    note:
        The reviewer's note, kept in the activity entry's details (``note``) when given.
    with_items:
        ``(label, item, condition)`` puts to commit in the same transaction (any table, e.g. the
        decision record of :func:`keyframe.reviews.service.decide`), so all or none are stored.
        Each retry puts them again in a fresh transaction.

    Raises
    ------
    NotFound
        Unknown asset or version.
    InvalidInput
        Unknown review status.
    keyframe.storage.transactions.Cancelled
        Every attempt was cancelled (conflicts, or a ``with_items`` condition that keeps failing);
        nothing was written.
    """
    try:
        decision = ReviewStatus(review_status)
    except ValueError as exc:
        raise InvalidInput(f"Unknown review status {review_status!r}", code="INVALID_REVIEW_STATUS") from exc
    details: dict[str, Any] = {"version": version, "reviewStatus": decision.value}
    if note is not None:
        details["note"] = note

    def attempt(_: int) -> Version:
        item = load_version(studio_id, asset_id, version)
        asset = load_asset(studio_id, asset_id)
        now = now_iso()
        tx = Transaction()
        for label, extra, condition in with_items:
            tx.put(label, extra, condition=condition)
        set_state(
            item,
            [
                VersionItem.review_status.set(decision.value),
                VersionItem.reviewed_at.set(now),
                VersionItem.reviewed_by.set(actor_id),
            ],
            tx,
            expected_status={s.value for s in VersionStatus},
        )
        current = None if asset.current_version is None else int(asset.current_version)
        after = to_asset(asset)
        if current is None or version >= current:
            tx.update(
                "asset",
                AssetItem(asset.pk, asset.sk),
                [AssetItem.status.set(status_for_review(decision.value).value), *touch(asset, now)],
                condition=current_is(current),
            )
            after = after.model_copy(update={"status": status_for_review(decision.value), "updated_at": now})
        stage(
            tx, studio_id, "asset:updated",
            {**after.to_json(), "changes": ["status"], "version": version, "reviewStatus": decision.value},
            rooms=rooms_of(asset.project_id, asset_id),
        )  # fmt: skip
        activity.record(
            studio_id,
            actor_id,
            "version:reviewed",
            "version",
            f"{asset_id}:{version}",
            details,
            project_id=item.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
        return to_version(load_version(studio_id, asset_id, version))

    return retrying(attempt, attempts=20, retry_if=any_cancellation)


# --- rollback -----------------------------------------------------------------------------------


def rollback(studio_id: str, actor_id: str, asset_id: str, version: int) -> Asset:
    """Make ``version`` the asset's current version (back or forward).

    The asset's status follows the version's review status. Dependents pinning the asset get their
    ``outdatedDependencies`` recomputed and every dependent gets ``asset:dependency-updated``.
    Emits ``asset:rollback``.

    Raises
    ------
    NotFound
        Unknown asset; ``VERSION_NOT_FOUND``.
    Conflict
        ``NO_VERSIONS`` (nothing published yet); ``VERSION_NOT_READY`` (``PROCESSING`` or ``FAILED``);
        ``ASSET_ARCHIVED``; ``ASSET_CHANGED`` (the asset changed since it was read).
    keyframe.storage.transactions.Cancelled
        (500) the store refused another write of the change (its event, its activity entry).
    """
    asset = load_asset(studio_id, asset_id)
    if asset.archived:
        raise archived_conflict(asset_id)
    if not asset.latest_version:
        raise Conflict("The asset has no versions yet", code="NO_VERSIONS", details={"assetId": asset_id})
    target = load_version(studio_id, asset_id, version)
    if target.status != VersionStatus.READY.value:
        raise Conflict(
            f"Version {version} is {target.status}; only a READY version can become current",
            code="VERSION_NOT_READY",
            details={"assetId": asset_id, "version": version, "status": target.status},
        )
    previous = None if asset.current_version is None else int(asset.current_version)
    if previous == version:  # already current (maybe a retry after a failed propagation): redo it
        graph.propagate_current_version(studio_id, asset_id, asset.project_id, version)
        return get_asset(studio_id, asset_id)
    now = now_iso()
    tx = Transaction()
    tx.check("version", VersionItem, target.pk, target.sk, VersionItem.status == VersionStatus.READY.value)
    tx.update(
        "asset",
        AssetItem(asset.pk, asset.sk),
        [
            AssetItem.current_version.set(version),
            AssetItem.status.set(status_for_review(target.review_status).value),
            thumbnails.asset_thumbnail_action(target.derived),
            *touch(asset, now),
        ],
        condition=not_archived(AssetItem) & current_is(previous),
    )
    after = to_asset(asset).model_copy(
        update={
            "current_version": version,
            "status": status_for_review(target.review_status),
            "updated_at": now,
        }
    )
    stage(
        tx, studio_id, "asset:rollback", {**after.to_json(), "from": previous, "to": version},
        rooms=rooms_of(asset.project_id, asset_id),
    )  # fmt: skip
    try:
        activity.record(
            studio_id,
            actor_id,
            "asset:rollback",
            "asset",
            asset_id,
            {
                "from": previous,
                "to": version,
                "direction": "back" if previous and version < previous else "forward",
            },
            project_id=asset.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
    except Cancelled as exc:
        if "version" in exc.failed:
            raise Conflict("The version is no longer READY", code="VERSION_NOT_READY") from exc
        if exc.conflict or "asset" in exc.failed:
            raise Conflict("The asset changed meanwhile; try again", code="ASSET_CHANGED") from exc
        raise  # another write refused (the event, the activity entry): not a change of the asset (500)
    graph.propagate_current_version(studio_id, asset_id, asset.project_id, version)
    return get_asset(studio_id, asset_id)
