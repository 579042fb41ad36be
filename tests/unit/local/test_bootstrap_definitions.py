"""State machine placeholders: the naming convention and the substitution of ``statemachines/*.asl.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyframe import registry
from keyframe.local import batch, bootstrap


def _write(folder: Path, name: str, document: dict) -> None:
    (folder / name).write_text(json.dumps(document))


def test_function_placeholders_are_camel_case_of_the_registry_name() -> None:
    # Given / When / Then
    assert bootstrap.function_placeholder("validate") == "ValidateFunctionArn"
    assert bootstrap.function_placeholder("pipeline-probe") == "PipelineProbeFunctionArn"
    assert bootstrap.state_machine_env_var("asset_pipeline") == "ASSET_PIPELINE_STATE_MACHINE_ARN"
    assert bootstrap.state_machine_name("asset_pipeline", "local") == "keyframe-local-asset-pipeline"


def test_definitions_fill_function_queue_bucket_and_job_definition_placeholders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an ASL file using the documented placeholders and one declared job definition
    monkeypatch.setattr(batch, "JOB_DEFINITIONS", [batch.JobDefinitionSpec("render", ("python", "-V"))])
    function = registry.FUNCTIONS[0].name
    _write(
        tmp_path,
        "asset_pipeline.asl.json",
        {
            "StartAt": "A",
            "States": {
                "A": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": "${" + bootstrap.function_placeholder(function) + "}",
                        "Payload": {
                            "bucket": "${MediaBucket}",
                            "queue": "${JobQueueArn}",
                            "definition": "${RenderJobDefinitionArn}",
                            "table": "${CatalogTableName}",
                        },
                    },
                    "End": True,
                }
            },
        },
    )

    # When
    definitions = bootstrap.state_machine_definitions("local", directory=tmp_path)

    # Then
    task = json.loads(definitions["asset_pipeline"])["States"]["A"]["Parameters"]
    assert task["FunctionName"] == f"arn:aws:lambda:us-east-1:123456789012:function:keyframe-local-{function}"
    assert task["Payload"] == {
        "bucket": "keyframe-local-media",
        "queue": "arn:aws:batch:us-east-1:123456789012:job-queue/keyframe-local-jobs",
        "definition": "arn:aws:batch:us-east-1:123456789012:job-definition/keyframe-local-render:1",
        "table": "keyframe-local-catalog",
    }


def test_state_machines_can_refer_to_each_other(tmp_path: Path) -> None:
    # Given two state machines, one starting the other
    _write(tmp_path, "render.asl.json", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    _write(
        tmp_path,
        "asset_pipeline.asl.json",
        {
            "StartAt": "S",
            "States": {
                "S": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::states:startExecution",
                    "Parameters": {"StateMachineArn": "${RenderStateMachineArn}"},
                    "End": True,
                }
            },
        },
    )

    # When
    definitions = bootstrap.state_machine_definitions("dev", account_id="000000000000", directory=tmp_path)

    # Then
    started = json.loads(definitions["asset_pipeline"])["States"]["S"]["Parameters"]["StateMachineArn"]
    assert started == "arn:aws:states:us-east-1:000000000000:stateMachine:keyframe-dev-render"


def test_an_unknown_placeholder_names_the_file_and_the_placeholder(tmp_path: Path) -> None:
    # Given a typo in a placeholder
    _write(
        tmp_path,
        "broken.asl.json",
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${ValidatFunctionArn}", "End": True}}},
    )

    # When / Then
    with pytest.raises(ValueError, match=r"broken\.asl\.json.*\$\{ValidatFunctionArn\}"):
        bootstrap.state_machine_definitions("local", directory=tmp_path)


def test_the_repository_state_machines_all_render() -> None:
    # Given every committed ASL file / When rendered for the local stage / Then each is valid JSON
    for stem, text in bootstrap.state_machine_definitions("local").items():
        assert json.loads(text)["StartAt"], stem
