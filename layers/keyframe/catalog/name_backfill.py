"""Backfill the asset name reservations that assets made before names were unique do not hold.

Since names became unique per project (case-insensitive), creating or renaming an asset puts an
:class:`~keyframe.catalog.models.AssetNameItem` in the same transaction. Assets created earlier hold
none, so a new asset could still take their name. This module gives each of them its reservation::

    CATALOG_TABLE=<the stack's catalog table> python -m keyframe.catalog.name_backfill [--dry-run]

It scans the catalog table for asset items (archived ones too: they keep their names) and, oldest
asset first within each ``(studio, project, name)``, puts the reservation in a transaction with a
condition check that the asset still has that name (so a rename during the run is never undone).
Running it again changes nothing (idempotent): a reservation the asset already holds is counted as
``already reserved``. When two legacy assets share a name, the older keeps it and the other is
reported as a conflict to be renamed by a person; the run goes on and exits 0. A record without the
fields it needs is reported as unreadable and skipped. Exit status: 0 when the run completed
(conflicts included), 2 on wrong usage; an AWS error propagates.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import boto3

from keyframe.catalog.models import ASSET_NAME_SK, ASSET_SK, asset_name_pk
from keyframe.storage.tables import CATALOG


@dataclass(frozen=True)
class LegacyAsset:
    """What the backfill needs of one stored asset (read with a projection, not the model)."""

    pk: str
    studio_id: str
    project_id: str
    asset_id: str
    name: str
    created_at: str

    @property
    def reservation_pk(self) -> str:
        """Partition key of the name's reservation item (case-insensitive name)."""
        return asset_name_pk(self.studio_id, self.project_id, self.name)


@dataclass(frozen=True)
class NameConflict:
    """An asset whose name another asset of its project already holds: one of them must be renamed."""

    studio_id: str
    project_id: str
    name: str
    asset_id: str
    held_by: str


@dataclass
class BackfillReport:
    """What one run did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    scanned: int = 0
    reserved: list[str] = field(default_factory=list)
    already_reserved: int = 0
    conflicts: list[NameConflict] = field(default_factory=list)
    changed_meanwhile: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as text: one line per conflict, unreadable or changed asset, then a summary."""
        out = [
            f"CONFLICT studio={c.studio_id} project={c.project_id} name={c.name!r} asset={c.asset_id} "
            f"(the name is held by asset {c.held_by}; rename one of them)"
            for c in self.conflicts
        ]
        out += [f"UNREADABLE {pk} (no studioId/projectId/assetId/name: skipped)" for pk in self.unreadable]
        out += [f"CHANGED {a} (renamed or deleted during the run: run again)" for a in self.changed_meanwhile]
        verb = "would reserve" if self.dry_run else "reserved"
        out.append(
            f"{self.scanned} assets scanned: {verb} {len(self.reserved)}, already reserved "
            f"{self.already_reserved}, conflicts {len(self.conflicts)}, unreadable {len(self.unreadable)}, "
            f"changed during the run {len(self.changed_meanwhile)}"
        )
        return out


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {})
    return value.get("S") if isinstance(value, dict) else None


def scan_assets(client: Any, table: str, report: BackfillReport) -> Iterator[LegacyAsset]:
    """Every asset item of the catalog table (``sk = ASSET``), read with a projection.

    Items missing a field the reservation needs are added to ``report.unreadable`` and skipped.
    """
    paginator = client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        FilterExpression="sk = :asset",
        ProjectionExpression="pk, studioId, projectId, assetId, #n, createdAt",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":asset": {"S": ASSET_SK}},
    )
    for page in pages:
        for item in page.get("Items", []):
            report.scanned += 1
            pk, studio_id, project_id, asset_id, name = (
                _text(item, k) for k in ("pk", "studioId", "projectId", "assetId", "name")
            )
            if pk and studio_id and project_id and asset_id and name:
                created_at = _text(item, "createdAt") or ""
                yield LegacyAsset(pk, studio_id, project_id, asset_id, name, created_at)
            else:
                report.unreadable.append(str(pk or item.get("pk")))


def _holder(client: Any, table: str, reservation_pk: str) -> str | None:
    """The asset id holding a name reservation, or ``None`` when there is none."""
    answer = client.get_item(
        TableName=table,
        Key={"pk": {"S": reservation_pk}, "sk": {"S": ASSET_NAME_SK}},
        ConsistentRead=True,
    )
    item = answer.get("Item")
    return None if item is None else (_text(item, "assetId") or "")


def _reserve(client: Any, table: str, asset: LegacyAsset) -> str:
    """Put the reservation if free and the asset still has the name: ``"reserved"`` or ``"taken"``
    (the condition on the reservation failed) or ``"changed"`` (the asset's name or item changed)."""
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {
                            "pk": {"S": asset.reservation_pk},
                            "sk": {"S": ASSET_NAME_SK},
                            "assetId": {"S": asset.asset_id},
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": asset.pk}, "sk": {"S": ASSET_SK}},
                        "ConditionExpression": "#n = :name",
                        "ExpressionAttributeNames": {"#n": "name"},
                        "ExpressionAttributeValues": {":name": {"S": asset.name}},
                    }
                },
            ]
        )
    except client.exceptions.TransactionCanceledException as exc:
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            return "changed"
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return "taken"
        raise
    return "reserved"


def backfill(client: Any, table: str, *, dry_run: bool = False) -> BackfillReport:
    """Give every asset of ``table`` the name reservation it lacks (see the module docstring).

    Parameters
    ----------
    client:
        A boto3 DynamoDB client.
    table:
        The catalog table's physical name.
    dry_run:
        Read only: report what would be reserved and the conflicts, write nothing.

    Returns
    -------
    BackfillReport
        Counts, the reservations made, the conflicts (never raised), unreadable and changed assets.
    """
    report = BackfillReport(dry_run=dry_run)
    assets = sorted(
        scan_assets(client, table, report), key=lambda a: (a.reservation_pk, a.created_at, a.asset_id)
    )
    claimed: dict[str, str] = {}  # dry run: names this run would have reserved
    for asset in assets:
        holder = claimed.get(asset.reservation_pk) or _holder(client, table, asset.reservation_pk)
        if holder is None:
            if dry_run:
                claimed[asset.reservation_pk] = asset.asset_id
                report.reserved.append(asset.asset_id)
                continue
            outcome = _reserve(client, table, asset)
            if outcome == "reserved":
                report.reserved.append(asset.asset_id)
                continue
            if outcome == "changed":
                report.changed_meanwhile.append(asset.asset_id)
                continue
            holder = _holder(client, table, asset.reservation_pk) or ""  # taken since the read
        if holder == asset.asset_id:
            report.already_reserved += 1
        else:
            report.conflicts.append(
                NameConflict(asset.studio_id, asset.project_id, asset.name, asset.asset_id, holder)
            )
    return report


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """``python -m keyframe.catalog.name_backfill [--table NAME] [--dry-run]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m keyframe.catalog.name_backfill",
        description="Reserve the names of assets created before asset names were unique.",
    )
    default_table = os.environ.get(CATALOG.env_var)
    parser.add_argument("--table", default=default_table, help=f"catalog table (default: ${CATALOG.env_var})")
    parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error(f"name the catalog table with --table or {CATALOG.env_var}")
    report = backfill(boto3.client("dynamodb"), args.table, dry_run=args.dry_run)
    out.write("\n".join(report.lines()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
