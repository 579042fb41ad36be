"""Settings fail loudly on missing resource names and keep documented defaults for tunables."""

import importlib
import pkgutil

import pytest
from pydantic import BaseModel, ValidationError

import keyframe
from keyframe import settings
from keyframe.renders.config import RendersSettings


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


def test_the_render_settings_validate_the_bucket_as_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIA_BUCKET", "Bad_Bucket")
    with pytest.raises(ValidationError, match="MEDIA_BUCKET"):
        settings.load(RendersSettings)


def test_every_group_of_environment_variables_derives_from_the_one_base() -> None:
    # Given every model of the package whose fields are environment variable names (UPPER_CASE)
    groups = []
    for module in pkgutil.walk_packages(keyframe.__path__, "keyframe."):
        if module.name.startswith(("keyframe.local", "keyframe.cli")):
            continue  # developer tools, not function settings
        for value in vars(importlib.import_module(module.name)).values():
            fields = value.model_fields if isinstance(value, type) and issubclass(value, BaseModel) else {}
            if fields and all(name.isupper() for name in fields):
                groups.append(value)
    # Then each is an EnvSettings (read with settings.load, reset by settings.reset)
    assert len(groups) >= 15
    assert [g.__qualname__ for g in groups if not issubclass(g, settings.EnvSettings)] == []
