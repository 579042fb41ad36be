"""Render jobs: the render state machine, the render job definition, who may do what, the bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from infra.grants import RENDERS_PREFIX, starters
from infra.pipeline import STATE_MACHINES_DIR, placeholders
from infra.renders import RENDER_FAILURES_THRESHOLD, RENDER_WORKER_VARIABLES, STEM
from infra.safety_net import DEAD_LETTER_AGE_ALARM_SECONDS
from keyframe import registry
from keyframe.local import bootstrap
from keyframe.outbox.records import outbox_pk
from keyframe.renders.jobs import PRESET_TIMEOUT_SECONDS, RENDER_JOB
from keyframe.renders.playback import EPHEMERAL_TAG
from keyframe.renders.tasks import EXECUTION_EVENT
from keyframe.storage.activity import activity_pk
from keyframe.storage.tables import CATALOG, LIVE, RENDERS, TENANTS
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

ASL_FILE = STATE_MACHINES_DIR / f"{STEM}.asl.json"
TASK_FUNCTIONS = ("render-finalize", "render-mark-failed")
MACHINE_ENV = "RENDER_STATE_MACHINE_ARN"
HIGH_QUEUE_ENV = "RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN"
PSEUDO_PARAMETERS = {"AWS::Partition", "AWS::Region", "AWS::AccountId"}
S3_WRITE_ACTIONS = {
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:RestoreObject",
    "s3:*",
}
ORIGINALS = "studios/*/assets/*/uploads/*"


# ------------------------------------------------------------------------------------------ helpers
def _text(value: Any) -> str:
    """A policy resource as text: ``Ref``/``GetAtt`` become ``<id>``/``<id.attr>``, joins are joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return "<" + ".".join(value["Fn::GetAtt"]) + ">"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(_text(part) for part in parts)
    return json.dumps(value)


def _resources(statement: dict[str, Any]) -> list[str]:
    resources = statement["Resource"]
    return [_text(r) for r in (resources if isinstance(resources, list) else [resources])]


def _named(synth, resource_type: str, name_property: str, name: str) -> str:
    for lid, res in t.of_type(synth.resources, resource_type).items():
        if res["Properties"].get(name_property) == name:
            return lid
    raise AssertionError(f"no {resource_type} named {name}")


def _machine_id(synth) -> str:
    return _named(
        synth, "AWS::StepFunctions::StateMachine", "StateMachineName", f"{synth.config.name}-render"
    )


def _machine(synth) -> dict[str, Any]:
    return synth.resources[_machine_id(synth)]["Properties"]


def _queue_id(synth, suffix: str) -> str:
    return _named(synth, "AWS::Batch::JobQueue", "JobQueueName", f"{synth.config.name}-{suffix}")


def _job_id(synth) -> str:
    return _named(synth, "AWS::Batch::JobDefinition", "JobDefinitionName", f"{synth.config.name}-render")


def _job(synth) -> dict[str, Any]:
    return synth.resources[_job_id(synth)]["Properties"]


def _job_statements(synth) -> list[dict[str, Any]]:
    role = _job(synth)["ContainerProperties"]["JobRoleArn"]["Fn::GetAtt"][0]
    return t.role_statements(synth.resources, role)


def _bucket(synth) -> str:
    return f"<{t.media_bucket_id(synth.resources)}.Arn>"


def _tables_touched(synth, statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Table key -> the actions the statements allow on it (or its indexes)."""
    touched: dict[str, set[str]] = {}
    for key, lid in t.table_ids(synth.resources).items():
        for statement in statements:
            if lid in t.references(statement["Resource"]):
                touched.setdefault(key, set()).update(t.actions_of(statement))
    return touched


def _s3_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith("s3:") for a in t.actions_of(s))]


# ------------------------------------------------------------------------------------------ state machine
def test_definition_is_the_render_asl_with_every_placeholder_bound_to_its_resource(dev):
    # Given the render ASL file and the deployed definition
    text = ASL_FILE.read_text()
    props = _machine(dev)
    # Then the definition is the file itself, a STANDARD machine, logged without data and traced
    assert json.loads(props["DefinitionString"]) == json.loads(text)
    assert props["StateMachineType"] == "STANDARD"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}
    # And each of its four placeholders is substituted, with the local stack's names, and nothing else
    used = placeholders(text)
    assert len(used) == 4
    assert set(props["DefinitionSubstitutions"]) == set(used)
    assert set(used) <= set(bootstrap.substitution_names())
    # And each names the right resource: the two task functions, the normal queue, the render job
    expected = {
        bootstrap.function_placeholder(name): {"Ref": t.alias_id(dev.resources, name)}
        for name in TASK_FUNCTIONS
    }
    expected["JobQueueArn"] = {"Fn::GetAtt": [_queue_id(dev, "media-jobs"), "JobQueueArn"]}
    expected["RenderJobDefinitionArn"] = {"Ref": _job_id(dev)}
    assert props["DefinitionSubstitutions"] == expected


def test_machine_role_invokes_the_render_tasks_and_submits_only_the_render_job_to_both_queues(dev):
    # Given the render state machine role's statements
    statements = t.role_statements(dev.resources, _machine(dev)["RoleArn"]["Fn::GetAtt"][0])
    every_function = set(t.of_type(dev.resources, "AWS::Lambda::Function")) | set(
        t.of_type(dev.resources, "AWS::Lambda::Alias")
    )
    tasks = {t.alias_id(dev.resources, name) for name in TASK_FUNCTIONS}
    # Then it invokes the live aliases of the two render tasks, exactly, and no other function
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in t.actions_of(s)]
    assert t.references(invoke["Resource"]) == tasks
    assert len(invoke["Resource"]) == len(TASK_FUNCTIONS)
    for statement in statements:
        assert not t.references(statement["Resource"]) & (every_function - tasks), statement
    # And SubmitJob names the normal and the high-priority queue and the render job definition only
    (submit,) = [s for s in statements if "batch:SubmitJob" in t.actions_of(s)]
    assert t.actions_of(submit) == ["batch:SubmitJob"]
    assert t.references(submit["Resource"]) == {
        _queue_id(dev, "media-jobs"),
        _queue_id(dev, "media-jobs-high"),
        _job_id(dev),
    }


def test_only_renders_api_may_start_render_executions_and_stop_only_those(dev):
    machine = _machine_id(dev)
    high_queue = _queue_id(dev, "media-jobs-high")
    # Given the grant table and every function of the registry
    assert starters(STEM) == ["renders-api"]
    for res in t.of_type(dev.resources, "AWS::Lambda::Function").values():
        variables = res["Properties"].get("Environment", {}).get("Variables", {})
        name = variables.get("POWERTOOLS_SERVICE_NAME")
        if name is None:  # CDK's own custom resource handlers
            continue
        statements = t.function_statements(dev.resources, name)
        starts = [s for s in statements if "states:StartExecution" in t.actions_of(s)]
        if name == "renders-api":
            # Then renders-api may start the render state machine and nothing else
            (start,) = starts
            assert start["Resource"] == {"Ref": machine}
            # And may stop its executions (cancel), but not describe or stop any other machine's
            (stop,) = [s for s in statements if "states:StopExecution" in t.actions_of(s)]
            assert t.actions_of(stop) == ["states:StopExecution"]
            assert t.references(stop["Resource"]) - PSEUDO_PARAMETERS == {machine}
            assert ":execution:" in json.dumps(stop["Resource"])
            assert not any("states:DescribeExecution" in t.actions_of(s) for s in statements)
            # And learns the machine and the high-priority queue from its environment
            assert variables[MACHINE_ENV] == {"Ref": machine}
            assert variables[HIGH_QUEUE_ENV] == {"Fn::GetAtt": [high_queue, "JobQueueArn"]}
        else:
            # And no other function may start it or knows it
            assert not any(machine in t.references(s["Resource"]) for s in starts), name
            assert MACHINE_ENV not in variables and HIGH_QUEUE_ENV not in variables, name


def test_failed_and_timed_out_render_executions_alarm_to_the_topic(dev):
    # Given the alarms on the render state machine
    machine = _machine_id(dev)
    (topic,) = t.of_type(dev.resources, "AWS::SNS::Topic")
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in t.of_type(dev.resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/States"
        and machine in t.references(a["Properties"].get("Dimensions", []))
    }
    # Then a burst of failures and any timeout alarm, and both notify the topic
    assert set(alarms) == {"ExecutionsFailed", "ExecutionsTimedOut"}
    assert alarms["ExecutionsFailed"]["Threshold"] == RENDER_FAILURES_THRESHOLD > 1
    assert alarms["ExecutionsTimedOut"]["Threshold"] == 1
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert t.references(alarm["AlarmActions"]) == {topic}


def _matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the patterns used here: every key of the pattern is in the event and
    a list is "any of these values"."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            k in event and _matches(v, event[k]) for k, v in pattern.items()
        )
    return event in pattern


def _safety_net_rule(synth) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (lid, res["Properties"])
        for lid, res in t.of_type(synth.resources, "AWS::Events::Rule").items()
        if res["Properties"].get("EventPattern", {}).get("detail", {}).get("stateMachineArn")
        == [{"Ref": _machine_id(synth)}]
    ]
    return found


def test_an_execution_that_ends_outside_its_catch_is_sent_whole_to_mark_failed(dev):
    # Given the rule on Step Functions events, the render machine and render-mark-failed
    rule_id, rule = _safety_net_rule(dev)
    machine = _machine_id(dev)
    mark_failed = t.alias_id(dev.resources, "render-mark-failed")
    mark_failed_function = t.function_id(dev.resources, "render-mark-failed")
    pattern = rule["EventPattern"]
    # Then it matches this machine's executions that ended FAILED, TIMED_OUT or ABORTED
    assert rule["State"] == "ENABLED"
    assert pattern["detail-type"] == [EXECUTION_EVENT]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": machine}]
    # And so the sample event (on this machine) matches, and a success or another machine does not
    sample = json.loads(
        (registry.REPO_ROOT / "events" / "renders" / "execution_status_change.json").read_text()
    )
    this_machine = {
        **pattern,
        "detail": {**pattern["detail"], "stateMachineArn": [sample["detail"]["stateMachineArn"]]},
    }
    assert _matches(this_machine, sample)
    assert not _matches(this_machine, {**sample, "detail": {**sample["detail"], "status": "SUCCEEDED"}})
    assert not _matches(pattern, sample)  # the sample's machine ARN is not this stack's
    # And its one target is render-mark-failed, given the whole event, with retries and a dead-letter queue
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
    assert permission["Action"] == "lambda:InvokeFunction"
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


# ------------------------------------------------------------------------------------------ job definition
def test_render_job_runs_the_worker_with_its_resources_timeout_and_exit_rules(dev, prod):
    for synth in (dev, prod):
        # Given the render job definition of each stage
        props = _job(synth)
        container = props["ContainerProperties"]
        # Then it is a Fargate job running the render worker with the job's parameters
        assert props["PlatformCapabilities"] == ["FARGATE"]
        assert container["Command"] == [
            "python", "-m", "keyframe.renders.worker",
            "--job-id", "Ref::renderJobId", "--studio-id", "Ref::studioId", "--attempt", "Ref::attempt",
        ]  # fmt: skip
        requirements = {r["Type"]: r["Value"] for r in container["ResourceRequirements"]}
        assert requirements == {"VCPU": "2", "MEMORY": "4096"}
        # And each try has 1 h, and there are 3 tries
        assert props["Timeout"] == {"AttemptDurationSeconds": 3600}
        assert props["RetryStrategy"]["Attempts"] == 3
        # And exit code 3 ends the job at once, before the catch-all retry
        rules = props["RetryStrategy"]["EvaluateOnExit"]
        assert rules == [
            {key[0].upper() + key[1:]: value for key, value in entry.items()}
            for entry in RENDER_JOB["evaluate_on_exit"]
        ]
        assert rules[0] == {"OnExitCode": "3", "Action": "EXIT"}
        assert rules[-1] == {"OnExitCode": "*", "Action": "RETRY"}


def test_each_render_try_is_stopped_at_its_presets_timeout(dev):
    # Given the deployed render definition and the job definition's own limit
    states = json.loads(_machine(dev)["DefinitionString"])["States"]
    run = states["RunRender"]
    # Then SubmitJob passes the preset's limit from the execution input (keyframe.renders.execution)
    assert run["Parameters"]["Timeout"] == {"AttemptDurationSeconds.$": "$.timeoutSeconds"}
    # And every preset's limit fits in the definition's, which is the longest of them
    assert max(PRESET_TIMEOUT_SECONDS.values()) == _job(dev)["Timeout"]["AttemptDurationSeconds"]
    # And the state waits for every try of the longest preset, and the machine for the state
    longest = max(PRESET_TIMEOUT_SECONDS.values()) * RENDER_JOB["retry_attempts"]
    assert longest <= run["TimeoutSeconds"] < json.loads(_machine(dev)["DefinitionString"])["TimeoutSeconds"]


def test_render_job_gets_exactly_the_variables_the_worker_reads(dev):
    # Given the render job's container environment
    env = {e["Name"]: e["Value"] for e in _job(dev)["ContainerProperties"]["Environment"]}
    tables = t.table_ids(dev.resources)
    (live_api,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Api")
    # Then it names the renders and live tables, the bucket, the @connections endpoint and its service
    assert set(env) == {*RENDER_WORKER_VARIABLES, "POWERTOOLS_SERVICE_NAME"}
    assert env[RENDERS.env_var] == {"Ref": tables[RENDERS.key]}
    assert env[LIVE.env_var] == {"Ref": tables[LIVE.key]}
    assert env["MEDIA_BUCKET"] == {"Ref": t.media_bucket_id(dev.resources)}
    assert live_api in t.references(env["LIVE_CONNECTIONS_ENDPOINT"])
    assert env["POWERTOOLS_SERVICE_NAME"] == "renders-worker"


def test_render_job_role_writes_only_render_outputs_and_reads_only_originals(dev):
    # Given the render job's role
    statements = _job_statements(dev)
    bucket = _bucket(dev)
    for statement in _s3_statements(statements):
        actions = set(t.actions_of(statement))
        # Then every S3 write is limited to studios/*/renders/* (a scene's assembly reads its frames back)
        if actions & S3_WRITE_ACTIONS:
            assert actions <= {"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject"}
            assert _resources(statement) == [f"{bucket}/{RENDERS_PREFIX}"], statement
        # And objects (and their versions: the lineage's VersionId) are read only from the originals
        elif actions & {"s3:GetObject", "s3:GetObjectVersion"}:
            assert actions == {"s3:GetObject", "s3:GetObjectVersion"}, statement
            assert _resources(statement) == [f"{bucket}/{ORIGINALS}"], statement
        # And listing is only of the render outputs' keys
        if "s3:ListBucket" in actions:
            assert statement["Condition"] == {"StringLike": {"s3:prefix": [RENDERS_PREFIX]}}
    assert {a for s in _s3_statements(statements) for a in t.actions_of(s)} >= {
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
    }


def test_render_job_role_updates_jobs_and_chunks_but_never_scans(dev):
    # Given the render job's role
    statements = _job_statements(dev)
    touched = _tables_touched(dev, statements)
    # Then it reaches the renders table (get and conditional updates of jobs; a scene render's chunk
    # items are queried, written in batches and replaced), the live table (events) and the catalog's
    # outbox (its events, stored before they are announced) only
    assert set(touched) == {RENDERS.key, LIVE.key, CATALOG.key}
    assert t.appends_only_to_the_outbox(dev.resources, statements)
    assert touched[RENDERS.key] == {
        "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:PutItem",
        "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
    }  # fmt: skip
    # And it may post events to sockets, not close them
    (manage,) = [s for s in statements if "execute-api:ManageConnections" in t.actions_of(s)]
    assert [r.rsplit(":", 1)[-1].split("/", 1)[1] for r in _resources(manage)] == ["dev/POST/@connections/*"]
    for statement in statements:
        assert not any(a.endswith(":*") or a == "dynamodb:Scan" for a in t.actions_of(statement))


# ------------------------------------------------------------------------------------------ functions
def test_renders_api_writes_only_render_outputs_and_appends_only_activity(dev):
    # Given the renders API's role
    statements = t.function_statements(dev.resources, "renders-api")
    bucket = _bucket(dev)
    # Then its S3 writes (playback playlists with their tag, cancel's deletions) stay under renders/
    for statement in _s3_statements(statements):
        actions = set(t.actions_of(statement))
        if actions & S3_WRITE_ACTIONS:
            assert _resources(statement) == [f"{bucket}/{RENDERS_PREFIX}"], statement
        if "s3:ListBucket" in actions:
            assert statement["Condition"] == {"StringLike": {"s3:prefix": [RENDERS_PREFIX]}}
    writes = {a for s in _s3_statements(statements) for a in t.actions_of(s)} & S3_WRITE_ACTIONS
    assert writes == {"s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"}
    # And it heads originals (the lineage's S3 VersionId) without writing them
    (originals,) = [s for s in _s3_statements(statements) if _resources(s) == [f"{bucket}/{ORIGINALS}"]]
    assert t.actions_of(originals) == ["s3:GetObject"]
    # And on the catalog it reads, and puts only into activity and outbox partitions
    catalog = t.table_ids(dev.resources)[CATALOG.key]
    for statement in statements:
        if catalog in t.references(statement["Resource"]) and "dynamodb:PutItem" in t.actions_of(statement):
            assert t.actions_of(statement) == ["dynamodb:PutItem"]
            assert statement["Condition"] in (
                {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [activity_pk("*")]}},
                {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [outbox_pk("*")]}},
            )
    # And it never deletes a render job
    assert "dynamodb:DeleteItem" not in _tables_touched(dev, statements)[RENDERS.key]
    # And it may terminate Batch jobs (cancel)
    assert any("batch:TerminateJob" in t.actions_of(s) for s in statements)


@pytest.mark.parametrize("name", TASK_FUNCTIONS)
def test_render_tasks_move_jobs_append_activity_and_emit_without_media_access(dev, name):
    # Given a render task function's role
    statements = t.function_statements(dev.resources, name)
    touched = _tables_touched(dev, statements)
    # Then it reads and updates render jobs (job + slot counter in one transaction) and nothing more there
    assert touched[RENDERS.key] == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    # And on the catalog it may only append activity entries
    assert touched[CATALOG.key] == {"dynamodb:PutItem"}
    assert set(touched) == {RENDERS.key, CATALOG.key, LIVE.key, TENANTS.key}
    # And it only reads members (the requester's membership and address, for the notification)
    assert touched[TENANTS.key] <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"}
    # And it never touches the media bucket
    assert not _s3_statements(statements)
    # And only mark-failed may terminate a (timed-out) Batch job
    terminates = [s for s in statements if "batch:TerminateJob" in t.actions_of(s)]
    assert bool(terminates) == (name == "render-mark-failed")
    for statement in terminates:
        assert _resources(statement)[0].endswith(":job/*")


# ------------------------------------------------------------------------------------------ bucket
def test_playback_playlists_expire_after_a_day(dev, prod):
    key, value = EPHEMERAL_TAG.split("=")
    for synth in (dev, prod):
        # Given the media bucket's lifecycle rules
        bucket = synth.resources[t.media_bucket_id(synth.resources)]["Properties"]
        rules = bucket["LifecycleConfiguration"]["Rules"]
        # Then one enabled rule expires objects tagged keyframe-ephemeral=playback (and their old versions)
        (rule,) = [r for r in rules if r.get("TagFilters")]
        assert rule["Status"] == "Enabled"
        assert rule["TagFilters"] == [{"Key": key, "Value": value}]
        assert rule["ExpirationInDays"] == 1
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
        assert "Prefix" not in rule


def test_players_may_read_renders_by_range_from_the_app_origin(dev):
    # Given the media bucket's CORS rules
    rules = dev.resources[t.media_bucket_id(dev.resources)]["Properties"]["CorsConfiguration"]["CorsRules"]
    # Then the first rule matching a GET from the app's origin (S3 uses the first match) allows HEAD
    # and the Range header, and exposes what hls.js and <video> need to seek
    origin = dev.config.cors_origins[0]
    get_rule = next(r for r in rules if "GET" in r["AllowedMethods"] and origin in r["AllowedOrigins"])
    assert "HEAD" in get_rule["AllowedMethods"]
    assert "*" in get_rule["AllowedHeaders"] or "Range" in get_rule["AllowedHeaders"]
    assert {"Content-Range", "Accept-Ranges", "Content-Length"} <= set(get_rule["ExposedHeaders"])
    # And uploads still read their parts' ETags
    put_rule = next(r for r in rules if "PUT" in r["AllowedMethods"])
    assert "ETag" in put_rule["ExposedHeaders"]


# ------------------------------------------------------------------------------------------ cdk-nag
@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_render_resources_have_no_unsuppressed_nag_finding(request, stage):
    # Given the AWS Solutions findings of the stack
    synth = request.getfixturevalue(stage)
    annotations = Annotations.from_stack(synth.stack)
    findings = [
        *annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")),
        *annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")),
    ]
    # Then none is on the render constructs, the render job or the render functions (their wildcards,
    # e.g. studios/*/renders/* and job/*, carry written suppressions)
    parts = (
        "/Renders/",
        "/Batch/RenderJob/",
        "/Functions/RendersApi/",
        "/Functions/RenderFinalize/",
        "/Functions/RenderMarkFailed/",
    )
    assert [f.entry.data for f in findings if any(part in f.id for part in parts)] == []
    # And the render resources exist at those paths (the filter above is not vacuous)
    paths = [c.node.path for c in synth.stack.node.find_all()]
    for part in parts:
        assert any(part in f"{path}/" for path in paths), part
