"""Checking a complete's part list against S3's ListParts before anything is published."""

from __future__ import annotations

import pytest

from keyframe.errors import InvalidInput
from keyframe.uploads.multipart import StoredPart
from keyframe.uploads.parts import ClaimedPart, check_parts, missing_parts
from keyframe.uploads.sizing import MIB, plan_parts

PLAN = plan_parts(20 * MIB)  # 8 MiB, 8 MiB, 4 MiB
STORED = [
    StoredPart(1, 8 * MIB, "e1"),
    StoredPart(2, 8 * MIB, "e2"),
    StoredPart(3, 4 * MIB, "e3"),
]


def _claims(*pairs: tuple[int, str]) -> list[ClaimedPart]:
    return [ClaimedPart(n, e) for n, e in pairs]


def _problems(claimed: list[ClaimedPart], stored: list[StoredPart] = STORED) -> dict:
    with pytest.raises(InvalidInput) as caught:
        check_parts(PLAN, claimed, stored)
    assert caught.value.code == "UPLOAD_PARTS_INVALID"
    return caught.value.details


def test_the_exact_list_in_any_order_with_quoted_etags_passes() -> None:
    # Given every part with its ETag (quoted, as S3's header gives it), out of order
    claimed = _claims((3, '"E3"'), (1, "e1"), (2, '"e2"'))
    # When checked / Then S3's parts come back in order
    assert [p.part_number for p in check_parts(PLAN, claimed, STORED)] == [1, 2, 3]


def test_a_missing_part_is_named() -> None:
    assert _problems(_claims((1, "e1"), (3, "e3"))) == {"missingParts": [2]}


def test_an_extra_part_is_named() -> None:
    assert _problems(_claims((1, "e1"), (2, "e2"), (3, "e3"), (4, "e4"))) == {"extraParts": [4]}


def test_a_duplicate_part_is_named() -> None:
    assert _problems(_claims((1, "e1"), (2, "e2"), (2, "e2"), (3, "e3"))) == {"duplicateParts": [2]}


def test_a_wrong_etag_is_named_with_both_values() -> None:
    assert _problems(_claims((1, "e1"), (2, "nope"), (3, "e3"))) == {
        "etagMismatches": [{"partNumber": 2, "expected": "e2", "given": "nope"}]
    }


def test_a_part_s3_does_not_hold_is_named() -> None:
    assert _problems(_claims((1, "e1"), (2, "e2"), (3, "e3")), STORED[:2]) == {"notUploadedParts": [3]}


def test_a_part_of_the_wrong_size_is_named() -> None:
    stored = [*STORED[:2], StoredPart(3, 4 * MIB + 1, "e3")]
    assert _problems(_claims((1, "e1"), (2, "e2"), (3, "e3")), stored) == {
        "sizeMismatches": [{"partNumber": 3, "expectedSize": 4 * MIB, "size": 4 * MIB + 1}]
    }


def test_every_problem_is_reported_at_once() -> None:
    details = _problems(_claims((1, "bad"), (1, "bad"), (9, "x")))
    assert details == {
        "duplicateParts": [1],
        "extraParts": [9],
        "missingParts": [2, 3],
        "etagMismatches": [{"partNumber": 1, "expected": "e1", "given": "bad"}],
    }


def test_missing_parts_counts_wrong_sizes_as_missing() -> None:
    # Given part 2 absent and part 3 of the wrong size / Then both must be (re)sent
    stored = [STORED[0], StoredPart(3, 1, "e3")]
    assert missing_parts(PLAN, stored) == [2, 3]
    assert missing_parts(PLAN, STORED) == []
