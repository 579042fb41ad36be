"""A new version of an asset you favourited: a consumer of ``version:ready`` that notifies.

Favorites are the highest domain (they read the catalog), so the pipeline that makes a version READY
does not call them; instead :func:`install` registers :func:`on_events` with the one publisher
(:func:`keyframe.events.deliverers.register_deliverer`), like the live fan-out, at the start of the
``pipeline-finalize`` handler. For each ``version:ready`` envelope (taken once, from its
``asset:{assetId}`` room), every member who favourited the asset
(:func:`keyframe.favorites.favorites.favoured_by`) is notified (``new-version``) through
:func:`keyframe.notifications.service.notify`: the member who published the version is the actor and
is never told of their own upload.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from keyframe.catalog.models import ASSET_SK, AssetItem, asset_pk
from keyframe.events.deliverers import register_deliverer
from keyframe.events.rooms import asset_room
from keyframe.favorites.favorites import favoured_by
from keyframe.notifications.schemas import NotificationType
from keyframe.notifications.service import notify

READY_EVENT = "version:ready"


def _asset_name(studio_id: str, asset_id: str) -> str | None:
    try:
        return str(AssetItem.get(asset_pk(studio_id, asset_id), ASSET_SK).name)
    except DoesNotExist:
        return None


def on_events(studio_id: str, envelopes: list[dict[str, Any]]) -> None:
    """Notify the members who favourited an asset of each new READY version among ``envelopes``.

    Reads the favorites table (gsi2) and the asset's name (catalog); writes through ``notify``.
    """
    for envelope in envelopes:
        data = envelope.get("data") or {}
        asset_id = data.get("assetId")
        if (
            envelope.get("type") != READY_EVENT
            or not asset_id
            or envelope.get("room") != asset_room(asset_id)
        ):
            continue
        version = int(data.get("version") or 0)
        name = _asset_name(studio_id, asset_id) or "An asset you favourited"
        notify(
            studio_id,
            favoured_by(studio_id, asset_id),
            NotificationType.NEW_VERSION,
            title=f"{name} has a new version: v{version}",
            actor_id=data.get("createdBy"),
            target={"projectId": data.get("projectId"), "assetId": asset_id, "version": version},
        )


def install() -> None:
    """Register :func:`on_events` with the publisher (idempotent); called by ``pipeline-finalize``."""
    register_deliverer(on_events)
