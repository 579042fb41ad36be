"""The asset pipeline's state machine as moto's interpreter runs it (the local stack's Step Functions):
which tasks each kind of run passes through, with the task functions replaced by recorders and the
Batch media job by a process that exits 0. The e2e tests run the fast path with the real functions;
these cover the paths a 10 s test clip cannot take (a source over 1 GiB, a failed fast path)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from keyframe.local import lambdas
from tests.integration.local.test_emulator import Emulator, _job_definition, _wait, emulator  # noqa: F401
from tests.unit.pipeline.test_asl import ASL

pytestmark = [pytest.mark.xdist_group("local-emulator")]

ROLE = "arn:aws:iam::123456789012:role/keyframe-it-states"
VALIDATION = {"kind": "video", "format": "mp4", "contentType": "video/mp4"}


class DeriveHandedToBatch(Exception):
    """Stands in for keyframe.pipeline.derive_step's (Step Functions matches the class name)."""


class PublishFailed(Exception):
    """Stands in for keyframe.pipeline.derive_step's."""


@pytest.fixture(scope="module")
def machine(emulator: Emulator) -> str:  # noqa: F811
    _job_definition(emulator, "it-media", ["python", "-c", "pass"])
    definition = re.sub(
        r"\$\{([A-Za-z]+)\}",
        lambda m: {
            "JobQueueArn": emulator.queue_arn,
            "MediaJobDefinitionArn": "it-media",
        }.get(
            m.group(1),
            "arn:aws:lambda:us-east-1:123456789012:function:keyframe-it-"
            + re.sub(r"(?<!^)([A-Z])", r"-\1", m.group(1).removesuffix("FunctionArn")).lower(),
        ),
        ASL.read_text(),
    )
    client = emulator.client("stepfunctions")
    return client.create_state_machine(name="it-asset-pipeline", definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]


def _run(
    emulator: Emulator,  # noqa: F811
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
    payload: dict[str, Any],
    *,
    kind: str = "video",
    derive: Exception | None = None,
) -> tuple[str, list[str], dict[str, list[dict[str, Any]]]]:
    """Run one execution; returns its status, the task states entered in order, and each recorder's
    events."""
    calls: dict[str, list[dict[str, Any]]] = {}

    def recorder(name: str, result: Any) -> Any:
        def handler(event: dict[str, Any], _context: Any) -> Any:
            calls.setdefault(name, []).append(event)
            if isinstance(result, Exception):
                raise result
            return result

        return handler

    version = (payload.get("published") or {}).get("version", 1)
    monkeypatch.setattr(
        lambdas,
        "OVERRIDES",
        {
            "pipeline-validate": recorder("validate", {**VALIDATION, "kind": kind, "size": payload["size"]}),
            "pipeline-publish": recorder("publish", {"version": 1}),
            "pipeline-derive": recorder("derive", derive or {"derivedIn": "lambda", "version": version}),
            "pipeline-finalize": recorder("finalize", {"version": version, "status": "READY"}),
            "pipeline-mark-failed": recorder("mark-failed", {"code": "X", "message": "failed"}),
        },
    )
    client = emulator.client("stepfunctions")
    execution = client.start_execution(
        stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps(payload)
    )["executionArn"]
    done = _wait(
        lambda: (d := client.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        timeout=60,
        every=0.2,
    )
    events = client.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    tasks = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"]
    return done["status"], tasks, calls


FULL = {"mode": "full", "studioId": "s1", "assetId": "a1", "uploadId": "u1", "bucket": "b", "key": "k"}


def test_a_small_video_is_published_and_derived_in_one_lambda(
    emulator: Emulator,  # noqa: F811
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, tasks, calls = _run(emulator, machine, monkeypatch, {**FULL, "size": 10})
    assert (status, tasks) == ("SUCCEEDED", ["Validate", "DeriveInLambda", "Finalize"])
    # the derive function gets Validate's result and no version: it publishes
    assert calls["derive"][0]["validation"]["kind"] == "video" and "published" not in calls["derive"][0]
    assert calls["finalize"][0]["published"] == {"version": 1}


def test_a_failed_fast_path_publishes_then_derives_on_batch(
    emulator: Emulator,  # noqa: F811
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, tasks, _ = _run(
        emulator, machine, monkeypatch, {**FULL, "size": 10}, derive=DeriveHandedToBatch("killed")
    )
    assert status == "SUCCEEDED"
    assert tasks == ["Validate", "DeriveInLambda", "Publish", "Derive", "Finalize"]


def test_a_refused_publish_in_the_fast_path_fails_the_run(
    emulator: Emulator,  # noqa: F811
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, tasks, calls = _run(
        emulator, machine, monkeypatch, {**FULL, "size": 10}, derive=PublishFailed("archived")
    )
    assert status == "FAILED"
    assert tasks == ["Validate", "DeriveInLambda", "MarkFailed"]
    assert calls["mark-failed"][0]["error"]["Error"] == "PublishFailed"


def test_a_large_video_is_published_then_derived_on_batch(
    emulator: Emulator,  # noqa: F811
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, tasks, _ = _run(emulator, machine, monkeypatch, {**FULL, "size": 2 * 1024**3})
    assert (status, tasks) == ("SUCCEEDED", ["Validate", "Publish", "Derive", "Finalize"])


def test_a_kind_without_derivatives_is_published_and_finalized(
    emulator: Emulator,  # noqa: F811
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, tasks, _ = _run(emulator, machine, monkeypatch, {**FULL, "size": 10}, kind="scene")
    assert (status, tasks) == ("SUCCEEDED", ["Validate", "Publish", "Finalize"])


@pytest.mark.parametrize(
    ("size", "expected"), [(10, ["DeriveInLambda", "Finalize"]), (2 * 1024**3, ["Derive", "Finalize"])]
)
def test_a_reprocess_run_never_publishes(
    emulator: Emulator,  # noqa: F811
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    expected: list[str],
) -> None:
    payload = {
        **FULL,
        "mode": "reprocess",
        "size": size,
        "validation": VALIDATION,
        "published": {"version": 4},
    }
    status, tasks, calls = _run(emulator, machine, monkeypatch, payload)
    assert (status, tasks) == ("SUCCEEDED", expected)
    assert "publish" not in calls
