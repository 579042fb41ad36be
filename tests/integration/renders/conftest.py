"""Render integration fixtures: a studio with a READY video version, a stand-in state machine, spies.

Everything runs on moto's ``mock_aws`` (the ``aws``/``api`` fixtures). Batch cannot run containers
in-process, so the render state machine is replaced by a one-state stand-in (StartExecution is
real), ``execution.stop``/``terminate`` are recorded, and the worker (``keyframe.renders.worker.run``)
and the task handlers (``functions/renders_tasks/*``) are called directly, with real FFmpeg on a tiny
real clip.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keyframe import registry, settings
from keyframe.local import lambdas
from keyframe.renders import execution
from keyframe.storage.clients import client as aws_client
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import Session, add_member, register_studio

EVENTS = registry.REPO_ROOT / "events" / "renders"


def make_clip(path: Path, *, size: str = "1280x720", seconds: float = 2.0, audio: bool = True) -> Path:
    """A real H.264 (+ AAC) MP4 made from FFmpeg's test sources (no input file needed)."""
    from keyframe.media.ffmpeg import ffmpeg_exe

    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc2=size={size}:rate=24:duration={seconds}"]  # fmt: skip
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s 1280x720 24 fps clip with sound (made once per session)."""
    return make_clip(tmp_path_factory.mktemp("render-clips") / "shot_010.mp4")


@pytest.fixture(scope="session")
def clip_media(clip: Path) -> dict[str, Any]:
    """The clip's media facts as the pipeline stores them on a version."""
    from keyframe.media.probe import probe

    return probe(str(clip)).model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass
class Target:
    """A project, an asset and its READY version holding the clip."""

    studio_id: str
    project_id: str
    asset_id: str
    version: int
    key: str
    sha256: str


def publish(
    session: Session,
    data: bytes,
    media: dict[str, Any],
    *,
    asset_id: str | None = None,
    project_id: str | None = None,
    ready: bool = True,
    name: str = "Shot 010",
    declare_sha256: bool = True,
) -> Target:
    """Put ``data`` in the bucket and publish it as the next version (READY unless told otherwise).

    ``declare_sha256=False`` publishes it as an upload that declared no checksum.
    """
    from keyframe.catalog import assets, projects, versions
    from keyframe.catalog.schemas import AssetCreate, AssetType, FileInfo, ProjectCreate

    if asset_id is None:
        code = "P" + uuid.uuid4().hex[:6].upper()
        project_id = projects.create_project(
            session.studio_id, session.user_id, ProjectCreate(name="Pilot", code=code)
        ).id
        asset_id = assets.create_asset(
            session.studio_id,
            session.user_id,
            AssetCreate(project_id=project_id, name=name, type=AssetType.SHOT),
        ).id
    key = f"studios/{session.studio_id}/assets/{asset_id}/uploads/{uuid.uuid4().hex}/shot.mp4"
    aws_client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=data, ContentType="video/mp4")
    digest = hashlib.sha256(data).hexdigest()
    file = FileInfo(
        key=key,
        size=len(data),
        content_type="video/mp4",
        file_name="shot.mp4",
        sha256=digest if declare_sha256 else None,
    )
    published = versions.publish_version(session.studio_id, asset_id, created_by=session.user_id, file=file)
    if ready:
        versions.mark_version_ready(session.studio_id, asset_id, published.version, media=media, derived={})
    return Target(session.studio_id, project_id or "", asset_id, published.version, key, digest)


@pytest.fixture
def admin(api: Any) -> Session:
    """The ADMIN of a fresh studio."""
    return register_studio(api, studio_name="Render Studio")


@pytest.fixture
def artist(api: Any, admin: Session) -> Session:
    """An ARTIST of the admin's studio."""
    return add_member(api, admin, "ARTIST")


@pytest.fixture
def target(admin: Session, clip: Path, clip_media: dict[str, Any]) -> Target:
    """A READY version 1 holding the 2 s 720p clip, in the admin's studio."""
    return publish(admin, clip.read_bytes(), clip_media)


@pytest.fixture
def publish_clip(clip: Path, clip_media: dict[str, Any]) -> Any:
    """``publish_clip(session, **kw)``: the clip published as another version (see :func:`publish`)."""
    return lambda session, **kw: publish(session, clip.read_bytes(), clip_media, **kw)


@dataclass
class Spy:
    """Calls of ``execution.stop`` and ``execution.terminate``."""

    stopped: list[tuple[str | None, str]] = field(default_factory=list)
    terminated: list[tuple[str | None, str]] = field(default_factory=list)


@pytest.fixture
def runs(aws: None, monkeypatch: pytest.MonkeyPatch) -> Spy:
    """A stand-in render state machine (``RENDER_STATE_MACHINE_ARN``) and spies on stop/terminate."""
    client = aws_client("stepfunctions")
    arn = client.create_state_machine(
        name="keyframe-test-render",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/keyframe-test-states",
    )["stateMachineArn"]
    monkeypatch.setenv("RENDER_STATE_MACHINE_ARN", arn)
    settings.reset()
    spy = Spy()
    monkeypatch.setattr(execution, "stop", lambda arn_, cause: spy.stopped.append((arn_, cause)))
    monkeypatch.setattr(execution, "terminate", lambda job, reason: spy.terminated.append((job, reason)))
    return spy


def executions(state_machine_arn: str | None = None) -> list[dict[str, Any]]:
    """Every execution started on the stand-in state machine (with its input), oldest first."""
    client = aws_client("stepfunctions")
    arn = state_machine_arn or _state_machine_arn()
    found = client.list_executions(stateMachineArn=arn)["executions"]
    described = [client.describe_execution(executionArn=e["executionArn"]) for e in found]
    return sorted(
        ({"name": d["name"], "input": json.loads(d["input"])} for d in described), key=lambda e: e["name"]
    )


def _state_machine_arn() -> str:
    import os

    return os.environ["RENDER_STATE_MACHINE_ARN"]


def set_env(monkeypatch: pytest.MonkeyPatch, **values: Any) -> None:
    """Set variables and forget cached settings."""
    for name, value in values.items():
        monkeypatch.setenv(name, str(value))
    settings.reset()


def task_event(name: str, **fields: Any) -> dict[str, Any]:
    """``events/renders/{name}.json`` with top-level fields replaced."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event.update(fields)
    return event


def invoke_task(function: str, event: dict[str, Any]) -> Any:
    """Call the real task handler (``functions/renders_tasks/...``) as Step Functions would."""
    return lambdas.invoke(function, event)
