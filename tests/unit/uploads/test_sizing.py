"""Part-size arithmetic: 8 MiB minimum, 5 GiB maximum, at most 10,000 parts, 5 TiB objects."""

from __future__ import annotations

import pytest

from keyframe.errors import InvalidInput, PayloadTooLarge
from keyframe.uploads.sizing import (
    GIB,
    MIB,
    S3_MAX_OBJECT_SIZE,
    S3_MAX_PART_SIZE,
    S3_MAX_PARTS,
    TIB,
    plan_parts,
)


@pytest.mark.parametrize(
    ("size", "part_size", "part_count"),
    [
        (1, 8 * MIB, 1),
        (8 * MIB, 8 * MIB, 1),
        (8 * MIB + 1, 8 * MIB, 2),
        (20_000_000, 8 * MIB, 3),
        (10_000 * 8 * MIB, 8 * MIB, 10_000),
        (10_000 * 8 * MIB + 1, 16 * MIB, 5_001),
        (100 * GIB, 16 * MIB, 6_400),
        (S3_MAX_OBJECT_SIZE, 1 * GIB, 5_120),
    ],
)
def test_the_plan_is_the_smallest_power_of_two_multiple(size: int, part_size: int, part_count: int) -> None:
    # Given a file size / When the parts are planned / Then size and count are as S3 allows
    plan = plan_parts(size)
    assert (plan.part_size, plan.part_count) == (part_size, part_count)


@pytest.mark.parametrize("size", [1, 5 * MIB, 123_456_789, 79 * GIB, 80 * GIB, 2 * TIB, S3_MAX_OBJECT_SIZE])
@pytest.mark.parametrize("minimum", [5 * MIB, 8 * MIB, 100 * MIB])
def test_every_plan_respects_s3_limits(size: int, minimum: int) -> None:
    # Given any size and configured minimum
    plan = plan_parts(size, minimum)
    # Then the parts cover the file exactly, within S3's part limits
    assert 1 <= plan.part_count <= S3_MAX_PARTS
    assert minimum <= plan.part_size <= S3_MAX_PART_SIZE
    assert (plan.part_count - 1) * plan.part_size < size <= plan.part_count * plan.part_size
    assert 0 < plan.part_length(plan.part_count) == size - (plan.part_count - 1) * plan.part_size


def test_part_ranges_tile_the_file() -> None:
    # Given a 20 MB file in 8 MiB parts
    plan = plan_parts(20_000_000)
    # Then the ranges are contiguous and the last holds the remainder
    assert [plan.part_range(n) for n in (1, 2, 3)] == [
        (0, 8 * MIB),
        (8 * MIB, 8 * MIB),
        (16 * MIB, 20_000_000 - 16 * MIB),
    ]
    with pytest.raises(ValueError):
        plan.part_range(4)
    with pytest.raises(ValueError):
        plan.part_range(0)


def test_a_smaller_minimum_is_honoured_for_tests() -> None:
    # Given the test-only 5 MiB minimum / Then a 12 MiB file takes three parts
    plan = plan_parts(12 * MIB, 5 * MIB)
    assert (plan.part_size, plan.part_count) == (5 * MIB, 3)


@pytest.mark.parametrize("size", [0, -1])
def test_an_empty_file_is_refused(size: int) -> None:
    with pytest.raises(InvalidInput):
        plan_parts(size)


def test_a_file_over_five_tebibytes_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        plan_parts(S3_MAX_OBJECT_SIZE + 1)
    assert caught.value.code == "FILE_TOO_LARGE"


@pytest.mark.parametrize("minimum", [5 * MIB - 1, 5 * GIB + 1])
def test_a_minimum_outside_s3_limits_is_a_configuration_error(minimum: int) -> None:
    with pytest.raises(ValueError):
        plan_parts(100, minimum)
