"""Studio storage quota arithmetic (pure: no I/O).

A studio's *usage* is the bytes of its completed uploads plus the declared sizes of its open
upload sessions; it lives in one counter item per studio (see :class:`keyframe.uploads.models.
UploadUsage`) that every open/abort/expiry changes atomically with the session itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyframe.errors import PayloadTooLarge


@dataclass(frozen=True)
class QuotaCheck:
    """The outcome of asking for ``requested`` more bytes.

    Attributes
    ----------
    quota, used, requested:
        Bytes.
    """

    quota: int
    used: int
    requested: int

    @property
    def remaining(self) -> int:
        """Bytes still free before the request (never negative)."""
        return max(0, self.quota - self.used)

    @property
    def allowed(self) -> bool:
        """True when ``used + requested`` stays within the quota."""
        return self.used + self.requested <= self.quota

    @property
    def max_used_before(self) -> int:
        """The highest current usage at which the request still fits (for a conditional write)."""
        return self.quota - self.requested

    def error(self) -> PayloadTooLarge:
        """The 413 to raise when the request does not fit (``details`` carries the numbers)."""
        return PayloadTooLarge(
            f"This file needs {self.requested} bytes but the studio has {self.remaining} of its "
            f"{self.quota}-byte quota left",
            code="QUOTA_EXCEEDED",
            details={"quotaBytes": self.quota, "usedBytes": self.used, "requestedBytes": self.requested},
        )


def check(quota: int, used: int, requested: int) -> QuotaCheck:
    """Compare a request for ``requested`` bytes with ``used`` of ``quota`` (all bytes, >= 0)."""
    return QuotaCheck(quota=quota, used=max(0, used), requested=requested)
