"""The asset pipeline's state machine: its definition, its role, who may start it, its alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.grants import starters
from infra.pipeline import STATE_MACHINES_DIR, STEM, placeholders
from infra.safety_net import DEAD_LETTER_AGE_ALARM_SECONDS
from keyframe.local import bootstrap
from keyframe.pipeline.tasks import EXECUTION_EVENT
from keyframe.registry import REPO_ROOT
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

ASL_FILE = STATE_MACHINES_DIR / f"{STEM}.asl.json"
TASK_FUNCTIONS = ("pipeline-validate", "pipeline-publish", "pipeline-finalize", "pipeline-mark-failed")
STARTERS = ("uploads-api", "pipeline-api")
ENV_VAR = "ASSET_PIPELINE_STATE_MACHINE_ARN"
PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId"}


def _machine_id(synth) -> str:
    name = f"{synth.config.name}-asset-pipeline"
    for lid, res in t.of_type(synth.resources, "AWS::StepFunctions::StateMachine").items():
        if res["Properties"]["StateMachineName"] == name:
            return lid
    raise AssertionError(f"no state machine named {name}")


def _machine(synth) -> dict[str, Any]:
    return synth.resources[_machine_id(synth)]["Properties"]


def _machine_statements(synth) -> list[dict[str, Any]]:
    return t.role_statements(synth.resources, _machine(synth)["RoleArn"]["Fn::GetAtt"][0])


def _named(synth, resource_type: str, name_property: str, name: str) -> str:
    for lid, res in t.of_type(synth.resources, resource_type).items():
        if res["Properties"].get(name_property) == name:
            return lid
    raise AssertionError(f"no {resource_type} named {name}")


def _queue_id(synth, suffix: str = "media-jobs") -> str:
    return _named(synth, "AWS::Batch::JobQueue", "JobQueueName", f"{synth.config.name}-{suffix}")


def _media_job_id(synth) -> str:
    return _named(synth, "AWS::Batch::JobDefinition", "JobDefinitionName", f"{synth.config.name}-media")


def _resources_of(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def test_state_machine_is_standard_logged_without_data_and_traced(dev, prod):
    for synth, days in ((dev, 14), (prod, 365)):
        # Given the asset pipeline's state machine of each stage
        props = _machine(synth)
        # Then it is a STANDARD machine named after the stage
        assert props["StateMachineType"] == "STANDARD"
        assert props["StateMachineName"] == f"{synth.config.name}-asset-pipeline"
        # And it logs every event, without execution data, to a group kept for the stage's retention
        logging = props["LoggingConfiguration"]
        assert logging["Level"] == "ALL"
        assert logging["IncludeExecutionData"] is False
        (destination,) = logging["Destinations"]
        group = synth.resources[destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]]
        assert group["Properties"]["RetentionInDays"] == days
        # And X-Ray tracing is on
        assert props["TracingConfiguration"] == {"Enabled": True}


def test_definition_is_the_asl_file_with_every_placeholder_bound_to_its_resource(dev):
    # Given the ASL file and the deployed definition
    text = ASL_FILE.read_text()
    props = _machine(dev)
    # Then the definition is the file itself (CloudFormation fills the placeholders)
    assert json.loads(props["DefinitionString"]) == json.loads(text)
    # And every placeholder of the file is substituted, with the local stack's names, and nothing else
    used = placeholders(text)
    assert used
    assert set(props["DefinitionSubstitutions"]) == set(used)
    assert set(used) <= set(bootstrap.substitution_names())
    # And each names the right resource: the task functions, the normal queue, the media job
    expected = {
        bootstrap.function_placeholder(name): {"Ref": t.alias_id(dev.resources, name)}
        for name in TASK_FUNCTIONS
    }
    expected["JobQueueArn"] = {"Fn::GetAtt": [_queue_id(dev), "JobQueueArn"]}
    expected["MediaJobDefinitionArn"] = {"Ref": _media_job_id(dev)}
    # the Lambda derive's alias comes out of its nested stack
    expected["PipelineDeriveFunctionArn"] = _fast_path_alias(dev)
    assert props["DefinitionSubstitutions"] == expected


def _fast_path_alias(synth) -> dict[str, Any]:
    (nested,) = [
        name
        for name in t.of_type(synth.resources, "AWS::CloudFormation::Stack")
        if name.startswith("MediaFastPath")
    ]
    (output,) = [
        key
        for key in Template.from_stack(synth.stack.media_fast_path).to_json()["Outputs"]
        if "PipelineDeriveLive" in key
    ]
    return {"Fn::GetAtt": [nested, f"Outputs.{output}"]}


def test_state_machine_role_invokes_exactly_the_four_task_functions(dev):
    # Given the state machine role's statements and every Lambda function of the stack
    statements = _machine_statements(dev)
    every_function = set(t.of_type(dev.resources, "AWS::Lambda::Function")) | set(
        t.of_type(dev.resources, "AWS::Lambda::Alias")
    )
    tasks = {t.alias_id(dev.resources, name) for name in TASK_FUNCTIONS}
    invoke = [s for s in statements if any(a.startswith("lambda:") for a in t.actions_of(s))]
    # Then one statement invokes, and only InvokeFunction
    (statement,) = invoke
    assert t.actions_of(statement) == ["lambda:InvokeFunction"]
    # And it names the live aliases of the four task functions and of the Lambda derive (from its
    # nested stack), exactly, and no other function
    fast_path = _fast_path_alias(dev)["Fn::GetAtt"][0]
    assert t.references(statement["Resource"]) == tasks | {fast_path}
    assert len(_resources_of(statement)) == len(TASK_FUNCTIONS) + 1
    for other in statements:
        assert not t.references(other["Resource"]) & (every_function - tasks), other


def test_state_machine_role_submits_only_the_media_job_and_follows_it(dev):
    # Given the state machine role's statements
    statements = _machine_statements(dev)
    # Then SubmitJob names exactly the normal queue and the media job definition
    (submit,) = [s for s in statements if "batch:SubmitJob" in t.actions_of(s)]
    assert t.actions_of(submit) == ["batch:SubmitJob"]
    assert t.references(submit["Resource"]) == {_queue_id(dev), _media_job_id(dev)}
    # And the .sync integration may describe jobs (no resource-level permission exists for that),
    # terminate only Batch jobs, and manage its one EventBridge rule
    (follow,) = [s for s in statements if "batch:DescribeJobs" in t.actions_of(s)]
    assert t.actions_of(follow) == ["batch:DescribeJobs"]
    (stop,) = [s for s in statements if "batch:TerminateJob" in t.actions_of(s)]
    assert t.actions_of(stop) == ["batch:TerminateJob"]
    assert json.dumps(stop["Resource"]).endswith(':job/*"]]}')
    (rule,) = [s for s in statements if any(a.startswith("events:") for a in t.actions_of(s))]
    assert set(t.actions_of(rule)) == {"events:PutTargets", "events:PutRule", "events:DescribeRule"}
    assert json.dumps(rule["Resource"]).endswith(':rule/StepFunctionsGetEventsForBatchJobsRule"]]}')
    # And no statement grants a service-wide action
    for statement in statements:
        assert not any(action.endswith(":*") for action in t.actions_of(statement)), statement


def test_only_uploads_api_and_pipeline_api_may_start_the_pipeline(dev):
    machine = _machine_id(dev)
    # Given the grant table and every function's role
    assert starters(STEM) == list(STARTERS)
    for res in t.of_type(dev.resources, "AWS::Lambda::Function").values():
        variables = res["Properties"].get("Environment", {}).get("Variables", {})
        name = variables.get("POWERTOOLS_SERVICE_NAME")
        if name is None:  # CDK's own custom resource handlers
            continue
        statements = t.function_statements(dev.resources, name)
        starts = [s for s in statements if "states:StartExecution" in t.actions_of(s)]
        if name in STARTERS:
            # Then the two starters may start this state machine and nothing else
            (start,) = starts
            assert start["Resource"] == {"Ref": machine}
            # And may describe its executions only
            (describe,) = [s for s in statements if "states:DescribeExecution" in t.actions_of(s)]
            assert t.references(describe["Resource"]) - PSEUDO_PARAMETERS == {machine}
            assert ":execution:" in json.dumps(describe["Resource"])
            # And learn its ARN from their environment
            assert variables[ENV_VAR] == {"Ref": machine}
        else:
            # And no other function may start it or knows it
            assert not any(machine in t.references(s["Resource"]) for s in starts), name
            assert ENV_VAR not in variables, name


def test_failed_and_timed_out_executions_alarm_to_the_topic(dev):
    # Given the alarms on the asset pipeline's state machine
    machine = _machine_id(dev)
    (topic,) = t.of_type(dev.resources, "AWS::SNS::Topic")
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in t.of_type(dev.resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/States"
        and machine in t.references(a["Properties"].get("Dimensions", []))
    }
    # Then failed and timed-out executions are watched and notify the topic
    assert set(alarms) == {"ExecutionsFailed", "ExecutionsTimedOut"}
    for alarm in alarms.values():
        assert t.references(alarm["AlarmActions"]) == {topic}
        assert alarm["TreatMissingData"] == "notBreaching"


def _matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the patterns used here: every key of the pattern is in the event and a
    list is "any of these values"."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            k in event and _matches(v, event[k]) for k, v in pattern.items()
        )
    return event in pattern


def test_an_execution_that_ends_outside_its_catch_is_sent_whole_to_mark_failed(dev):
    # Given the rule on this machine's Step Functions events and pipeline-mark-failed
    machine = _machine_id(dev)
    (rule_id, rule) = next(
        (lid, res["Properties"])
        for lid, res in t.of_type(dev.resources, "AWS::Events::Rule").items()
        if res["Properties"].get("EventPattern", {}).get("detail", {}).get("stateMachineArn")
        == [{"Ref": machine}]
    )
    mark_failed = t.alias_id(dev.resources, "pipeline-mark-failed")
    mark_failed_function = t.function_id(dev.resources, "pipeline-mark-failed")
    pattern = rule["EventPattern"]
    # Then it matches this machine's executions that ended FAILED, TIMED_OUT or ABORTED
    assert rule["State"] == "ENABLED"
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == [EXECUTION_EVENT]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    # And so the sample event (on this machine) matches, and a success does not
    sample = json.loads((REPO_ROOT / "events" / "pipeline" / "execution_status_change.json").read_text())
    this_machine = {
        **pattern,
        "detail": {**pattern["detail"], "stateMachineArn": [sample["detail"]["stateMachineArn"]]},
    }
    assert _matches(this_machine, sample)
    assert not _matches(this_machine, {**sample, "detail": {**sample["detail"], "status": "SUCCEEDED"}})
    # And its one target is pipeline-mark-failed, given the whole event, with retries and a dead-letter queue
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": mark_failed}
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    (queue,) = t.references(target["DeadLetterConfig"]["Arn"])
    assert dev.resources[queue]["Type"] == "AWS::SQS::Queue"
    assert dev.resources[queue]["Properties"]["SqsManagedSseEnabled"] is True
    # And EventBridge may invoke the function for this rule only
    (permission,) = [
        p["Properties"]
        for p in t.of_type(dev.resources, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
        and mark_failed in t.references(p["Properties"]["FunctionName"])
    ]
    assert permission["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
    # And an invocation that keeps failing lands in the same queue, which alarms to the topic
    (invoke_config,) = [
        c["Properties"]
        for c in t.of_type(dev.resources, "AWS::Lambda::EventInvokeConfig").values()
        if mark_failed_function in t.references(c["Properties"]["FunctionName"])
    ]
    assert t.references(invoke_config["Qualifier"]) == {mark_failed}
    assert t.references(invoke_config["DestinationConfig"]["OnFailure"]["Destination"]) == {queue}
    (topic,) = t.of_type(dev.resources, "AWS::SNS::Topic")
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in t.of_type(dev.resources, "AWS::CloudWatch::Alarm").values()
        if queue in t.references(a["Properties"].get("Dimensions", []))
    }
    assert set(alarms) == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    alarm = alarms["ApproximateNumberOfMessagesVisible"]
    assert alarm["Threshold"] == 1
    assert t.references(alarm["AlarmActions"]) == {topic}
    # And a dead letter nobody handled alarms again after hours
    assert alarms["ApproximateAgeOfOldestMessage"]["Threshold"] == DEAD_LETTER_AGE_ALARM_SECONDS
    assert t.references(alarms["ApproximateAgeOfOldestMessage"]["AlarmActions"]) == {topic}


def test_an_unknown_placeholder_stops_the_synth(tmp_path):
    # Given an ASL file naming a function nobody gave the construct
    import aws_cdk as cdk

    from infra.config import StageConfig
    from infra.pipeline import AslStateMachine

    (tmp_path / "broken.asl.json").write_text(
        json.dumps(
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${NopeFunctionArn}", "End": True}}}
        )
    )
    stack = cdk.Stack(cdk.App())
    # When the state machine is built
    # Then the synth stops, naming the file and the placeholder
    with pytest.raises(ValueError, match=r"broken\.asl\.json: placeholder \$\{NopeFunctionArn\}"):
        AslStateMachine(
            stack,
            "Broken",
            config=StageConfig.for_stage("dev"),
            stem="broken",
            functions={},
            directory=tmp_path,
        )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_state_machine_roles_carry_no_suppression_for_function_versions(request, stage):
    # Given the roles (and their policies) of both state machines, which invoke live aliases exactly
    synth = request.getfixturevalue(stage)
    machines = t.of_type(synth.resources, "AWS::StepFunctions::StateMachine").values()
    roles = {m["Properties"]["RoleArn"]["Fn::GetAtt"][0] for m in machines}
    assert len(roles) == 2
    for lid, res in synth.resources.items():
        owner = {lid} | t.references(res.get("Properties", {}).get("Roles", []))
        if not owner & roles:
            continue
        # Then the only IAM5 suppression left is the one for actions without resource-level permissions
        rules = res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        for rule in rules:
            assert "Arn>:" not in json.dumps(rule.get("applies_to", [])), rule


def test_the_lambda_derive_has_ffmpeg_in_a_layer_and_lambdas_largest_limits(dev):
    # Given the fast path's nested stack
    resources = Template.from_stack(dev.stack.media_fast_path).to_json()["Resources"]
    (function,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    layers = [name for name, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"]

    # Then it runs within Lambda's limits (15 minutes, 10 GB of memory and of /tmp), with its FFmpeg
    # layer beside the shared one
    assert function["Timeout"] == 900
    assert function["MemorySize"] == 10240
    assert function["EphemeralStorage"] == {"Size": 10240}
    assert len(function["Layers"]) == 2 and {"Ref": layers[0]} in function["Layers"]
    assert function["Handler"] == "handler.lambda_handler"
    assert len(resources) < 30
