"""Part-size arithmetic of S3 multipart uploads (pure: no I/O).

S3's limits: every part but the last is 5 MiB to 5 GiB, at most 10,000 parts, objects up to
5 TiB. Keyframe plans the *smallest* part size that is ``min_part_size * 2**k`` (8 MiB by default)
and keeps the part count at or under 10,000, so small files get many small parts (fine-grained
resume, parallel PUTs) and a 5 TiB file gets 1 GiB parts (5,120 of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from keyframe.errors import InvalidInput, PayloadTooLarge, field_details

MIB = 1024**2
GIB = 1024**3
TIB = 1024**4

S3_MIN_PART_SIZE = 5 * MIB
"""S3 rejects a non-final part smaller than this at CompleteMultipartUpload."""
S3_MAX_PART_SIZE = 5 * GIB
S3_MAX_PARTS = 10_000
S3_MAX_OBJECT_SIZE = 5 * TIB


@dataclass(frozen=True)
class PartPlan:
    """How a file of ``size`` bytes is cut into upload parts.

    Attributes
    ----------
    size:
        The file size, bytes (> 0).
    part_size:
        Size of every part but the last, bytes.
    part_count:
        Number of parts (1 … 10,000); the last part holds the remainder.
    """

    size: int
    part_size: int
    part_count: int

    def part_length(self, part_number: int) -> int:
        """Bytes in part ``part_number`` (1-based).

        Raises
        ------
        ValueError
            ``part_number`` outside ``1 … part_count``.
        """
        return self.part_range(part_number)[1]

    def part_range(self, part_number: int) -> tuple[int, int]:
        """``(offset, length)`` in bytes of part ``part_number`` (1-based) within the file.

        Raises
        ------
        ValueError
            ``part_number`` outside ``1 … part_count``.
        """
        if not 1 <= part_number <= self.part_count:
            raise ValueError(f"part {part_number} is outside 1..{self.part_count}")
        offset = (part_number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)


def plan_parts(size: int, min_part_size: int = 8 * MIB) -> PartPlan:
    """Choose the part size and count for a file of ``size`` bytes.

    Parameters
    ----------
    size:
        File size in bytes.
    min_part_size:
        The smallest part size to plan (bytes, 5 MiB … 5 GiB); the chosen size is the smallest
        ``min_part_size * 2**k`` (capped at 5 GiB) giving at most 10,000 parts.

    Returns
    -------
    PartPlan

    Raises
    ------
    InvalidInput
        ``size`` is zero or negative.
    PayloadTooLarge
        ``size`` is over S3's 5 TiB object limit.
    ValueError
        ``min_part_size`` is outside S3's part limits (a configuration error).

    Examples
    --------
    >>> plan_parts(20_000_000)
    PartPlan(size=20000000, part_size=8388608, part_count=3)
    """
    if not S3_MIN_PART_SIZE <= min_part_size <= S3_MAX_PART_SIZE:
        raise ValueError(f"min_part_size must be within {S3_MIN_PART_SIZE}..{S3_MAX_PART_SIZE} bytes")
    if size <= 0:
        raise InvalidInput(
            "The file is empty: size must be at least 1 byte",
            details=field_details("size", "must be at least 1 byte"),
        )
    if size > S3_MAX_OBJECT_SIZE:
        raise PayloadTooLarge(
            f"The file is {size} bytes; the largest upload is {S3_MAX_OBJECT_SIZE} bytes (5 TiB)",
            code="FILE_TOO_LARGE",
            details={"size": size, "maxSize": S3_MAX_OBJECT_SIZE},
        )
    part_size = min_part_size
    while -(-size // part_size) > S3_MAX_PARTS and part_size < S3_MAX_PART_SIZE:
        part_size = min(part_size * 2, S3_MAX_PART_SIZE)
    return PartPlan(size=size, part_size=part_size, part_count=-(-size // part_size))
