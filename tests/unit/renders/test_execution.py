"""The render state machine's input: ids, attempt, and the high-priority queue when one is configured."""

from __future__ import annotations

import pytest

from keyframe import settings
from keyframe.renders.execution import execution_input, execution_name
from keyframe.renders.jobs import PRESET_TIMEOUT_SECONDS, RENDER_JOB
from keyframe.renders.presets import PRESETS

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:keyframe-test-render"
HIGH_QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/keyframe-test-renders-high"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch):
    def configure(**env: str) -> None:
        monkeypatch.setenv("RENDER_STATE_MACHINE_ARN", ARN)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings.reset()

    return configure


def test_high_priority_names_the_high_priority_queue_when_there_is_one(configured) -> None:
    configured(RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN=HIGH_QUEUE)
    assert execution_input("s", "j", 2, "HIGH") == {
        "studioId": "s",
        "renderJobId": "j",
        "attempt": 2,
        "priority": "HIGH",
        "timeoutSeconds": 3600,
        "kind": "video",
        "jobQueue": HIGH_QUEUE,
    }
    assert "jobQueue" not in execution_input("s", "j", 2, "NORMAL")
    assert "jobQueue" not in execution_input("s", "j", 2, "LOW")


def test_without_a_high_priority_queue_the_state_machine_picks_the_queue(configured) -> None:
    configured()
    assert "jobQueue" not in execution_input("s", "j", 1, "HIGH")


def test_each_attempt_has_its_own_execution_name() -> None:
    assert execution_name("abc", 1) != execution_name("abc", 2)
    assert execution_name("abc", 3) == "abc-attempt-3"


def test_low_and_normal_priority_start_the_same_execution(configured) -> None:
    # Given a high-priority queue configured (the standard queue has no fair-share policy)
    configured(RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN=HIGH_QUEUE)
    # When LOW and NORMAL renders start / Then their inputs differ only by the recorded priority
    low, normal = execution_input("s", "j", 1, "LOW"), execution_input("s", "j", 1, "NORMAL")
    assert {**low, "priority": "NORMAL"} == normal


def test_each_preset_limits_a_batch_try_to_its_own_timeout(configured) -> None:
    # Given every preset, and the render job definition's own limit
    configured()
    # Then each preset has a timeout within the definition's, and the execution input carries it
    assert set(PRESET_TIMEOUT_SECONDS) == set(PRESETS)
    for name, seconds in PRESET_TIMEOUT_SECONDS.items():
        assert 0 < seconds <= RENDER_JOB["timeout_seconds"]
        assert execution_input("s", "j", 1, "NORMAL", name)["timeoutSeconds"] == seconds
    # And a filmstrip is stopped long before an HLS ladder
    assert PRESET_TIMEOUT_SECONDS["filmstrip"] < PRESET_TIMEOUT_SECONDS["hls"]
    # And without a preset the definition's limit applies
    assert execution_input("s", "j", 1, "NORMAL")["timeoutSeconds"] == RENDER_JOB["timeout_seconds"]
