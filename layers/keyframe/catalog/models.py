"""PynamoDB models of the catalog table (projects, assets, versions, dependencies, activity).

Single-table design: every item key starts with ``STUDIO#{studioId}``, so another studio's ids are
simply not found. Item collections:

=================================  =====================  ==========================================
pk                                 sk                     item
=================================  =====================  ==========================================
``STUDIO#{s}#PROJECT#{p}``         ``PROJECT``            :class:`ProjectItem`
``STUDIO#{s}#PROJECTCODE#{CODE}``  ``PROJECTCODE``        :class:`ProjectCodeItem` (code uniqueness)
``STUDIO#{s}#ASSET#{a}``           ``ASSET``              :class:`AssetItem`
``STUDIO#{s}#PROJECT#{p}#ASSETNAME#{key}``  ``ASSETNAME``  :class:`AssetNameItem` (name uniqueness)
``STUDIO#{s}#ASSET#{a}``           ``VERSION#{n:010d}``   :class:`VersionItem` (immutable record)
``STUDIO#{s}#ASSET#{a}``           ``UPLOAD#{uploadId}``  :class:`UploadRefItem` (publish idempotency)
``STUDIO#{s}#ASSET#{a}``           ``DEP#{b}``            :class:`EdgeItem` "a uses b" (forward)
``STUDIO#{s}#ASSET#{b}``           ``RDEP#{a}``           :class:`EdgeItem` "a uses b" (reverse)
``STUDIO#{s}#GRAPH``               ``GRAPH``              :class:`GraphLockItem` (edge-add revision)
``STUDIO#{s}#ACTIVITY``            ``{ts}#{id}``          ``ActivityItem`` (:mod:`keyframe.storage.activity`)
=================================  =====================  ==========================================

The overloaded GSIs (``gsi1``…``gsi6``) are described in :mod:`keyframe.catalog.listing` (assets),
:mod:`keyframe.catalog.projects` (projects, ``gsi1``) and :mod:`keyframe.storage.activity`
(``gsi1``-``gsi3``, with their own partition prefixes).

Versions are immutable: :class:`VersionItem` refuses any put that could overwrite an existing
version, any delete, and any update that touches a field other than the processing and review
status fields (:data:`VERSION_MUTABLE_ATTRIBUTES`).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import CATALOG

NAME_SEPARATOR = "\x1f"
"""Separates a casefolded name from the id in name sort keys; below every printable character, so
``"hero"`` sorts before ``"hero rig"`` (names may not contain control characters)."""


def studio_prefix(studio_id: str) -> str:
    """``STUDIO#{studioId}``: the start of every key of the studio."""
    return f"STUDIO#{studio_id}"


def project_pk(studio_id: str, project_id: str) -> str:
    """Partition key of a project."""
    return f"STUDIO#{studio_id}#PROJECT#{project_id}"


def project_code_pk(studio_id: str, code: str) -> str:
    """Partition key of the uniqueness item of a project code (upper case)."""
    return f"STUDIO#{studio_id}#PROJECTCODE#{code.upper()}"


def asset_name_pk(studio_id: str, project_id: str, name: str) -> str:
    """Partition key of the uniqueness item of an asset name in a project (case-insensitive: the
    name NFKC-normalised and casefolded)."""
    key = unicodedata.normalize("NFKC", name).casefold()
    return f"STUDIO#{studio_id}#PROJECT#{project_id}#ASSETNAME#{key}"


def asset_pk(studio_id: str, asset_id: str) -> str:
    """Partition key of an asset's item collection (asset, versions, edges, upload refs)."""
    return f"STUDIO#{studio_id}#ASSET#{asset_id}"


def version_sk(version: int) -> str:
    """Sort key of version ``version`` (zero-padded so versions sort numerically)."""
    return f"VERSION#{version:010d}"


def upload_sk(upload_id: str) -> str:
    """Sort key of the item that maps an upload to the version it published."""
    return f"UPLOAD#{upload_id}"


def dependency_sk(depends_on_id: str) -> str:
    """Sort key of the forward edge "this asset uses ``depends_on_id``"."""
    return f"DEP#{depends_on_id}"


def dependent_sk(asset_id: str) -> str:
    """Sort key of the reverse edge "``asset_id`` uses this asset"."""
    return f"RDEP#{asset_id}"


def graph_lock_pk(studio_id: str) -> str:
    """Partition key of the studio's dependency-graph revision item."""
    return f"STUDIO#{studio_id}#GRAPH"


def not_archived(model: Any) -> Condition:
    """Condition: the project or asset item is active (``archived = false``)."""
    return model.archived == False  # noqa: E712 - builds a DynamoDB condition


def is_archived(model: Any) -> Condition:
    """Condition: the project or asset item is archived (``archived = true``)."""
    return model.archived == True  # noqa: E712 - builds a DynamoDB condition


ASSET_SK = "ASSET"
PROJECT_SK = "PROJECT"
PROJECT_CODE_SK = "PROJECTCODE"
ASSET_NAME_SK = "ASSETNAME"
GRAPH_SK = "GRAPH"
VERSION_PREFIX = "VERSION#"
DEPENDENCY_PREFIX = "DEP#"
DEPENDENT_PREFIX = "RDEP#"


class _CatalogModel(Model):
    """Base of every catalog item: table from ``CATALOG_TABLE``, keys ``pk``/``sk``."""

    Meta = table_meta(CATALOG)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class ProjectItem(_CatalogModel):
    """A project (a show, a film). Listed through ``gsi1`` (``STUDIO#{s}#PROJECTS`` / code)."""

    project_id = UnicodeAttribute(attr_name="projectId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    name = UnicodeAttribute()
    code = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    fps = NumberAttribute()
    start_frame = NumberAttribute(attr_name="startFrame")
    archived = BooleanAttribute(default=False)
    created_by = UnicodeAttribute(attr_name="createdBy")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(CATALOG, 1)()


class ProjectCodeItem(_CatalogModel):
    """Reserves a project code in a studio (put with ``attribute_not_exists`` in the same transaction)."""

    project_id = UnicodeAttribute(attr_name="projectId")


class AssetNameItem(_CatalogModel):
    """Reserves an asset name in a project (put with ``attribute_not_exists`` in the transaction that
    creates or renames the asset; an archived asset keeps it)."""

    asset_id = UnicodeAttribute(attr_name="assetId")


class AssetItem(_CatalogModel):
    """An asset: a character, prop, shot ... with numbered versions. Listing GSIs: see ``listing``."""

    asset_id = UnicodeAttribute(attr_name="assetId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    project_id = UnicodeAttribute(attr_name="projectId")
    name = UnicodeAttribute()
    name_key = UnicodeAttribute(attr_name="nameKey")
    type = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    rerender_on_change = BooleanAttribute(null=True, attr_name="rerenderOnChange")
    # PynamoDB types ``of`` as the element type, so ``of=UnicodeAttribute`` reads as a list of attributes
    # instead of str (pynamodb/PynamoDB#1246).
    tags: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    status = UnicodeAttribute()
    current_version = NumberAttribute(null=True, attr_name="currentVersion")
    latest_version = NumberAttribute(default=0, attr_name="latestVersion")
    # the current version's thumbnail (keyframe.catalog.thumbnails): lists link it with no extra read
    thumbnail_key = UnicodeAttribute(null=True, attr_name="thumbnailKey")
    outdated: MapAttribute[str, Any] = MapAttribute(default=dict, attr_name="outdatedDependencies")
    archived = BooleanAttribute(default=False)
    archived_at = UnicodeAttribute(null=True, attr_name="archivedAt")
    created_by = UnicodeAttribute(attr_name="createdBy")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    revision = NumberAttribute(default=1)
    dependency_count = NumberAttribute(default=0, attr_name="dependencyCount")
    dependent_count = NumberAttribute(default=0, attr_name="dependentCount")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    gsi5pk = UnicodeAttribute(null=True)
    gsi5sk = UnicodeAttribute(null=True)
    gsi6pk = UnicodeAttribute(null=True)
    gsi6sk = UnicodeAttribute(null=True)
    gsi1 = gsi(CATALOG, 1)()
    gsi2 = gsi(CATALOG, 2)()
    gsi3 = gsi(CATALOG, 3)()
    gsi4 = gsi(CATALOG, 4)()
    gsi5 = gsi(CATALOG, 5)()
    gsi6 = gsi(CATALOG, 6)()


VERSION_MUTABLE_ATTRIBUTES: frozenset[str] = frozenset(
    {"status", "error", "media", "derived", "processedAt", "reviewStatus", "reviewedAt", "reviewedBy"}
)
"""DynamoDB attribute names of a version that may change after creation: processing and review status."""


class ImmutableVersionError(RuntimeError):
    """A code path tried to overwrite, delete or edit a non-status field of a version (a bug)."""


class VersionItem(_CatalogModel):
    """An immutable version of an asset. Only :data:`VERSION_MUTABLE_ATTRIBUTES` can ever change."""

    asset_id = UnicodeAttribute(attr_name="assetId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    project_id = UnicodeAttribute(attr_name="projectId")
    version = NumberAttribute()
    created_by = UnicodeAttribute(attr_name="createdBy")
    created_at = UnicodeAttribute(attr_name="createdAt")
    change_note = UnicodeAttribute(null=True, attr_name="changeNote")
    file = JSONAttribute()
    upload_id = UnicodeAttribute(null=True, attr_name="uploadId")
    status = UnicodeAttribute()
    error = JSONAttribute(null=True)
    media = JSONAttribute(null=True)
    derived = JSONAttribute(null=True)
    processed_at = UnicodeAttribute(null=True, attr_name="processedAt")
    review_status = UnicodeAttribute(null=True, attr_name="reviewStatus")
    reviewed_at = UnicodeAttribute(null=True, attr_name="reviewedAt")
    reviewed_by = UnicodeAttribute(null=True, attr_name="reviewedBy")
    built_against = JSONAttribute(null=True, attr_name="builtAgainst")

    # --- immutability, enforced on every write path PynamoDB offers --------------------------------

    @staticmethod
    def _create_only(condition: Condition | None) -> Condition:
        not_there = VersionItem.pk.does_not_exist()
        return not_there if condition is None else (condition & not_there)

    @staticmethod
    def _check_actions(actions: list[Any]) -> None:
        for action in actions:
            path = action.values[0]
            name = path.path[0] if hasattr(path, "path") else str(path)
            if name not in VERSION_MUTABLE_ATTRIBUTES:
                raise ImmutableVersionError(f"version field {name!r} is immutable")

    def save(self, condition: Condition | None = None, **kwargs: Any) -> dict[str, Any]:
        """Create the version; a put can never overwrite one (``attribute_not_exists(pk)`` added)."""
        return super().save(condition=self._create_only(condition), **kwargs)

    def get_save_kwargs_from_instance(
        self, condition: Condition | None = None, return_values_on_condition_failure: str | None = None
    ) -> dict[str, Any]:
        """The put of a transaction: create-only, as :meth:`save`."""
        return super().get_save_kwargs_from_instance(
            condition=self._create_only(condition),
            return_values_on_condition_failure=return_values_on_condition_failure,
        )

    def update(self, actions: list[Any], condition: Condition | None = None, **kwargs: Any) -> Any:
        """Change processing or review status fields only.

        Raises
        ------
        ImmutableVersionError
            When an action names any other attribute.
        """
        self._check_actions(actions)
        return super().update(actions, condition=condition, **kwargs)

    def get_update_kwargs_from_instance(
        self,
        actions: list[Action],
        condition: Condition | None = None,
        return_values_on_condition_failure: str | None = None,
        *,
        add_version_condition: bool = True,
    ) -> dict[str, Any]:
        """The update of a transaction: status fields only, as :meth:`update`."""
        self._check_actions(actions)
        return super().get_update_kwargs_from_instance(
            actions,
            condition=condition,
            return_values_on_condition_failure=return_values_on_condition_failure,
            add_version_condition=add_version_condition,
        )

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        """Versions are never deleted.

        Raises
        ------
        ImmutableVersionError
            Always.
        """
        raise ImmutableVersionError("versions are never deleted")

    def get_delete_kwargs_from_instance(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Versions are never deleted, not in a transaction either.

        Raises
        ------
        ImmutableVersionError
            Always.
        """
        raise ImmutableVersionError("versions are never deleted")

    @classmethod
    def batch_write(cls, *args: Any, **kwargs: Any) -> Any:
        """Batch writes cannot carry conditions, so versions are never batch-written.

        Raises
        ------
        ImmutableVersionError
            Always.
        """
        raise ImmutableVersionError("versions are written one at a time, create-only")


class UploadRefItem(_CatalogModel):
    """Maps an upload id to the version it published, so a retried publish returns the same version."""

    version = NumberAttribute()
    created_at = UnicodeAttribute(attr_name="createdAt")


class EdgeItem(_CatalogModel):
    """One direction of a dependency "``source`` uses ``target``".

    The forward item lives under the source (``DEP#{target}``), the reverse item under the target
    (``RDEP#{source}``); both are written in one transaction and carry the same attributes, so a
    traversal in either direction is one Query per node.
    """

    source_id = UnicodeAttribute(attr_name="sourceId")
    target_id = UnicodeAttribute(attr_name="targetId")
    source_project_id = UnicodeAttribute(attr_name="sourceProjectId")
    target_project_id = UnicodeAttribute(attr_name="targetProjectId")
    pinned_version = NumberAttribute(null=True, attr_name="pinnedVersion")
    note = UnicodeAttribute(null=True)
    relationship = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(attr_name="createdBy")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")


class GraphLockItem(_CatalogModel):
    """The studio's dependency-graph revision: every edge addition bumps it conditionally, so two
    concurrent additions cannot both pass their cycle checks."""

    revision = NumberAttribute(default=0)
