"""Media samples made once per test session (FFmpeg from PATH or the imageio-ffmpeg wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.media.samples import make_samples


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{name: path}`` of every sample in :mod:`tests.unit.media.samples`."""
    return make_samples(tmp_path_factory.mktemp("media-samples"))
