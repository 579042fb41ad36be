"""Checking a client's part list against what S3 holds, before anything is completed (pure).

``CompleteMultipartUpload`` is irreversible, so the service first compares the client's
``[{partNumber, etag}]`` with ListParts and the server's :class:`~keyframe.uploads.sizing.PartPlan`
and refuses (400, naming every faulty part) unless the list is exactly parts ``1 … partCount``,
each uploaded, with the ETag S3 reports and the planned size. The multipart upload stays open, so
the client can re-upload a part and try again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from keyframe.errors import InvalidInput
from keyframe.uploads.multipart import StoredPart
from keyframe.uploads.sizing import PartPlan


@dataclass(frozen=True)
class ClaimedPart:
    """A part as the client names it in ``complete``: number and the ETag its PUT returned."""

    part_number: int
    etag: str


def normalise_etag(etag: str) -> str:
    """An ETag without surrounding quotes or whitespace, lowercased (S3 ETags are hex)."""
    return etag.strip().strip('"').lower()


def missing_parts(plan: PartPlan, stored: Iterable[StoredPart]) -> list[int]:
    """Planned part numbers S3 does not hold with the planned size (what a client must (re)send)."""
    good = {
        p.part_number
        for p in stored
        if 1 <= p.part_number <= plan.part_count and p.size == plan.part_length(p.part_number)
    }
    return [n for n in range(1, plan.part_count + 1) if n not in good]


def check_parts(
    plan: PartPlan, claimed: Sequence[ClaimedPart], stored: Sequence[StoredPart]
) -> list[StoredPart]:
    """Return S3's parts in order if ``claimed`` is exactly right, else raise.

    Parameters
    ----------
    plan:
        The session's part plan.
    claimed:
        The client's list (any order).
    stored:
        ListParts of the multipart upload.

    Returns
    -------
    list of StoredPart
        Parts ``1 … partCount`` as S3 holds them, ready for CompleteMultipartUpload.

    Raises
    ------
    InvalidInput
        Code ``UPLOAD_PARTS_INVALID``; ``details`` lists (each key present only when non-empty)
        ``duplicateParts``, ``extraParts`` (outside ``1 … partCount``), ``missingParts`` (planned
        but not in the list), ``notUploadedParts`` (listed but S3 has no such part),
        ``etagMismatches`` ``[{partNumber, expected, given}]`` and ``sizeMismatches``
        ``[{partNumber, expectedSize, size}]``.
    """
    counts = Counter(p.part_number for p in claimed)
    by_number = {p.part_number: p for p in stored}
    problems: dict[str, Any] = {
        "duplicateParts": sorted(n for n, c in counts.items() if c > 1),
        "extraParts": sorted(n for n in counts if not 1 <= n <= plan.part_count),
        "missingParts": [n for n in range(1, plan.part_count + 1) if n not in counts],
        "notUploadedParts": sorted(n for n in counts if 1 <= n <= plan.part_count and n not in by_number),
        "etagMismatches": [],
        "sizeMismatches": [],
    }
    for part in sorted({p.part_number: p for p in claimed}.values(), key=lambda p: p.part_number):
        held = by_number.get(part.part_number)
        if held is None or not 1 <= part.part_number <= plan.part_count:
            continue
        if normalise_etag(part.etag) != normalise_etag(held.etag):
            problems["etagMismatches"].append(
                {"partNumber": part.part_number, "expected": held.etag, "given": part.etag}
            )
        expected_size = plan.part_length(part.part_number)
        if held.size != expected_size:
            problems["sizeMismatches"].append(
                {"partNumber": part.part_number, "expectedSize": expected_size, "size": held.size}
            )
    details = {key: value for key, value in problems.items() if value}
    if details:
        summary = "; ".join(_describe(key, value) for key, value in details.items())
        raise InvalidInput(
            f"The part list does not match the uploaded parts: {summary}. Nothing was published; "
            "fix the parts and complete again",
            code="UPLOAD_PARTS_INVALID",
            details=details,
        )
    return [by_number[n] for n in range(1, plan.part_count + 1)]


def _describe(key: str, value: list[Any]) -> str:
    numbers = [v["partNumber"] if isinstance(v, dict) else v for v in value]
    shown = ", ".join(str(n) for n in numbers[:20]) + (" …" if len(numbers) > 20 else "")
    label = {
        "duplicateParts": "duplicate parts",
        "extraParts": "parts outside the plan",
        "missingParts": "missing parts",
        "notUploadedParts": "parts never uploaded",
        "etagMismatches": "wrong ETags for parts",
        "sizeMismatches": "wrong sizes for parts",
    }[key]
    return f"{label} {shown}"
