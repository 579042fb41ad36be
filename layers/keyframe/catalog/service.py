"""The catalog's domain functions in one place (the only write path; each emits its events).

Other domains import from here, e.g. the upload pipeline::

    from keyframe.catalog.service import FileInfo, publish_version, mark_version_ready
"""

from keyframe.catalog.activity import list_activity
from keyframe.catalog.assets import archive_asset, create_asset, get_asset, restore_asset, update_asset
from keyframe.catalog.downloads import download_derived, download_version
from keyframe.catalog.graph import put_dependency, remove_dependency, traverse
from keyframe.catalog.listing import list_assets
from keyframe.catalog.projects import (
    archive_project,
    create_project,
    get_project,
    list_projects,
)
from keyframe.catalog.schemas import Asset, FileInfo, Project, Version
from keyframe.catalog.versions import (
    get_version,
    list_versions,
    mark_version_failed,
    mark_version_ready,
    publish_version,
    rollback,
    set_review_status,
    set_version_processing,
)

__all__ = [
    "Asset",
    "FileInfo",
    "Project",
    "Version",
    "archive_asset",
    "archive_project",
    "create_asset",
    "create_project",
    "download_derived",
    "download_version",
    "get_asset",
    "get_project",
    "get_version",
    "list_activity",
    "list_assets",
    "list_projects",
    "list_versions",
    "mark_version_failed",
    "mark_version_ready",
    "publish_version",
    "put_dependency",
    "remove_dependency",
    "restore_asset",
    "rollback",
    "set_review_status",
    "set_version_processing",
    "traverse",
    "update_asset",
]
