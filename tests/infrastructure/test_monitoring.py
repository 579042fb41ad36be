"""Alarms that page on what breaks, each naming its runbook line, and the dashboard rows to read them."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Template

from infra.batch import NAT_GATEWAYS
from infra.monitoring import (
    BATCH_BACKLOG_METRIC,
    BATCH_BACKLOG_NAMESPACE,
    BATCH_BACKLOG_SECONDS,
    LATENCY_P99_MS,
    RUNBOOK,
)
from keyframe import registry
from keyframe.registry import REPO_ROOT
from keyframe.storage.tables import TABLES
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

RUNBOOK_KEY = re.compile(r"Runbook: README\.md#runbook ([a-z0-9-]+)$")


def _alarms(synth) -> dict[str, dict]:
    return {
        lid: res["Properties"] for lid, res in t.of_type(synth.resources, "AWS::CloudWatch::Alarm").items()
    }


def _metric_alarms(synth, metric: str) -> list[dict]:
    return [a for a in _alarms(synth).values() if a.get("MetricName") == metric]


def _runbook_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    return readme.split("\n## Runbook\n", 1)[1].split("\n## ", 1)[0]


def _expression_metrics(alarm: dict) -> list[dict]:
    return [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_alarm_names_a_runbook_line_that_the_readme_has(request, stage):
    synth = request.getfixturevalue(stage)
    section = _runbook_section()
    # Given every runbook key: the README's Runbook section has a line for it
    for key in RUNBOOK:
        assert f"\n- `{key}`: " in "\n" + section, key
    # And every alarm, metric or composite, ends its description with one of those keys
    composite = t.of_type(synth.resources, "AWS::CloudWatch::CompositeAlarm")
    descriptions = [a["AlarmDescription"] for a in _alarms(synth).values()]
    # (the outbox consumer's and analytics' alarms live in their nested stacks: infra/outbox.py,
    # infra/analytics.py)
    for nested in (synth.stack.outbox, synth.stack.analytics):
        alarms = t.of_type(Template.from_stack(nested).to_json()["Resources"], "AWS::CloudWatch::Alarm")
        descriptions += [a["Properties"]["AlarmDescription"] for a in alarms.values()]
    descriptions += [c["Properties"]["AlarmDescription"] for c in composite.values()]
    used = set()
    for description in descriptions:
        match = RUNBOOK_KEY.search(description)
        assert match and match.group(1) in RUNBOOK, description
        used.add(match.group(1))
    # And every key is used by some alarm (no stale README line)
    assert used == set(RUNBOOK)


def test_every_function_alarms_on_throttles_and_every_api_function_on_p99_duration(dev):
    # Given the Lambda throttle and duration alarms
    throttle_alarms = [
        a
        for a in _alarms(dev).values()
        if any(m["MetricName"] == "Throttles" for m in _expression_metrics(a))
    ]
    throttled = {t.references(m["Dimensions"]).pop() for a in throttle_alarms for m in _expression_metrics(a)}
    # (one alarm per ten functions, each on the largest of its functions' counts)
    assert all(
        any(m.get("Expression", "").startswith("MAX([") for m in a["Metrics"]) for a in throttle_alarms
    )
    assert len(throttle_alarms) == -(-len(registry.FUNCTIONS) // 10)
    # And every function is watched for errors: alone, or in a group of at most ten on their largest count
    alone = {t.references(a["Dimensions"]).pop() for a in _metric_alarms(dev, "Errors") if "Dimensions" in a}
    grouped = {
        t.references(m["Dimensions"]).pop()
        for a in _alarms(dev).values()
        for m in _expression_metrics(a)
        if m["MetricName"] == "Errors" and m["Namespace"] == "AWS/Lambda"
    }
    # (the signing secret's rotation function too: infra/secret_rotation.py)
    watched = (*registry.FUNCTIONS, registry.SECRET_ROTATION)
    assert alone | grouped == {t.function_id(dev.resources, spec.name) for spec in watched}
    slow = {t.references(a["Dimensions"]).pop(): a for a in _metric_alarms(dev, "Duration")}
    # Then every function is watched for throttles
    assert throttled == {t.function_id(dev.resources, spec.name) for spec in registry.FUNCTIONS}
    # And every API function for its p99 duration, over 1-minute periods, 3 of 5 breaching
    api = {t.function_id(dev.resources, spec.name) for spec in registry.FUNCTIONS if spec.kind == "api"}
    assert set(slow) == api
    for alarm in slow.values():
        assert alarm["ExtendedStatistic"] == "p99"
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, 5, 3)
        assert alarm["Threshold"] == LATENCY_P99_MS


def test_rest_api_p99_latency_alarms_outside_its_anomaly_band(dev):
    # Given the alarms comparing with an anomaly-detection band
    (alarm,) = [a for a in _alarms(dev).values() if "ThresholdMetricId" in a]
    # Then the band is learned from the REST API's p99 latency, and only the upper side alarms
    band = next(m for m in alarm["Metrics"] if m["Id"] == alarm["ThresholdMetricId"])
    assert band["Expression"].startswith("ANOMALY_DETECTION_BAND(")
    (metric,) = [m for m in alarm["Metrics"] if "MetricStat" in m]
    assert metric["MetricStat"]["Metric"]["MetricName"] == "Latency"
    assert metric["MetricStat"]["Metric"]["Namespace"] == "AWS/ApiGateway"
    assert metric["MetricStat"]["Stat"] == "p99"
    assert alarm["ComparisonOperator"] == "GreaterThanUpperThreshold"


def test_every_table_alarms_on_throttled_requests_and_system_errors(dev):
    tables = set(t.table_ids(dev.resources).values())
    for metric in ("ThrottledRequests", "SystemErrors"):
        # Given the alarms summing one metric over the table's operations
        watched = set()
        for alarm in _alarms(dev).values():
            metrics = [m for m in _expression_metrics(alarm) if m["MetricName"] == metric]
            if not metrics:
                continue
            # Then each sums at most 10 operations of one table (CloudWatch's limit per alarm)
            assert len(metrics) <= 10
            (table,) = {
                t.references(d["Value"]).pop()
                for m in metrics
                for d in m["Dimensions"]
                if d["Name"] == "TableName"
            }
            assert {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Operation"} >= {
                "GetItem", "PutItem", "UpdateItem", "Query", "TransactWriteItems"
            }  # fmt: skip
            watched.add(table)
        # And every table is watched
        assert watched == tables == {t.table_ids(dev.resources)[spec.key] for spec in TABLES}


def test_websocket_integration_and_execution_errors_alarm(dev):
    (live_api,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Api")
    for metric in ("IntegrationError", "ExecutionError"):
        # Given the alarm on the WebSocket stage's errors
        (alarm,) = _metric_alarms(dev, metric)
        # Then it watches the live API's stage
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions["ApiId"] == {"Ref": live_api}
        assert dimensions["Stage"] == "dev"


def test_each_batch_queue_alarms_when_a_job_waits_runnable_too_long(dev):
    # Given the job queues, and the alarms on the backlog metric
    queues = set(t.of_type(dev.resources, "AWS::Batch::JobQueue"))
    alarms = _metric_alarms(dev, BATCH_BACKLOG_METRIC)
    # Then each queue has one, on its oldest RUNNABLE job's age
    assert [a["Dimensions"][0]["Name"] for a in alarms] == ["JobQueue"] * len(queues)
    assert {t.references(a["Dimensions"]).pop() for a in alarms} == queues
    for alarm in alarms:
        assert alarm["Namespace"] == BATCH_BACKLOG_NAMESPACE
        assert (alarm["Statistic"], alarm["Threshold"]) == ("Maximum", BATCH_BACKLOG_SECONDS)
    # And a function measures it every minute, allowed to list jobs and to put only that namespace
    (rule,) = [
        r["Properties"]
        for r in t.of_type(dev.resources, "AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression") == "rate(1 minute)"
    ]
    (target,) = rule["Targets"]
    function = t.references(target["Arn"]).pop()
    env = dev.resources[function]["Properties"]["Environment"]["Variables"]
    assert env["METRIC_NAMESPACE"] == BATCH_BACKLOG_NAMESPACE
    statements = t.role_statements(dev.resources, t.role_id(dev.resources, function))
    actions = {a for s in statements for a in t.actions_of(s)}
    assert {"batch:ListJobs", "cloudwatch:PutMetricData"} <= actions
    assert not {a for a in actions if a.startswith(("dynamodb:", "s3:", "batch:Submit", "batch:Terminate"))}
    (put,) = [s for s in statements if "cloudwatch:PutMetricData" in t.actions_of(s)]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": BATCH_BACKLOG_NAMESPACE}}


def test_each_nat_gateway_alarms_on_port_allocation_errors(dev, prod):
    for synth in (dev, prod):
        nats = set(t.of_type(synth.resources, "AWS::EC2::NatGateway"))
        alarms = _metric_alarms(synth, "ErrorPortAllocation")
        assert {t.references(a["Dimensions"]).pop() for a in alarms} == nats
        assert len(nats) == NAT_GATEWAYS[synth.config.stage]


def test_dead_letters_alarm_when_they_arrive_and_again_when_they_wait(dev):
    queues = set(t.of_type(dev.resources, "AWS::SQS::Queue"))
    for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
        watched = {t.references(a["Dimensions"]).pop() for a in _metric_alarms(dev, metric)}
        assert watched and watched <= queues
    assert {
        t.references(a["Dimensions"]).pop() for a in _metric_alarms(dev, "ApproximateAgeOfOldestMessage")
    } == {
        t.references(a["Dimensions"]).pop() for a in _metric_alarms(dev, "ApproximateNumberOfMessagesVisible")
    }


def test_studio_facing_outage_is_a_composite_of_the_request_path_that_pages(dev):
    # Given the one composite alarm and the alarm topic
    (composite,) = t.of_type(dev.resources, "AWS::CloudWatch::CompositeAlarm").values()
    props = composite["Properties"]
    (topic,) = t.of_type(dev.resources, "AWS::SNS::Topic")
    children = t.references(props["AlarmRule"]) | _sub_ids(props["AlarmRule"])
    alarms = _alarms(dev)
    # Then it is ANY of: REST 5XX, identity's errors, WebSocket errors, table errors
    child_metrics = {alarms[c].get("MetricName") for c in children if c in alarms}
    assert {"5XXError", "Errors", "IntegrationError", "ExecutionError"} <= child_metrics
    functions = {
        t.references(alarms[c]["Dimensions"]).pop()
        for c in children
        if alarms[c].get("MetricName") == "Errors"
    }
    assert functions == {t.function_id(dev.resources, "identity-api")}
    assert any(_expression_metrics(alarms[c]) for c in children if c in alarms)
    # And it notifies the topic
    assert t.references(props["AlarmActions"]) == {topic}


def _sub_ids(value) -> set[str]:
    text = json.dumps(value)
    return set(re.findall(r"\$\{([A-Za-z0-9]+)\.Arn\}", text)) | set(
        re.findall(r'"Fn::GetAtt": \["([A-Za-z0-9]+)", "Arn"\]', text)
    )


def test_dashboard_has_dynamodb_batch_and_websocket_rows(dev):
    (dashboard,) = t.of_type(dev.resources, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("DynamoDB throttled requests", "DynamoDB system errors", "Batch: oldest RUNNABLE job",
                  "WebSocket connections and messages", "WebSocket errors", "Alarms"):  # fmt: skip
        assert title in body, title
