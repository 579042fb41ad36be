"""What commands print: JSON for scripts (``--json``), aligned tables and sizes for people.

``--json`` always prints exactly what the API answered: a listing prints the API's page shape
``{"items": [...], "nextCursor": str | null}`` (the items of every page read, up to ``--limit``;
``nextCursor`` continues from there with ``--cursor``), a single object prints the API's object.
Human output goes to stdout too; progress, notes and errors go to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from keyframe.cli.client import ApiClient

MAX_PAGE = 100
"""The API's largest page (``limit`` 1-100)."""

Column = tuple[str, Callable[[dict[str, Any]], Any]]
"""A table column: its heading and how to read a cell from an item."""


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--json`` (print the API's answer as JSON) to a command."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the API's answer as JSON (shapes in the README)."
    )(command)


def listing_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--limit`` and ``--cursor`` (paging) and ``--json`` to a listing command."""
    command = click.option(
        "--cursor", default=None, metavar="CURSOR", help="Continue from the nextCursor of a --json answer."
    )(command)
    command = click.option(
        "--limit",
        type=click.IntRange(1, 10_000),
        default=50,
        show_default=True,
        help="Items to list at most.",
    )(command)
    return json_option(command)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def collect(
    client: ApiClient, path: str, params: dict[str, Any] | None = None, *, limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Read pages of a listing until ``limit`` items or its end: ``{"items", "nextCursor"}``.

    ``None`` parameters are left out. Follows ``nextCursor`` (pages of at most :data:`MAX_PAGE`).
    """
    query = {k: v for k, v in (params or {}).items() if v is not None}
    items: list[Any] = []
    while True:
        page_params = {**query, "limit": min(MAX_PAGE, limit - len(items))}
        if cursor:
            page_params["cursor"] = cursor
        page = client.get(path, params=page_params) or {}
        items.extend(page.get("items") or [])
        cursor = page.get("nextCursor")
        if not cursor or len(items) >= limit:
            return {"items": items[:limit], "nextCursor": cursor}


def table(items: Sequence[dict[str, Any]], columns: Sequence[Column], empty: str = "(none)") -> None:
    """Print ``items`` as a left-aligned table with a heading line (``empty`` when there are none)."""
    if not items:
        click.echo(empty)
        return
    rows = [[heading for heading, _ in columns]]
    rows += [[_cell(read(item)) for _, read in columns] for item in items]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def more_hint(page: dict[str, Any]) -> None:
    """Say on stderr that the listing goes on, and how to see more."""
    if page.get("nextCursor"):
        click.echo("(more: raise --limit, or continue with --cursor from --json's nextCursor)", err=True)


def size(n: float | None) -> str:
    """``2.3 MiB`` for ``2398705`` bytes (binary units)."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def lines(values: Iterable[str]) -> None:
    """Print each value on its own line."""
    for value in values:
        click.echo(value)
