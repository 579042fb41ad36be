"""Pipeline integration fixtures: a studio with a project and an asset, stored uploads with their
pipeline records, the sample task events of ``events/pipeline/``, and a stand-in state machine.

Everything runs on moto's ``mock_aws`` (the ``aws`` fixture). The task handlers are the real
``functions/pipeline_tasks/*/handler.py`` files, called with events built from the samples.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keyframe import registry, settings
from keyframe.pipeline import service
from keyframe.pipeline.starter import PipelineInput, execution_input
from keyframe.storage.clients import client as aws_client
from tests.support.environment import MEDIA_BUCKET
from tests.unit.media.samples import make_samples

EVENTS = registry.REPO_ROOT / "events" / "pipeline"


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real media made once per session (see :mod:`tests.unit.media.samples`)."""
    return make_samples(tmp_path_factory.mktemp("pipeline-samples"))


def sample_event(name: str, **ids: Any) -> dict[str, Any]:
    """``events/pipeline/{name}.json`` with top-level fields replaced by ``ids``."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event.update(ids)
    return event


@dataclass
class Place:
    """Where uploads go: a studio, its user, a project and an asset."""

    studio_id: str
    user_id: str
    project_id: str
    asset_id: str


def make_place(studio_id: str | None = None, user_id: str | None = None) -> Place:
    """A project and an asset in ``studio_id`` (created through the catalog service)."""
    from keyframe.catalog.assets import create_asset
    from keyframe.catalog.projects import create_project
    from keyframe.catalog.schemas import AssetCreate, ProjectCreate

    studio_id = studio_id or str(uuid.uuid4())
    user_id = user_id or str(uuid.uuid4())
    code = "P" + uuid.uuid4().hex[:6].upper()
    project = create_project(studio_id, user_id, ProjectCreate(name="Pilot", code=code))
    asset = create_asset(studio_id, user_id, AssetCreate(project_id=project.id, name="Shot 010", type="SHOT"))
    return Place(studio_id, user_id, project.id, asset.id)


@pytest.fixture
def place(aws: None) -> Place:
    """A fresh studio with a project and an asset."""
    return make_place()


Uploader = Callable[..., dict[str, Any]]


@pytest.fixture
def stored_upload(place: Place) -> Uploader:
    """``stored_upload(path_or_bytes, file_name, content_type, sha256=..., place=...)``: puts the object
    where a completed upload is, creates its pipeline record, returns the state machine input."""

    def upload(
        source: Path | bytes,
        file_name: str,
        content_type: str | None,
        *,
        sha256: str | bool | None = True,
        where: Place | None = None,
    ) -> dict[str, Any]:
        where = where or place
        data = source.read_bytes() if isinstance(source, Path) else source
        upload_id = str(uuid.uuid4())
        key = f"studios/{where.studio_id}/assets/{where.asset_id}/uploads/{upload_id}/{file_name}"
        aws_client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=data)
        digest = hashlib.sha256(data).hexdigest() if sha256 is True else (sha256 or None)
        record, _ = service.create(
            PipelineInput(
                studio_id=where.studio_id,
                asset_id=where.asset_id,
                upload_id=upload_id,
                bucket=MEDIA_BUCKET,
                key=key,
                size=len(data),
                file_name=file_name,
                declared_content_type=content_type,
                sha256=digest,
                change_note="blocking pass",
                created_by=where.user_id,
            )
        )
        return sample_event("validate", **execution_input(record, "full"))

    return upload


@pytest.fixture
def state_machine(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A one-state stand-in for the asset pipeline, named by ``ASSET_PIPELINE_STATE_MACHINE_ARN``.

    Lets the starter and the reprocess route really call StartExecution on moto without running
    Lambda functions (moto's own Lambda needs Docker).
    """
    client = aws_client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/keyframe-test-states"
    arn = client.create_state_machine(
        name="keyframe-test-asset-pipeline",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
        roleArn=role,
    )["stateMachineArn"]
    monkeypatch.setenv("ASSET_PIPELINE_STATE_MACHINE_ARN", arn)
    settings.reset()
    return arn


def object_exists(key: str) -> bool:
    """True if ``key`` is in the media bucket."""
    listing = aws_client("s3").list_objects_v2(Bucket=MEDIA_BUCKET, Prefix=key)
    return any(item["Key"] == key for item in listing.get("Contents", []))
