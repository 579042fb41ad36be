"""``keyframe comments ASSET[@V] [--add TEXT --frame N]``: read a version's review notes, or add one.

Reads ``GET /assets/{id}/versions/{v}/comments`` (by frame, then time, replies after their thread)
and posts to the same path. Authors are shown by name (``GET /studio/members``) when the list can
be read.
"""

from __future__ import annotations

from typing import Any

import click

from keyframe.cli.client import ApiClient, ApiError
from keyframe.cli.exits import Usage
from keyframe.cli.output import collect, listing_options, more_hint, print_json
from keyframe.cli.resolve import asset_version
from keyframe.cli.session import Session, api_options, pass_session


def member_names(client: ApiClient) -> dict[str, str]:
    """``{userId: display name}`` of the studio's members (empty when the list cannot be read)."""
    try:
        answer = client.get("/studio/members") or {}
    except ApiError:
        return {}
    return {
        str(m.get("userId")): str(m.get("displayName") or m.get("email")) for m in answer.get("items") or []
    }


def describe(comment: dict[str, Any], names: dict[str, str]) -> str:
    """``frame 1013 (00:00:00:12)  Dora  2026-…: Hold the blink [resolved]`` (replies indented)."""
    where = "whole version"
    if comment.get("frame") is not None:
        where = f"frame {comment['frame']}" + (f" ({comment['timecode']})" if comment.get("timecode") else "")
    author = names.get(str(comment.get("authorId")), str(comment.get("authorId")))
    line = f"{where:<26} {author:<12} {str(comment.get('createdAt') or '')[:19]}: {comment.get('body')}"
    if comment.get("resolved"):
        line += "  [resolved]"
    return ("    ↳ " if comment.get("parentId") else "") + line


@click.command("comments")
@click.argument("asset", metavar="ASSET[@V]")
@click.option("--add", "text", default=None, metavar="TEXT", help="Add this comment instead of listing.")
@click.option("--frame", type=int, default=None, help="With --add: the frame it is about.")
@click.option("--timecode", default=None, help="With --add: the timecode it is about (HH:MM:SS:FF).")
@click.option("--reply-to", default=None, metavar="COMMENT_ID", help="With --add: answer this comment.")
@click.option("--project", default=None, metavar="PROJECT", help="Where to look an asset name up.")
@listing_options
@api_options
@pass_session
def comments_command(
    session: Session, *, asset: str, text: str | None, frame: int | None, timecode: str | None,
    reply_to: str | None, project: str | None, as_json: bool, limit: int, cursor: str | None,
) -> None:  # fmt: skip
    """List the comments on a version (default: the current one), or add one with --add.

    \b
        keyframe comments SQ010_SH020@1 --add "Hold the blink two frames" --frame 1013
    """
    if text is None and (frame is not None or timecode or reply_to):
        raise Usage("--frame, --timecode and --reply-to go with --add TEXT")
    client = session.client()
    found, version = asset_version(client, asset, project=project)
    path = f"/assets/{found['id']}/versions/{version}/comments"
    if text is not None:
        body: dict[str, Any] = {"body": text}
        for key, value in (("frame", frame), ("timecode", timecode), ("parentId", reply_to)):
            if value is not None:
                body[key] = value
        comment = client.post(path, body)
        if as_json:
            print_json(comment)
        else:
            at = f" at frame {comment['frame']}" if comment.get("frame") is not None else ""
            click.echo(f"comment {comment['commentId']} added to {found.get('name')} v{version}{at}")
        return
    page = collect(client, path, limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    if not page["items"]:
        click.echo(f"(no comments on {found.get('name')} v{version})")
        return
    names = member_names(client)
    for comment in page["items"]:
        click.echo(describe(comment, names))
    more_hint(page)
