"""The sample events in ``events/catalog`` are answered 2xx by the real handler once their ids point
at seeded data (they carry the authorizer context the gateway adds)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from keyframe.catalog import assets, graph, projects
from keyframe.catalog.schemas import AssetCreate, DependencyPut, ProjectCreate
from keyframe.local import lambdas
from keyframe.registry import REPO_ROOT
from tests.integration.catalog.conftest import publish

SAMPLES = sorted((REPO_ROOT / "events" / "catalog").glob("*.json"))
STUDIO = "0f3b6f0e-8c2d-4b8e-9d7a-5b1c2e3d4f50"
USER = "7c1e2f8a-2b7d-4c51-9a35-3f0e7d6a1b42"
PROJECT = "5a7c9e1b-3d5f-4a8c-9e2b-4d6f8a0c2e41"
ASSET = "3e9d1c2b-6a4f-4e8d-b7c1-2a5f6e7d8c90"
RIG = "8b2d4f6a-1c3e-4b5d-8f7a-9c1e3b5d7f02"


@pytest.fixture
def seeded(aws):
    """The sample studio: a project, an asset with three ready versions, a rig with two."""
    session = SimpleNamespace(studio_id=STUDIO, user_id=USER)
    project = projects.create_project(STUDIO, USER, ProjectCreate(name="Existing", code="EX"))
    asset = assets.create_asset(
        STUDIO, USER, AssetCreate(project_id=project.id, name="Luna", type="CHARACTER")
    )
    rig = assets.create_asset(STUDIO, USER, AssetCreate(project_id=project.id, name="Face rig", type="RIG"))
    for _ in range(3):
        publish(session, asset.id)
    for _ in range(2):
        publish(session, rig.id)
    graph.put_dependency(STUDIO, USER, asset.id, rig.id, DependencyPut(pinned_version=1))
    etag = assets.get_asset(STUDIO, asset.id).etag
    # the If-Match of the sample first, before its asset id is replaced
    return {f'\\"{ASSET}.4\\"': json.dumps(etag)[1:-1], PROJECT: project.id, ASSET: asset.id, RIG: rig.id}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_sample_event_is_answered(seeded, sample: Path):
    # Given
    text = sample.read_text()
    for placeholder, real in seeded.items():
        text = text.replace(placeholder, real)
    event = json.loads(text)

    # When
    result = lambdas.invoke("catalog-api", event)

    # Then
    assert 200 <= result["statusCode"] < 300, result.get("body")
