"""Projects: create, read, list, edit, archive (catalog table).

A project's code is unique in its studio (case-insensitively): creating or renaming a code puts a
``STUDIO#{s}#PROJECTCODE#{CODE}`` item with ``attribute_not_exists`` in the same transaction as the
project, so two concurrent creations with one code cannot both succeed. An archived project keeps
its code reserved (its assets and versions still refer to it).

Listing uses ``gsi1``: ``gsi1pk = STUDIO#{s}#PROJECTS``, ``gsi1sk = {CODE}``; archiving removes both
attributes, so archived projects drop out of the list at no read cost.
"""

from __future__ import annotations

import uuid
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.exceptions import DoesNotExist

from keyframe.catalog.models import (
    PROJECT_CODE_SK,
    PROJECT_SK,
    ProjectCodeItem,
    ProjectItem,
    not_archived,
    project_code_pk,
    project_pk,
)
from keyframe.catalog.schemas import (
    DEFAULT_FPS,
    DEFAULT_START_FRAME,
    Project,
    ProjectCreate,
    ProjectPage,
    ProjectUpdate,
)
from keyframe.clock import now_iso
from keyframe.errors import Conflict, NotFound, field_details
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, project_room
from keyframe.storage import activity, cursors
from keyframe.storage.pages import index_key_names, parse_record, query_page, readable, report_unreadable
from keyframe.storage.transactions import Cancelled, Transaction


def _list_pk(studio_id: str) -> str:
    return f"STUDIO#{studio_id}#PROJECTS"


def _stored_number(item: ProjectItem, field: str, default: float) -> float:
    """A stored number of the project, or ``default`` (reported) when the stored value is unusable."""
    value = getattr(item, field)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        report_unreadable("project", item.pk, exc)
        return default


def to_project(item: ProjectItem) -> Project:
    """The API shape of a project item.

    A stored ``fps`` or ``startFrame`` that is missing or not a number (a record damaged before
    updates were validated whole) reads as the default and is reported
    (:func:`keyframe.storage.pages.report_unreadable`); ``PATCH`` repairs it.

    Raises
    ------
    UnreadableRecord
        500 ``RECORD_UNREADABLE``: any other field unreadable (reported; listings leave such a
        record out, see :func:`list_projects`).
    """
    project_id = str(item.pk).rpartition("#")[2]  # the key always parses; other fields may not
    return parse_record("project", project_id, item.pk, lambda: _to_project(item))


def _to_project(item: ProjectItem) -> Project:
    return Project(
        id=item.project_id,
        name=item.name,
        code=item.code,
        description=item.description,
        fps=_stored_number(item, "fps", DEFAULT_FPS),
        start_frame=int(_stored_number(item, "start_frame", DEFAULT_START_FRAME)),
        archived=bool(item.archived),
        created_by=item.created_by,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _rooms(project_id: str) -> list[str]:
    return [STUDIO_ROOM, project_room(project_id)]


def _code_taken(code: str) -> Conflict:
    return Conflict(
        f"A project with code {code} already exists in this studio",
        code="PROJECT_CODE_TAKEN",
        details=field_details("code", "already used in this studio", code=code),
    )


def load_project(studio_id: str, project_id: str) -> ProjectItem:
    """The project item (consistent read).

    Raises
    ------
    NotFound
        Unknown id, or a project of another studio.
    UnreadableRecord
        The stored item does not parse (reported: log + ``UnreadableRecords`` metric).
    """
    key = project_pk(studio_id, project_id)
    try:
        return parse_record(
            "project", project_id, key, lambda: ProjectItem.get(key, PROJECT_SK, consistent_read=True)
        )
    except DoesNotExist as exc:
        raise NotFound(
            "Project not found", code="PROJECT_NOT_FOUND", details={"projectId": project_id}
        ) from exc


def create_project(studio_id: str, actor_id: str, request: ProjectCreate) -> Project:
    """Create a project and reserve its code (one transaction with the activity entry).

    Raises
    ------
    Conflict
        ``PROJECT_CODE_TAKEN`` when the studio already has the code.
    """
    now = now_iso()
    project_id = str(uuid.uuid4())
    item = ProjectItem(
        project_pk(studio_id, project_id),
        PROJECT_SK,
        project_id=project_id,
        studio_id=studio_id,
        name=request.name,
        code=request.code,
        description=request.description,
        fps=request.fps,
        start_frame=request.start_frame,
        archived=False,
        created_by=actor_id,
        created_at=now,
        updated_at=now,
        gsi1pk=_list_pk(studio_id),
        gsi1sk=request.code,
    )
    reservation = ProjectCodeItem(
        project_code_pk(studio_id, request.code), PROJECT_CODE_SK, project_id=project_id
    )
    tx = Transaction()
    tx.put("code", reservation, condition=ProjectCodeItem.pk.does_not_exist())
    tx.put("project", item, condition=ProjectItem.pk.does_not_exist())
    project = to_project(item)
    stage(tx, studio_id, "project:created", project.to_json(), rooms=_rooms(project_id))
    try:
        activity.record(
            studio_id,
            actor_id,
            "project:created",
            "project",
            project_id,
            {"name": request.name, "code": request.code},
            project_id=project_id,
            transaction=tx,
        )
    except Cancelled as exc:
        if "code" in exc.failed:
            raise _code_taken(request.code) from exc
        raise
    return project


def get_project(studio_id: str, project_id: str) -> Project:
    """One project (archived ones included, flagged ``archived``).

    Raises
    ------
    NotFound
        Unknown id or another studio's project.
    """
    return to_project(load_project(studio_id, project_id))


def list_projects(studio_id: str, *, limit: int = 25, cursor: str | None = None) -> ProjectPage:
    """A page of the studio's active projects, by code (one Query on ``gsi1``).

    A stored project that cannot be read is left out and reported (log + ``UnreadableRecords``
    metric): one odd record never fails the studio's list.

    Raises
    ------
    InvalidInput
        ``INVALID_CURSOR``.
    """
    scope = cursors.scope_of("projects")
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    page = query_page(
        ProjectItem,
        _list_pk(studio_id),
        index="gsi1",
        limit=limit,
        start_key=start,
        key_names=index_key_names("gsi1"),
    )
    next_cursor = cursors.encode(page.next_key, studio_id=studio_id, scope=scope) if page.next_key else None
    items = readable(page.items, to_project, "project")
    return ProjectPage(items=items, next_cursor=next_cursor)


def update_project(studio_id: str, actor_id: str, project_id: str, request: ProjectUpdate) -> Project:
    """Edit a project's name, code, description, fps or start frame, all or nothing.

    ``request`` is already valid as a whole (only ``description`` may be null, which removes it);
    the change, the new code's reservation, the old code's release and the activity entry are one
    transaction, so a refused or failed update leaves the project and its code as they were.

    Raises
    ------
    NotFound
        Unknown project.
    Conflict
        ``PROJECT_ARCHIVED``; ``PROJECT_CODE_TAKEN``.
    """
    item = load_project(studio_id, project_id)
    if item.archived:
        raise Conflict("The project is archived", code="PROJECT_ARCHIVED", details={"projectId": project_id})
    given = request.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for field, value in given.items():
        current = getattr(item, field)
        if field == "fps" and current is not None:
            current = float(current)
        if value != current:
            changes[field] = {"from": current, "to": value}
    if not changes:
        return to_project(item)
    now = now_iso()
    actions = [ProjectItem.updated_at.set(now)]
    columns: dict[str, Attribute[Any]] = {
        "name": ProjectItem.name,
        "description": ProjectItem.description,
        "fps": ProjectItem.fps,
        "start_frame": ProjectItem.start_frame,
    }
    for field, change in changes.items():
        if field == "code":
            continue
        value = change["to"]
        actions.append(columns[field].remove() if value is None else columns[field].set(value))
    tx = Transaction()
    if "code" in changes:
        new_code = changes["code"]["to"]
        actions += [ProjectItem.code.set(new_code), ProjectItem.gsi1sk.set(new_code)]
        tx.put(
            "code",
            ProjectCodeItem(project_code_pk(studio_id, new_code), PROJECT_CODE_SK, project_id=project_id),
            condition=ProjectCodeItem.pk.does_not_exist(),
        )
        tx.delete("old-code", ProjectCodeItem(project_code_pk(studio_id, item.code), PROJECT_CODE_SK))
    tx.update(
        "project",
        ProjectItem(item.pk, item.sk),
        actions,
        condition=ProjectItem.pk.exists() & not_archived(ProjectItem),
    )
    defaults = {"fps": DEFAULT_FPS, "start_frame": DEFAULT_START_FRAME}
    edited = {name: defaults.get(name) if c["to"] is None else c["to"] for name, c in changes.items()}
    after = to_project(item).model_copy(update={**edited, "updated_at": now})
    stage(
        tx,
        studio_id,
        "project:updated",
        {**after.to_json(), "changes": sorted(changes)},
        rooms=_rooms(project_id),
    )
    try:
        activity.record(
            studio_id,
            actor_id,
            "project:updated",
            "project",
            project_id,
            {"changes": changes},
            project_id=project_id,
            transaction=tx,
        )
    except Cancelled as exc:
        if "code" in exc.failed:
            raise _code_taken(changes["code"]["to"]) from exc
        if "project" in exc.failed:
            raise Conflict("The project changed meanwhile; try again", code="PROJECT_CHANGED") from exc
        raise
    return get_project(studio_id, project_id)


def archive_project(studio_id: str, actor_id: str, project_id: str) -> Project:
    """Archive a project: hidden from the list, still readable by id; assets are untouched.

    Archiving an archived project returns it unchanged.

    Raises
    ------
    NotFound
        Unknown project.
    """
    item = load_project(studio_id, project_id)
    if item.archived:
        return to_project(item)
    now = now_iso()
    tx = Transaction().update(
        "project",
        ProjectItem(item.pk, item.sk),
        [
            ProjectItem.archived.set(True),
            ProjectItem.updated_at.set(now),
            ProjectItem.gsi1pk.remove(),
            ProjectItem.gsi1sk.remove(),
        ],
        condition=ProjectItem.pk.exists(),
    )
    archived = to_project(item).model_copy(update={"archived": True, "updated_at": now})
    stage(tx, studio_id, "project:archived", archived.to_json(), rooms=_rooms(project_id))
    activity.record(
        studio_id,
        actor_id,
        "project:archived",
        "project",
        project_id,
        {"code": item.code},
        project_id=project_id,
        transaction=tx,
    )
    return get_project(studio_id, project_id)
