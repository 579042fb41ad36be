"""Settings fail loudly on missing resource names and keep documented defaults for tunables."""

import pytest
from pydantic import ValidationError

from keyframe import settings


def test_missing_resource_name_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIA_BUCKET")
    with pytest.raises(ValidationError, match="MEDIA_BUCKET"):
        settings.load(settings.MediaSettings)


def test_tunables_have_defaults() -> None:
    auth = settings.load(settings.AuthSettings)
    assert auth.ACCESS_TOKEN_TTL_SECONDS == 900


def test_bucket_names_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_BUCKET", "Bad_Bucket")
    with pytest.raises(ValidationError):
        settings.load(settings.MediaSettings)


def test_cors_origins_list() -> None:
    core = settings.load(settings.CoreSettings)
    assert core.cors_origins == ["http://localhost:5173"]


def test_a_wildcard_cors_origin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "*")
    with pytest.raises(ValidationError, match="origins"):
        settings.load(settings.CoreSettings)
