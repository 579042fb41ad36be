"""The asset list: index design and bounded, cursor-paginated queries (no Scan, ever).

Index design
------------
Every listed (non-archived) asset item carries six overloaded GSI keys, one per *scope x sort*
pair, so each supported sort order is a single Query on a partition that holds exactly the assets
in scope, already in order:

=======  =====================================  ====================================  ===========
index    partition (``gsiNpk``)                 sort (``gsiNsk``)                     serves
=======  =====================================  ====================================  ===========
gsi1     ``STUDIO#{s}#ASSETS``                  ``{createdAt}#{assetId}``             sort=createdAt
gsi2     ``STUDIO#{s}#ASSETS``                  ``{updatedAt}#{assetId}``             sort=updatedAt
gsi3     ``STUDIO#{s}#ASSETS``                  ``{casefold(name)}\\x1f{assetId}``     sort=name, q
gsi4     ``STUDIO#{s}#PROJECT#{p}#ASSETS``      ``{createdAt}#{assetId}``             + projectId
gsi5     ``STUDIO#{s}#PROJECT#{p}#ASSETS``      ``{updatedAt}#{assetId}``             + projectId
gsi6     ``STUDIO#{s}#PROJECT#{p}#ASSETS``      ``{casefold(name)}\\x1f{assetId}``     + projectId
=======  =====================================  ====================================  ===========

(The catalog table therefore has six GSIs; projects and activity entries reuse ``gsi1``-``gsi3``
with their own partition prefixes.) Archiving removes all twelve attributes, so archived assets
cost nothing to skip; restoring writes them back. Timestamps are fixed-width ISO-8601 and the id
suffix makes every sort key unique, so pages never tie.

Filters (``type``, ``status``, ``tag``, and ``q`` when not sorting by name)
---------------------------------------------------------------------------
We chose a *bounded filter loop* over dedicated index keys. Dedicated keys would need one partition
per filter value per scope per sort (type x status x tag x project x 3 sorts), far beyond the GSIs a
table may have, and tags are multi-valued. Instead the scope/sort index is read with a DynamoDB
``FilterExpression``; each request evaluates up to :data:`EVALUATIONS_PER_REQUEST` items and a page
stops after :data:`MAX_FILTERED_REQUESTS` requests even if it is not full. A short (or empty) page
then still carries a ``nextCursor`` pointing exactly where reading stopped, so following cursors
visits every match once, with no gap or duplicate. So every page costs at most
``MAX_FILTERED_REQUESTS`` Queries (+1 GetItem to check ``projectId``), whatever the studio's size.
``q`` with ``sort=name`` is a key condition (``begins_with`` on the name sort key): no filter.
"""

from __future__ import annotations

from typing import TypedDict

from pynamodb.expressions.condition import Condition

from keyframe.catalog.models import NAME_SEPARATOR, AssetItem
from keyframe.catalog.projects import load_project
from keyframe.catalog.schemas import Asset, AssetPage, AssetStatus, AssetType
from keyframe.catalog.thumbnails import thumbnail_link
from keyframe.catalog.views import to_asset
from keyframe.catalog.vocabulary import SortKey, SortOrder
from keyframe.storage import cursors
from keyframe.storage.pages import index_key_names, query_page, readable

MAX_FILTERED_REQUESTS = 4
"""Queries one filtered page may cost at most."""

EVALUATIONS_PER_REQUEST = 250
"""Items DynamoDB evaluates per filtered Query request (``Limit``)."""

_INDEX_BY_SORT: dict[tuple[bool, SortKey], str] = {
    (False, SortKey.CREATED_AT): "gsi1",
    (False, SortKey.UPDATED_AT): "gsi2",
    (False, SortKey.NAME): "gsi3",
    (True, SortKey.CREATED_AT): "gsi4",
    (True, SortKey.UPDATED_AT): "gsi5",
    (True, SortKey.NAME): "gsi6",
}


def studio_partition(studio_id: str) -> str:
    """Partition of the studio-wide asset indexes."""
    return f"STUDIO#{studio_id}#ASSETS"


def project_partition(studio_id: str, project_id: str) -> str:
    """Partition of a project's asset indexes."""
    return f"STUDIO#{studio_id}#PROJECT#{project_id}#ASSETS"


class IndexAttributes(TypedDict):
    """The listing-index key attributes of an active asset (names as on :class:`AssetItem`)."""

    gsi1pk: str
    gsi1sk: str
    gsi2pk: str
    gsi2sk: str
    gsi3pk: str
    gsi3sk: str
    gsi4pk: str
    gsi4sk: str
    gsi5pk: str
    gsi5sk: str
    gsi6pk: str
    gsi6sk: str


def index_attributes(
    studio_id: str, project_id: str, asset_id: str, *, created_at: str, updated_at: str, name_key: str
) -> IndexAttributes:
    """The twelve listing-index attributes of an active asset (``gsi1pk`` ... ``gsi6sk``)."""
    studio, project = studio_partition(studio_id), project_partition(studio_id, project_id)
    created, updated = f"{created_at}#{asset_id}", f"{updated_at}#{asset_id}"
    named = f"{name_key}{NAME_SEPARATOR}{asset_id}"
    return {
        "gsi1pk": studio,
        "gsi1sk": created,
        "gsi2pk": studio,
        "gsi2sk": updated,
        "gsi3pk": studio,
        "gsi3sk": named,
        "gsi4pk": project,
        "gsi4sk": created,
        "gsi5pk": project,
        "gsi5sk": updated,
        "gsi6pk": project,
        "gsi6sk": named,
    }


def list_assets(
    studio_id: str,
    *,
    project_id: str | None = None,
    type: AssetType | None = None,
    status: AssetStatus | None = None,
    tag: str | None = None,
    q: str | None = None,
    sort: SortKey = SortKey.CREATED_AT,
    order: SortOrder | None = None,
    limit: int = 25,
    cursor: str | None = None,
) -> AssetPage:
    """A page of the studio's active assets (catalog table GSIs; at most 4 Queries + 1 GetItem).

    Parameters
    ----------
    project_id:
        Only this project's assets (404 when it is not the studio's).
    type, status, tag:
        Exact filters (``tag`` is compared lower-cased).
    q:
        Case-insensitive name prefix.
    sort, order:
        ``createdAt`` / ``updatedAt`` (default newest first) or ``name`` (default A to Z).
    limit:
        1-100 items.
    cursor:
        ``nextCursor`` of the previous page of the same query.

    Raises
    ------
    NotFound
        ``PROJECT_NOT_FOUND``.
    InvalidInput
        ``INVALID_CURSOR``: tampered, or from another studio or another query.
    """
    sort = SortKey(sort)
    order = SortOrder(order) if order else (SortOrder.ASC if sort is SortKey.NAME else SortOrder.DESC)
    tag = tag.strip().lower() if tag else None
    prefix = q.casefold() if q else None
    scope = cursors.scope_of(
        "assets",
        projectId=project_id,
        type=type,
        status=status,
        tag=tag,
        q=prefix,
        sort=sort.value,
        order=order.value,
    )
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    if project_id:
        load_project(studio_id, project_id)
    index = _INDEX_BY_SORT[(project_id is not None, sort)]
    hash_key = project_partition(studio_id, project_id) if project_id else studio_partition(studio_id)
    range_condition = None
    filters: list[Condition] = []
    if prefix and sort is SortKey.NAME:
        range_condition = getattr(AssetItem, f"{index}sk").startswith(prefix)
    elif prefix:
        filters.append(AssetItem.name_key.startswith(prefix))
    if type:
        filters.append(AssetItem.type == AssetType(type).value)
    if status:
        filters.append(AssetItem.status == AssetStatus(status).value)
    if tag:
        filters.append(AssetItem.tags.contains(tag))
    condition = None
    for f in filters:
        condition = f if condition is None else condition & f
    page = query_page(
        AssetItem,
        hash_key,
        index=index,
        range_key_condition=range_condition,
        filter_condition=condition,
        forward=order is SortOrder.ASC,
        limit=limit,
        start_key=start,
        max_requests=MAX_FILTERED_REQUESTS if condition is not None else 1,
        evaluations_per_request=EVALUATIONS_PER_REQUEST,
        key_names=index_key_names(index),
    )
    next_cursor = cursors.encode(page.next_key, studio_id=studio_id, scope=scope) if page.next_key else None

    def listed(item: AssetItem) -> Asset:
        return to_asset(item).model_copy(update={"thumbnail": thumbnail_link(item.thumbnail_key)})

    return AssetPage(items=readable(page.items, listed, "asset"), next_cursor=next_cursor)
