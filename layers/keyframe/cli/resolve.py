"""Turning what an artist types into ids: ``SQ010_SH020@3``, a project code, a studio name.

- An asset is named by its id or by its name. A name is resolved through the asset listing's own
  search (``GET /assets?q=NAME&sort=name``, a case-insensitive name prefix): the assets whose whole
  name equals it (case-insensitively) are the matches. None is a usage error listing near names;
  several (the same name in two projects) is a usage error asking for ``--project`` or the id.
- ``ASSET@V`` (or ``ASSET@vV``) names version ``V``; without ``@V`` the asset's current version is
  meant (its latest version when none is current yet).
- A project is named by its id, its code (``NM``) or its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from keyframe.cli.client import ApiClient, ApiError
from keyframe.cli.exits import Usage

_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_VERSION = re.compile(r"^(?P<asset>.+)@[vV]?(?P<version>\d+)$")
NAME_PAGE = 100
MAX_PROJECT_PAGES = 20


@dataclass(frozen=True)
class AssetRef:
    """``ASSET[@V]`` as typed: the asset (id or name) and the version number, if any."""

    asset: str
    version: int | None = None


def parse_ref(text: str) -> AssetRef:
    """Split ``ASSET[@V]``; an ``@`` not followed by a number belongs to the name.

    Raises
    ------
    Usage
        Empty text, or version 0.
    """
    text = text.strip()
    match = _VERSION.match(text)
    if match:
        version = int(match["version"])
        if version < 1:
            raise Usage(f"{text}: versions are numbered from 1")
        return AssetRef(match["asset"], version)
    if not text:
        raise Usage("an asset id or name is needed")
    return AssetRef(text)


def looks_like_id(text: str) -> bool:
    """True for an id as the API makes them (a UUID)."""
    return bool(_ID.match(text))


def find_asset(client: ApiClient, name_or_id: str, *, project_id: str | None = None) -> dict[str, Any]:
    """The asset (``GET /assets/{id}`` body) named ``name_or_id``.

    Raises
    ------
    Usage
        No asset, or several, by that name (exit 2).
    ApiError
        The API refused the call.
    """
    if looks_like_id(name_or_id):
        try:
            return dict(client.get(f"/assets/{name_or_id}"))
        except ApiError as exc:
            if exc.status != 404:
                raise
            raise Usage(f"no asset {name_or_id} in your studio (ASSET_NOT_FOUND)") from exc
    params: dict[str, Any] = {"q": name_or_id, "sort": "name", "limit": NAME_PAGE}
    if project_id:
        params["projectId"] = project_id
    found = list((client.get("/assets", params=params) or {}).get("items") or [])
    wanted = name_or_id.casefold()
    exact = [a for a in found if str(a.get("name", "")).casefold() == wanted]
    if len(exact) == 1:
        return dict(exact[0])
    if not exact:
        near = ", ".join(str(a.get("name")) for a in found[:5])
        hint = f"; names starting so: {near}" if near else ""
        raise Usage(f"no asset named {name_or_id!r}{' in that project' if project_id else ''}{hint}")
    choices = "; ".join(f"{a['id']} (project {a.get('projectId')})" for a in exact)
    raise Usage(f"{len(exact)} assets are named {name_or_id!r}: {choices}. Give the id or --project")


def find_project(client: ApiClient, text: str) -> dict[str, Any]:
    """The project whose id, code or name is ``text`` (codes and names case-insensitively).

    Raises
    ------
    Usage
        No such project in the studio (exit 2).
    """
    if looks_like_id(text):
        try:
            return dict(client.get(f"/projects/{text}"))
        except ApiError as exc:
            if exc.status != 404:
                raise
            raise Usage(f"no project {text} in your studio (PROJECT_NOT_FOUND)") from exc
    wanted = text.casefold()
    cursor: str | None = None
    for _ in range(MAX_PROJECT_PAGES):
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = client.get("/projects", params=params) or {}
        for project in page.get("items") or []:
            if wanted in (str(project.get("code", "")).casefold(), str(project.get("name", "")).casefold()):
                return dict(project)
        cursor = page.get("nextCursor")
        if not cursor:
            break
    raise Usage(f"no project with the id, code or name {text!r} in your studio")


def project_id_of(client: ApiClient, text: str | None) -> str | None:
    """The id of the project named ``text`` (``None`` stays ``None``)."""
    return None if text is None else str(find_project(client, text)["id"])


def version_of(asset: dict[str, Any], version: int | None) -> int:
    """``version``, else the asset's current version, else its latest one.

    Raises
    ------
    Usage
        The asset has no version yet.
    """
    if version is not None:
        return version
    chosen = asset.get("currentVersion") or asset.get("latestVersion")
    if not chosen:
        raise Usage(f"asset {asset.get('name') or asset.get('id')} has no version yet (upload one first)")
    return int(chosen)


def asset_version(client: ApiClient, text: str, *, project: str | None = None) -> tuple[dict[str, Any], int]:
    """``ASSET[@V]`` -> ``(asset body, version number)`` (see :func:`find_asset`, :func:`version_of`)."""
    ref = parse_ref(text)
    asset = find_asset(client, ref.asset, project_id=project_id_of(client, project))
    return asset, version_of(asset, ref.version)
