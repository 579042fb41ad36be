"""Every CLI unit test runs as a fresh user in an empty folder: no stored credentials, no stack file,
no API or token from the environment, and nobody at the keyboard (so nothing is ever asked)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _fresh_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYFRAME_HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ("KEYFRAME_TOKEN", "KEYFRAME_API", "KEYFRAME_STATE_DIR", "KEYFRAME_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("keyframe.cli.session.interactive", lambda: False)
