"""The catalog from the command line: ``keyframe projects``, ``assets``, ``versions``.

Listings read ``GET /projects``, ``GET /assets`` (filters ``projectId``, ``type``, ``status``,
``tag``, ``q``) and ``GET /assets/{id}/versions``, following ``nextCursor`` up to ``--limit``;
``--json`` prints the API's page shape. An asset is named by its id or its name, a project by its
id, code or name (:mod:`keyframe.cli.resolve`).
"""

from __future__ import annotations

from typing import Any

import click

from keyframe.cli.output import collect, json_option, listing_options, more_hint, print_json, size, table
from keyframe.cli.resolve import find_asset, find_project, project_id_of
from keyframe.cli.session import Session, api_options, pass_session

ASSET_TYPES = ("CHARACTER", "PROP", "ENVIRONMENT", "SHOT", "RIG", "TEXTURE", "AUDIO", "OTHER")
"""For shell completion only: the API decides what is valid."""
ASSET_STATUSES = ("IN_PROGRESS", "PENDING_REVIEW", "CHANGES_REQUESTED", "APPROVED")


def _suggest(values: tuple[str, ...]) -> Any:
    def complete(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        return [v for v in values if v.startswith(incomplete.upper())]

    return complete


# ---------------------------------------------------------------- projects


@click.group("projects", invoke_without_command=True)
@listing_options
@api_options
@pass_session
@click.pass_context
def projects_group(
    ctx: click.Context, session: Session, *, as_json: bool, limit: int, cursor: str | None
) -> None:
    """List the studio's projects (by code); `projects create` makes one.

    \b
        keyframe projects
    """
    if ctx.invoked_subcommand is not None:
        return
    page = collect(session.client(), "/projects", limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    table(
        page["items"],
        [
            ("CODE", lambda p: p.get("code")),
            ("NAME", lambda p: p.get("name")),
            ("FPS", lambda p: p.get("fps")),
            ("START", lambda p: p.get("startFrame")),
            ("ID", lambda p: p.get("id")),
        ],
        empty="(no projects)",
    )
    more_hint(page)


@projects_group.command("create")
@click.argument("name")
@click.option("--code", required=True, help="Short code, unique in the studio (e.g. NM).")
@click.option("--fps", type=float, default=None, help="Frames per second (API default 24).")
@click.option("--start-frame", type=int, default=None, help="First frame number (API default 1001).")
@click.option("--description", default=None)
@json_option
@api_options
@pass_session
def projects_create_command(
    session: Session, *, name: str, code: str, fps: float | None, start_frame: int | None,
    description: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Create a project NAME with --code (POST /projects).

    \b
        keyframe projects create "Night Market" --code NM --fps 24
    """
    body: dict[str, Any] = {"name": name, "code": code}
    for key, value in (("fps", fps), ("startFrame", start_frame), ("description", description)):
        if value is not None:
            body[key] = value
    project = session.client().post("/projects", body)
    if as_json:
        print_json(project)
        return
    click.echo(f"project {project['code']} {project['name']!r} created: {project['id']}")


# ---------------------------------------------------------------- assets


ASSET_COLUMNS = [
    ("NAME", lambda a: a.get("name")),
    ("TYPE", lambda a: a.get("type")),
    ("STATUS", lambda a: a.get("status")),
    ("CURRENT", lambda a: a.get("currentVersion")),
    ("LATEST", lambda a: a.get("latestVersion")),
    ("ID", lambda a: a.get("id")),
]


@click.group("assets", invoke_without_command=True)
@click.option("--project", default=None, metavar="PROJECT", help="Only this project's (id, code or name).")
@click.option("--type", "type_", default=None, shell_complete=_suggest(ASSET_TYPES), help="e.g. SHOT.")
@click.option("--status", default=None, shell_complete=_suggest(ASSET_STATUSES), help="e.g. APPROVED.")
@click.option("--tag", default=None, help="Only assets with this tag.")
@click.option("--q", "query", default=None, metavar="TEXT", help="Names starting with TEXT (any case).")
@listing_options
@api_options
@pass_session
@click.pass_context
def assets_group(
    ctx: click.Context, session: Session, *, project: str | None, type_: str | None, status: str | None,
    tag: str | None, query: str | None, as_json: bool, limit: int, cursor: str | None,
) -> None:  # fmt: skip
    """List and search assets (GET /assets); `assets create`, `assets show ID|NAME`.

    \b
        keyframe assets --project NM --type SHOT --q sq010
    """
    if ctx.invoked_subcommand is not None:
        return
    client = session.client()
    params = {
        "projectId": project_id_of(client, project),
        "type": type_.upper() if type_ else None,
        "status": status.upper() if status else None,
        "tag": tag,
        "q": query,
    }
    page = collect(client, "/assets", params, limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    table(page["items"], ASSET_COLUMNS, empty="(no assets)")
    more_hint(page)


@assets_group.command("create")
@click.argument("name")
@click.option("--project", required=True, metavar="PROJECT", help="The project (id, code or name).")
@click.option("--type", "type_", required=True, shell_complete=_suggest(ASSET_TYPES), help="e.g. SHOT.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@click.option("--description", default=None)
@json_option
@api_options
@pass_session
def assets_create_command(
    session: Session, *, name: str, project: str, type_: str, tags: tuple[str, ...], description: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Create an asset NAME in a project (POST /assets).

    \b
        keyframe assets create SQ010_SH020 --project NM --type SHOT --tag layout
    """
    client = session.client()
    body: dict[str, Any] = {
        "projectId": find_project(client, project)["id"],
        "name": name,
        "type": type_.upper(),
        "tags": list(tags),
    }
    if description is not None:
        body["description"] = description
    asset = client.post("/assets", body)
    if as_json:
        print_json(asset)
        return
    click.echo(f"asset {asset['name']} ({asset['type']}) created: {asset['id']}")


@assets_group.command("show")
@click.argument("asset")
@click.option("--project", default=None, metavar="PROJECT", help="Where to look a name up.")
@json_option
@api_options
@pass_session
def assets_show_command(session: Session, asset: str, project: str | None, as_json: bool) -> None:
    """Show one asset, by its id or its name (a name is found through the listing's search).

    \b
        keyframe assets show SQ010_SH020
    """
    client = session.client()
    found = find_asset(client, asset, project_id=project_id_of(client, project))
    if as_json:
        print_json(found)
        return
    fields = [
        ("name", found.get("name")), ("id", found.get("id")), ("project", found.get("projectId")),
        ("type", found.get("type")), ("status", found.get("status")),
        ("current version", found.get("currentVersion")), ("latest version", found.get("latestVersion")),
        ("tags", ", ".join(found.get("tags") or []) or "-"), ("description", found.get("description") or "-"),
        ("updated", found.get("updatedAt")),
    ]  # fmt: skip
    if found.get("outdatedDependencies"):
        fields.append(("outdated dependencies", ", ".join(map(str, found["outdatedDependencies"]))))
    for label, value in fields:
        click.echo(f"{label + ':':<17} {value if value is not None else '-'}")


# ---------------------------------------------------------------- versions


@click.command("versions")
@click.argument("asset")
@click.option("--project", default=None, metavar="PROJECT", help="Where to look a name up.")
@listing_options
@api_options
@pass_session
def versions_command(
    session: Session, *, asset: str, project: str | None, as_json: bool, limit: int, cursor: str | None
) -> None:
    """List an asset's versions, newest first (GET /assets/{id}/versions).

    \b
        keyframe versions SQ010_SH020
    """
    client = session.client()
    found = find_asset(client, asset, project_id=project_id_of(client, project))
    page = collect(client, f"/assets/{found['id']}/versions", limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    current = found.get("currentVersion")
    table(
        page["items"],
        [
            ("", lambda v: "*" if v.get("version") == current else ""),
            ("V", lambda v: v.get("version")),
            ("STATUS", lambda v: v.get("status")),
            ("REVIEW", lambda v: v.get("reviewStatus")),
            ("FILE", lambda v: (v.get("file") or {}).get("fileName")),
            ("SIZE", lambda v: size((v.get("file") or {}).get("size"))),
            ("CREATED", lambda v: str(v.get("createdAt") or "")[:19]),
            ("NOTE", lambda v: v.get("changeNote") or (v.get("error") or {}).get("message")),
        ],
        empty=f"(asset {found.get('name')} has no versions yet)",
    )
    more_hint(page)
