"""The uploads settings: the session lifetime never drops uploaded parts sooner than a day."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keyframe.uploads.config import MIN_SESSION_SECONDS, SESSION_SECONDS, UploadSettings


def test_sessions_live_7_days_by_default_as_the_bucket_rule() -> None:
    settings = UploadSettings(UPLOADS_TABLE="uploads")
    assert settings.UPLOAD_SESSION_TTL_SECONDS == SESSION_SECONDS == 7 * 24 * 3600


@pytest.mark.parametrize("seconds", [MIN_SESSION_SECONDS, 3 * 24 * 3600, SESSION_SECONDS])
def test_a_lifetime_from_one_to_seven_days_is_accepted(seconds: int) -> None:
    settings = UploadSettings(UPLOADS_TABLE="uploads", UPLOAD_SESSION_TTL_SECONDS=seconds)
    lifetime = settings.UPLOAD_SESSION_TTL_SECONDS
    assert lifetime == seconds


@pytest.mark.parametrize("seconds", [3600, MIN_SESSION_SECONDS - 1, SESSION_SECONDS + 1])
def test_a_lifetime_under_a_day_or_over_the_bucket_rule_is_refused(seconds: int) -> None:
    # Given a lifetime that would expire (and so abort) sessions under a day, or outlive S3's parts
    with pytest.raises(ValidationError, match="UPLOAD_SESSION_TTL_SECONDS"):
        UploadSettings(UPLOADS_TABLE="uploads", UPLOAD_SESSION_TTL_SECONDS=seconds)
    assert MIN_SESSION_SECONDS == 86_400
