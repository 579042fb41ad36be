"""Versions' state rules: publish, processing status, review status, rollback.

A version is an immutable record of one uploaded file (``STUDIO#{s}#ASSET#{a}`` / ``VERSION#{n}``).
After creation only its processing fields (``status``, ``error``, ``media``, ``derived``,
``processedAt``) and review fields (``reviewStatus``, ``reviewedAt``, ``reviewedBy``) change, and only
through :func:`set_state` (the model itself refuses anything else, see
:class:`keyframe.catalog.models.VersionItem`).

Numbering: :func:`publish_version` allocates 1, 2, 3 … with one ``TransactWriteItems`` that sets the
asset's ``latestVersion`` to ``n`` on the condition that it is still ``n - 1``, puts the version with
``attribute_not_exists``, puts the upload reference (idempotency) and the activity entry. Concurrent
publishes on one asset conflict on that condition and retry with the next number, so they get
distinct consecutive numbers and never overwrite each other.

Lifecycle: ``PROCESSING`` (published) → ``READY`` (:func:`mark_version_ready`: becomes the asset's
current version if newer than the current one; dependents are told) or ``FAILED``
(:func:`mark_version_failed`, kept forever). Reprocess (:func:`set_version_processing`): a ``FAILED``
version goes back to ``PROCESSING``; a ``READY`` one stays ``READY`` and :func:`refresh_processing`
replaces its media and derived files when the rerun succeeds.

Reading versions is :mod:`keyframe.catalog.version_queries`; review status, rollback and the state
rules shared by every change are :mod:`keyframe.catalog.version_review` (re-exported here); download
links are :mod:`keyframe.catalog.downloads`.

Built against: :func:`publish_version` stores the versions of the asset's direct dependencies at
that moment (each pin, else the dependency's current version, with the edge's relationship;
:func:`keyframe.catalog.graph.built_against`) on the new version, immutable like the rest of it.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from keyframe.catalog import graph, thumbnails
from keyframe.catalog.assets import (
    load_asset,
    not_found,
    rooms_of,
    touch,
)
from keyframe.catalog.models import (
    AssetItem,
    UploadRefItem,
    VersionItem,
    asset_pk,
    not_archived,
    upload_sk,
    version_sk,
)
from keyframe.catalog.schemas import (
    FileInfo,
    ReviewStatus,
    Version,
    VersionError,
    VersionStatus,
)
from keyframe.catalog.version_queries import (
    get_version,
    list_versions,
    load_version,
    to_version,
)
from keyframe.catalog.version_review import (
    current_is,
    rollback,
    set_review_status,
    set_state,
    status_for_review,
)
from keyframe.clock import now_iso
from keyframe.errors import Conflict
from keyframe.events.publisher import stage
from keyframe.observability import logger
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction, any_cancellation, retrying

__all__ = [
    "FileInfo",
    "Version",
    "get_version",
    "list_versions",
    "load_version",
    "mark_version_failed",
    "mark_version_ready",
    "publish_version",
    "refresh_processing",
    "rollback",
    "set_review_status",
    "set_version_processing",
    "to_version",
]

PUBLISH_ATTEMPTS = 60
"""Optimistic attempts of a publish before giving up (each conflict means another publish won)."""

# --- publishing ---------------------------------------------------------------------------------


def _existing_for_upload(studio_id: str, asset_id: str, upload_id: str) -> Version | None:
    try:
        ref = UploadRefItem.get(asset_pk(studio_id, asset_id), upload_sk(upload_id), consistent_read=True)
    except DoesNotExist:
        return None
    return to_version(load_version(studio_id, asset_id, int(ref.version)))


def publish_version(
    studio_id: str,
    asset_id: str,
    *,
    created_by: str,
    file: FileInfo,
    change_note: str | None = None,
    upload_id: str | None = None,
) -> Version:
    """Record a new version of an asset (status ``PROCESSING``, review ``PENDING``).

    Allocates the next number atomically (see the module docstring), records the versions of the
    asset's dependencies it is built against (one Query and one BatchGetItem), sets the asset's
    ``latestVersion`` (not ``currentVersion``: that moves when the pipeline marks it ready), writes the
    activity entry in the same transaction and emits ``version:published``.

    Parameters
    ----------
    studio_id, asset_id:
        The asset (must be active).
    created_by:
        The user who uploaded the file.
    file:
        The stored object (key in the media bucket, size in bytes, content type, file name, sha256).
    change_note:
        What changed, in the artist's words.
    upload_id:
        Makes the call idempotent: publishing the same upload again returns the version it made.

    Returns
    -------
    Version
        The new (or, for a repeated ``upload_id``, the existing) version.

    Raises
    ------
    NotFound
        Unknown, other studio's or archived asset.
    """
    file = FileInfo.model_validate(file)
    if upload_id:
        existing = _existing_for_upload(studio_id, asset_id, upload_id)
        if existing is not None:
            return existing

    def attempt(_: int) -> tuple[Version, bool]:
        item = load_asset(studio_id, asset_id)
        if item.archived:
            raise not_found(asset_id)
        previous = int(item.latest_version or 0)
        number = previous + 1
        now = now_iso()
        used = [d.model_dump(mode="json", by_alias=True) for d in graph.built_against(studio_id, asset_id)]
        version = VersionItem(
            item.pk,
            version_sk(number),
            asset_id=asset_id,
            studio_id=studio_id,
            project_id=item.project_id,
            version=number,
            created_by=created_by,
            created_at=now,
            change_note=change_note,
            file=file.model_dump(mode="json", by_alias=True, exclude_none=True),
            upload_id=upload_id,
            status=VersionStatus.PROCESSING.value,
            review_status=ReviewStatus.PENDING.value,
            built_against=used,
        )
        tx = Transaction()
        tx.put("version", version)
        if upload_id:
            tx.put(
                "upload",
                UploadRefItem(item.pk, upload_sk(upload_id), version=number, created_at=now),
                condition=UploadRefItem.pk.does_not_exist(),
            )
        tx.update(
            "asset",
            AssetItem(item.pk, item.sk),
            [AssetItem.latest_version.set(number), *touch(item, now)],
            condition=(AssetItem.latest_version == previous) & not_archived(AssetItem),
        )
        published = to_version(version)
        stage(
            tx, studio_id, "version:published", published.to_json(), rooms=rooms_of(item.project_id, asset_id)
        )
        try:
            activity.record(
                studio_id,
                created_by,
                "version:published",
                "version",
                f"{asset_id}:{number}",
                {"version": number, "fileName": file.file_name, "size": file.size, "changeNote": change_note},
                project_id=item.project_id,
                asset_id=asset_id,
                transaction=tx,
            )
        except Cancelled as exc:
            if "upload" in exc.failed and upload_id:
                existing = _existing_for_upload(studio_id, asset_id, upload_id)
                if existing is not None:
                    return existing, False
            raise Cancelled(exc.failed, True) from exc  # lost the race for `number`: try n + 1
        return published, True

    published, _ = retrying(attempt, attempts=PUBLISH_ATTEMPTS, retry_if=any_cancellation)
    return published


# --- processing status --------------------------------------------------------------------------


def mark_version_ready(
    studio_id: str,
    asset_id: str,
    version: int,
    *,
    media: dict[str, Any],
    derived: dict[str, str],
    actor_id: str | None = None,
) -> Version:
    """The pipeline finished a version: status ``READY`` with its media metadata and derived files.

    The version becomes the asset's ``currentVersion`` only if it is newer than the current one (a
    late-finishing older version never replaces a newer current). When it does, the asset's status
    becomes ``PENDING_REVIEW`` and dependents are told: those pinning an older version get an
    ``outdatedDependencies`` entry, every dependent gets ``asset:dependency-updated``. Emits
    ``version:ready``. Marking a ``READY`` version again returns it unchanged (pipeline retries), but
    the dependency propagation (idempotent, written after the transaction) runs again whenever the
    asset's current version is this one, so a retry after a failed propagation completes it.

    Parameters
    ----------
    media:
        Probe results: ``duration`` (seconds), ``frameCount``, ``fps``, ``width``, ``height``,
        ``codecs``, ``bitRate``, ``startTimecode`` …
    derived:
        S3 keys of derived files: ``thumbnail``, ``proxy``, ``waveform`` …
    actor_id:
        Who triggered the processing, if a person did.

    Raises
    ------
    NotFound
        Unknown asset or version.
    Conflict
        ``VERSION_FAILED``: the version failed; reprocess it first.
    """

    def attempt(_: int) -> tuple[Version, bool, bool, AssetItem]:
        item = load_version(studio_id, asset_id, version)
        asset = load_asset(studio_id, asset_id)
        if item.status == VersionStatus.READY.value:
            return to_version(item), False, False, asset
        if item.status == VersionStatus.FAILED.value:
            raise Conflict(
                "The version failed processing; reprocess it first",
                code="VERSION_FAILED",
                details={"assetId": asset_id, "version": version},
            )
        now = now_iso()
        tx = Transaction()
        set_state(
            item,
            [
                VersionItem.status.set(VersionStatus.READY.value),
                VersionItem.media.set(media),
                VersionItem.derived.set(derived),
                VersionItem.processed_at.set(now),
                VersionItem.error.remove(),
            ],
            tx,
            expected_status={VersionStatus.PROCESSING.value},
        )
        current = None if asset.current_version is None else int(asset.current_version)
        becomes_current = current is None or version > current
        if becomes_current:
            tx.update(
                "asset",
                AssetItem(asset.pk, asset.sk),
                [
                    AssetItem.current_version.set(version),
                    AssetItem.status.set(status_for_review(item.review_status).value),
                    thumbnails.asset_thumbnail_action(derived),
                    *touch(asset, now),
                ],
                condition=current_is(current),
            )
        ready = to_version(item).model_copy(
            update={"status": VersionStatus.READY, "media": media, "derived": derived, "processed_at": now,
                    "error": None}
        )  # fmt: skip
        stage(
            tx, studio_id, "version:ready", {**ready.to_json(), "current": becomes_current},
            rooms=rooms_of(asset.project_id, asset_id),
        )  # fmt: skip
        activity.record(
            studio_id,
            actor_id,
            "version:ready",
            "version",
            f"{asset_id}:{version}",
            {"version": version, "current": becomes_current, "media": media},
            project_id=asset.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
        return to_version(load_version(studio_id, asset_id, version)), True, becomes_current, asset

    ready, _, _, _ = retrying(attempt, attempts=PUBLISH_ATTEMPTS, retry_if=any_cancellation)
    _propagate_if_current(studio_id, asset_id, version)
    return ready


def _propagate_if_current(studio_id: str, asset_id: str, version: int) -> None:
    """Tell dependents about ``version`` when it is (still) the asset's current version.

    Runs after the committing transaction, so it is redone by every retry of the caller (the
    propagation is idempotent: it sets each dependent's entry from the edges).
    """
    asset = load_asset(studio_id, asset_id)
    if asset.current_version is not None and int(asset.current_version) == version:
        graph.propagate_current_version(studio_id, asset_id, asset.project_id, version)


def mark_version_failed(
    studio_id: str, asset_id: str, version: int, *, error_code: str, message: str
) -> Version:
    """The pipeline gave up on a version: status ``FAILED`` with the error (the version is kept).

    Failing a ``FAILED`` version again returns it unchanged.

    Raises
    ------
    NotFound
        Unknown asset or version.
    Conflict
        ``VERSION_READY``: a ready version cannot fail.
    """
    item = load_version(studio_id, asset_id, version)
    if item.status == VersionStatus.FAILED.value:
        return to_version(item)
    if item.status == VersionStatus.READY.value:
        raise Conflict(
            "The version is ready; it cannot fail",
            code="VERSION_READY",
            details={"assetId": asset_id, "version": version},
        )
    now = now_iso()
    tx = Transaction()
    set_state(
        item,
        [
            VersionItem.status.set(VersionStatus.FAILED.value),
            VersionItem.error.set({"code": error_code, "message": message}),
            VersionItem.processed_at.set(now),
        ],
        tx,
        expected_status={VersionStatus.PROCESSING.value},
    )
    failed = to_version(item).model_copy(
        update={"status": VersionStatus.FAILED, "processed_at": now,
                "error": VersionError(code=error_code, message=message)}
    )  # fmt: skip
    stage(tx, studio_id, "version:failed", failed.to_json(), rooms=rooms_of(item.project_id, asset_id))
    try:
        activity.record(
            studio_id,
            None,
            "version:failed",
            "version",
            f"{asset_id}:{version}",
            {"version": version, "error": {"code": error_code, "message": message}},
            project_id=item.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
    except Cancelled as exc:
        raise Conflict("The version changed meanwhile", code="VERSION_CHANGED") from exc
    return to_version(load_version(studio_id, asset_id, version))


def set_version_processing(
    studio_id: str, asset_id: str, version: int, *, actor_id: str | None = None
) -> Version:
    """Record that ``actor_id`` asked to reprocess a version (activity ``version:reprocessing``).

    A ``FAILED`` version goes back to ``PROCESSING`` (its error cleared). A ``READY`` version stays
    ``READY`` with its media and derived files (it stays current, renderable and reviewable) until
    :func:`refresh_processing` replaces them; the rerun is tracked on the pipeline record. A version
    that is already ``PROCESSING`` is returned unchanged. The asset's current version never moves.

    Raises
    ------
    NotFound
        Unknown asset or version.
    Conflict
        ``VERSION_CHANGED``: the version changed meanwhile.
    """
    item = load_version(studio_id, asset_id, version)
    if item.status == VersionStatus.PROCESSING.value:
        return to_version(item)
    tx = Transaction()
    if item.status == VersionStatus.FAILED.value:
        set_state(
            item,
            [VersionItem.status.set(VersionStatus.PROCESSING.value), VersionItem.error.remove()],
            tx,
            expected_status={item.status},
        )
    else:
        tx.check("version", VersionItem, item.pk, item.sk, VersionItem.status == item.status)
    try:
        activity.record(
            studio_id,
            actor_id,
            "version:reprocessing",
            "version",
            f"{asset_id}:{version}",
            {"version": version, "previousStatus": item.status},
            project_id=item.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
    except Cancelled as exc:
        raise Conflict("The version changed meanwhile", code="VERSION_CHANGED") from exc
    return to_version(load_version(studio_id, asset_id, version))


def _follow_current_thumbnail(studio_id: str, asset_id: str, version: int, derived: dict[str, str]) -> None:
    """Point the asset item at ``version``'s new thumbnail if that version is still its current one."""
    asset = load_asset(studio_id, asset_id)
    if asset.current_version is None or int(asset.current_version) != version:
        return
    try:
        AssetItem(asset.pk, asset.sk).update(
            actions=[thumbnails.asset_thumbnail_action(derived)],
            condition=AssetItem.current_version == version,
        )
    except UpdateError:  # the current version moved meanwhile: that move set its own thumbnail
        logger.info("asset thumbnail not updated", extra={"asset_id": asset_id, "version": version})


def refresh_processing(
    studio_id: str,
    asset_id: str,
    version: int,
    *,
    media: dict[str, Any],
    derived: dict[str, str],
    actor_id: str | None = None,
) -> Version:
    """A reprocess of a ``READY`` version finished: replace its media metadata and derived files.

    The status stays ``READY`` and the asset's current version does not move. Records activity
    ``version:reprocessed`` and emits ``version:updated``; refreshing with the values the version
    already has changes nothing (Finalize retries).

    Raises
    ------
    NotFound
        Unknown asset or version.
    Conflict
        ``VERSION_NOT_READY``: the version is not ``READY`` (use :func:`mark_version_ready`).
    """
    item = load_version(studio_id, asset_id, version)
    if item.status != VersionStatus.READY.value:
        raise Conflict(
            f"Version {version} is {item.status}, not READY",
            code="VERSION_NOT_READY",
            details={"assetId": asset_id, "version": version, "status": item.status},
        )
    if (item.media or {}) == media and (item.derived or {}) == derived:
        return to_version(item)
    tx = Transaction()
    now = now_iso()
    set_state(
        item,
        [
            VersionItem.media.set(media),
            VersionItem.derived.set(derived),
            VersionItem.processed_at.set(now),
        ],
        tx,
        expected_status={VersionStatus.READY.value},
    )
    refreshed = to_version(item).model_copy(update={"media": media, "derived": derived, "processed_at": now})
    stage(
        tx, studio_id, "version:updated", {**refreshed.to_json(), "changes": ["media", "derived"]},
        rooms=rooms_of(item.project_id, asset_id),
    )  # fmt: skip
    try:
        activity.record(
            studio_id,
            actor_id,
            "version:reprocessed",
            "version",
            f"{asset_id}:{version}",
            {"version": version, "media": media},
            project_id=item.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
    except Cancelled as exc:
        raise Conflict("The version changed meanwhile", code="VERSION_CHANGED") from exc
    _follow_current_thumbnail(studio_id, asset_id, version, derived)
    return to_version(load_version(studio_id, asset_id, version))
