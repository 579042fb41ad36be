"""The asset pipeline's state machine: valid ASL that moto's interpreter accepts, failures caught,
transient errors retried with jitter, invalid media never retried."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from keyframe import registry
from keyframe.media.jobs import MEDIA_JOB
from keyframe.pipeline.derive_step import LAMBDA_DERIVE_MAX_BYTES
from keyframe.pipeline.errors import RETRYABLE_ERRORS

ASL = registry.REPO_ROOT / "statemachines" / "asset_pipeline.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
NEVER_RETRIED = {
    "InvalidMediaError",
    "TypeMismatchError",
    "ChecksumMismatchError",
    "States.ALL",
    "States.TaskFailed",
}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name))


def _rendered(path: Path = ASL) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.endswith("FunctionArn"):
            return f"arn:aws:lambda:us-east-1:123456789012:function:keyframe-test-{name}"
        if name == "JobQueueArn":
            return "arn:aws:batch:us-east-1:123456789012:job-queue/keyframe-test-jobs"
        return f"arn:aws:batch:us-east-1:123456789012:job-definition/keyframe-test-{name}:1"

    return PLACEHOLDER.sub(value, path.read_text())


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(_rendered())


def _tasks(definition: dict) -> dict[str, dict]:
    return {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}


def test_placeholders_name_registry_functions_and_the_media_job() -> None:
    # Given the placeholders in the file
    names = set(PLACEHOLDER.findall(ASL.read_text()))

    # Then each names a registry function, the job queue, or the media job definition
    functions = {f"{_camel(spec.name)}FunctionArn" for spec in (*registry.FUNCTIONS, registry.MEDIA_DERIVE)}
    allowed = functions | {"JobQueueArn", f"{_camel(MEDIA_JOB['name'])}JobDefinitionArn"}
    assert names <= allowed, names - allowed
    assert {
        "PipelineValidateFunctionArn",
        "PipelinePublishFunctionArn",
        "PipelineFinalizeFunctionArn",
        "PipelineMarkFailedFunctionArn",
        "PipelineDeriveFunctionArn",
        "JobQueueArn",
        "MediaJobDefinitionArn",
    } == names


def test_moto_interpreter_parses_the_definition() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(_rendered())
    assert program is not None


def test_every_next_names_a_state_and_every_state_is_reachable(definition: dict) -> None:
    states = definition["States"]
    targets = {definition["StartAt"]}
    for state in states.values():
        targets |= {state[key] for key in ("Next", "Default") if key in state}
        targets |= {choice["Next"] for choice in state.get("Choices", [])}
        targets |= {catch["Next"] for catch in state.get("Catch", [])}
    assert targets <= set(states)
    assert set(states) == targets


def test_every_task_but_mark_failed_catches_everything_into_mark_failed(definition: dict) -> None:
    for name, state in _tasks(definition).items():
        if name == "MarkFailed":
            assert "Catch" not in state
            assert definition["States"][state["Next"]]["Type"] == "Fail"
            continue
        catchers = state.get("Catch", [])
        assert catchers, f"{name} has no Catch"
        assert catchers[-1]["ErrorEquals"] == ["States.ALL"], name
        if name == "DeriveInLambda":  # the fast path hands any failure but the file's or Publish's to Batch
            assert catchers[-1]["Next"] == "NeedsPublish"
            assert catchers[0] == {
                "ErrorEquals": ["InvalidMediaError", "PublishFailed"],
                "ResultPath": "$.error",
                "Next": "MarkFailed",
            }
            continue
        assert catchers[-1]["Next"] == "MarkFailed", name
        assert catchers[-1]["ResultPath"] == "$.error", name


def test_transient_errors_retry_with_backoff_and_full_jitter(definition: dict) -> None:
    for name, state in _tasks(definition).items():
        retriers = state.get("Retry", [])
        assert retriers, f"{name} never retries"
        retried = {error for retrier in retriers for error in retrier["ErrorEquals"]}
        if state["Resource"].endswith(":lambda:invoke"):
            assert set(RETRYABLE_ERRORS) <= retried, name
        else:
            assert any(error.startswith("Batch.") for error in retried), name
        for retrier in retriers:
            assert retrier["JitterStrategy"] == "FULL", name
            assert retrier["BackoffRate"] > 1 and retrier["MaxAttempts"] >= 2, name


def test_invalid_media_is_never_retried(definition: dict) -> None:
    for name, state in _tasks(definition).items():
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        assert not retried & NEVER_RETRIED, f"{name} retries {retried & NEVER_RETRIED}"


def test_derive_runs_the_media_job_and_waits_for_it(definition: dict) -> None:
    derive = definition["States"]["Derive"]
    assert derive["Resource"] == "arn:aws:states:::batch:submitJob.sync"
    assert set(derive["Parameters"]["Parameters"]) == {"studioId.$", "uploadId.$"}
    tokens = {arg for arg in MEDIA_JOB["command"] if arg.startswith("Ref::")}
    assert tokens == {"Ref::studioId", "Ref::uploadId"}


def test_only_media_kinds_are_derived_and_reprocess_starts_at_derive(definition: dict) -> None:
    states = definition["States"]
    assert states["NeedsDerive"]["Choices"][0]["Next"] == "DeriveWhere"
    kinds = {c["StringEquals"] for c in states["NeedsDerive"]["Choices"][0]["Or"]}
    assert kinds == {"video", "image", "audio"}
    assert states["NeedsDerive"]["Default"] == "NeedsPublish"
    assert states["Route"]["Choices"][0]["Next"] == "NeedsDerive"
    assert states["Route"]["Default"] == "Validate"
    # after Publish only the same kinds derive (on Batch); the others finalize
    assert states["DeriveOnBatch"]["Choices"][0]["Or"] == states["NeedsDerive"]["Choices"][0]["Or"]
    assert states["DeriveOnBatch"]["Choices"][0]["Next"] == "Derive"
    assert states["DeriveOnBatch"]["Default"] == "Finalize"


def _path(definition: dict, document: dict, failing: frozenset[str] = frozenset()) -> list[str]:
    """The task states a run with execution state ``document`` passes through, as Step Functions
    walks this definition (Choice rules of the shapes the file uses; ``failing`` tasks take their
    last Catch; a task's result goes where its ResultPath says)."""

    def holds(rule: dict) -> bool:
        if "Or" in rule:
            return any(holds(inner) for inner in rule["Or"])
        if "And" in rule:
            return all(holds(inner) for inner in rule["And"])
        value: object = document
        for part in rule["Variable"].removeprefix("$.").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if "IsPresent" in rule:
            return (value is not None) == rule["IsPresent"]
        if "IsNumeric" in rule:
            return isinstance(value, int) == rule["IsNumeric"]
        if "StringEquals" in rule:
            return value == rule["StringEquals"]
        return isinstance(value, int) and value <= rule["NumericLessThanEquals"]

    states, name, tasks = definition["States"], definition["StartAt"], []
    while states[name]["Type"] in ("Choice", "Task"):
        state = states[name]
        if state["Type"] == "Choice":
            name = next((c["Next"] for c in state["Choices"] if holds(c)), state["Default"])
            continue
        tasks.append(name)
        if name in failing:
            name = state["Catch"][-1]["Next"]
            continue
        if state.get("ResultPath") == "$.published":
            document = {**document, "published": {"version": 1}}
        name = state["Next"]
    return tasks


@pytest.mark.parametrize(
    ("document", "failing", "expected"),
    [
        ({"kind": "video", "size": 10}, (), ["Validate", "DeriveInLambda", "Finalize"]),
        ({"kind": "video", "size": 2 * 1024**3}, (), ["Validate", "Publish", "Derive", "Finalize"]),
        (
            {"kind": "video", "size": 10},
            ("DeriveInLambda",),
            ["Validate", "DeriveInLambda", "Publish", "Derive", "Finalize"],
        ),
        ({"kind": "document", "size": 10}, (), ["Validate", "Publish", "Finalize"]),
        ({"kind": "video", "size": 10, "mode": "reprocess"}, (), ["DeriveInLambda", "Finalize"]),
        ({"kind": "video", "size": 2 * 1024**3, "mode": "reprocess"}, (), ["Derive", "Finalize"]),
        ({"kind": "document", "size": 10, "mode": "reprocess"}, (), ["Finalize"]),
    ],
)
def test_every_run_publishes_once_before_it_finalizes(
    definition: dict, document: dict, failing: tuple[str, ...], expected: list[str]
) -> None:
    # Given the execution input (Validate's kind already in $.validation; a reprocess run's version
    # in $.published, as keyframe.pipeline.starter.execution_input writes them)
    state = {key: value for key, value in document.items() if key != "kind"}
    state["validation"] = {"kind": document["kind"]}
    if document.get("mode") == "reprocess":
        state["published"] = {"version": 1}

    # Then the run passes these tasks: a full run publishes in Publish or the Lambda derive (a
    # failed fast path publishes again, which returns the same version), a reprocess run never
    assert _path(definition, state, frozenset(failing)) == expected


def test_the_media_job_definition_is_a_valid_local_batch_spec() -> None:
    from keyframe.local.batch import JobDefinitionSpec
    from keyframe.local.batch_jobs import decide_retry

    spec = JobDefinitionSpec(**MEDIA_JOB)
    request = spec.register_request("test")
    assert request["containerProperties"]["command"][:4] == [
        "python",
        "-m",
        "keyframe.media.worker",
        "derive",
    ]
    conditions = request["retryStrategy"]["evaluateOnExit"]
    assert len(conditions) <= 5  # the AWS Batch limit
    assert decide_retry(conditions, 3, "Essential container in task exited", None) == "EXIT"
    assert decide_retry(conditions, 1, "Essential container in task exited", None) == "RETRY"
    assert decide_retry(conditions, None, "CannotPullContainerError: pull access denied", None) == "RETRY"
    assert decide_retry(conditions, None, None, "Host EC2 (instance i-0) terminated.") == "RETRY"


def test_sources_up_to_the_threshold_are_derived_in_lambda_larger_ones_on_batch(definition: dict) -> None:
    # Given the DeriveWhere choice
    where = definition["States"]["DeriveWhere"]
    rule = where["Choices"][0]

    # Then it compares the input's size with the documented threshold, and Batch is the default
    limit = next(c["NumericLessThanEquals"] for c in rule["And"] if "NumericLessThanEquals" in c)
    assert limit == LAMBDA_DERIVE_MAX_BYTES == 1024**3
    assert {c["Variable"] for c in rule["And"]} == {"$.size"}
    assert rule["Next"] == "DeriveInLambda" and where["Default"] == "NeedsPublish"
    fast = definition["States"]["DeriveInLambda"]
    assert fast["Parameters"]["FunctionName"].endswith("PipelineDeriveFunctionArn")
    assert fast["Next"] == "Finalize" and fast["ResultPath"] == "$.published"
    assert fast["ResultSelector"] == definition["States"]["Publish"]["ResultSelector"]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1, "DeriveInLambda"),
        (1024**3, "DeriveInLambda"),
        (1024**3 + 1, "NeedsPublish"),
        (None, "NeedsPublish"),
    ],
)
def test_the_choice_sends_each_size_where_it_belongs(
    definition: dict, size: int | None, expected: str
) -> None:
    # A small evaluator of the choice's And rule, as Step Functions reads it
    rule = definition["States"]["DeriveWhere"]["Choices"][0]
    document = {} if size is None else {"size": size}

    def holds(condition: dict) -> bool:
        present = "size" in document
        if "IsPresent" in condition:
            return present == condition["IsPresent"]
        if not present:
            return False
        if "IsNumeric" in condition:
            return isinstance(document["size"], int) == condition["IsNumeric"]
        return document["size"] <= condition["NumericLessThanEquals"]

    chosen = (
        rule["Next"] if all(holds(c) for c in rule["And"]) else definition["States"]["DeriveWhere"]["Default"]
    )
    assert chosen == expected
