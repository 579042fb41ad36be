"""Fixtures of the identity integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def atomic_dynamodb() -> None:
    """moto's DynamoDB item operations are atomic in every test (see ``keyframe.local.atomic``);
    this fixture name is kept so the concurrency tests say what they rely on."""
