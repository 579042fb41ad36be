"""cdk-nag's AWS Solutions checks pass (with written reasons) and the stack is monitored."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import NestedStack
from aws_cdk.assertions import Annotations, Match

from keyframe import registry
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_unsuppressed_aws_solutions_finding(request, stage):
    # Given a stack synthesized with the AWS Solutions checks
    synth = request.getfixturevalue(stage)
    # When its annotations are read
    annotations = Annotations.from_stack(synth.stack)
    errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    # Then no rule reports an error or warning
    assert [e.entry.data for e in errors] == []
    assert [w.entry.data for w in warnings] == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_nag_report_has_no_non_compliant_rule_and_every_suppression_says_why(request, stage):
    # Given the CSV reports cdk-nag wrote beside the templates: the main one and one per nested stack
    # (the REST route stacks' methods carry their suppressions into their own templates)
    synth = request.getfixturevalue(stage)
    (report,) = synth.outdir.glob(f"AwsSolutions-*{synth.stack.stack_name}-NagReport.csv")
    nested = sorted(
        synth.outdir.glob(f"AwsSolutions-*{synth.stack.stack_name.replace('-', '')}*-NagReport.csv")
    )
    assert len(nested) == sum(1 for c in synth.stack.node.find_all() if NestedStack.is_nested_stack(c))
    for path in [report, *nested]:
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        # Then every rule is compliant or suppressed, each suppression with a written reason
        assert rows, path.name
        assert {row["Compliance"] for row in rows} <= {"Compliant", "Suppressed"}, path.name
        for row in rows:
            if row["Compliance"] == "Suppressed":
                assert len(row["Exception Reason"]) > 40, row


def test_alarms_watch_api_5xx_and_every_function_and_notify_the_topic(dev):
    # Given the alarms and the alarm topic
    alarms = [a["Properties"] for a in t.of_type(dev.resources, "AWS::CloudWatch::Alarm").values()]
    (topic,) = t.of_type(dev.resources, "AWS::SNS::Topic")
    # Then the REST API's 5XX count is watched
    assert any(a.get("MetricName") == "5XXError" and a["Namespace"] == "AWS/ApiGateway" for a in alarms)
    # And each function's errors are watched, by an alarm of its own or one of a group (metric math)
    metrics = [a for a in alarms if a.get("MetricName") == "Errors"] + [
        m["MetricStat"]["Metric"]
        for a in alarms
        for m in a.get("Metrics", [])
        if "MetricStat" in m and m["MetricStat"]["Metric"]["MetricName"] == "Errors"
    ]
    watched = {
        t.references(d["Value"]).pop()
        for m in metrics
        for d in m["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    specs = (*registry.FUNCTIONS, registry.SECRET_ROTATION)
    assert watched == {t.function_id(dev.resources, spec.name) for spec in specs}
    # And every alarm notifies the topic, which is encrypted
    assert all(t.references(a["AlarmActions"]) == {topic} for a in alarms)
    assert "KmsMasterKeyId" in dev.resources[topic]["Properties"]


def test_dashboard_exists(dev):
    # Given the dashboards of the stack
    (dashboard,) = t.of_type(dev.resources, "AWS::CloudWatch::Dashboard").values()
    # Then it is named after the stack so each developer finds their own
    assert dashboard["Properties"]["DashboardName"] == f"{dev.config.stack_name}-operations"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_template_has_no_dependency_cycle(request, stage):
    # Given every reference between the stack's resources (CDK does not check these; CloudFormation
    # would refuse the stack at deploy time)
    synth = request.getfixturevalue(stage)
    # Then they form no cycle
    assert t.find_cycle(t.dependencies(synth.resources)) is None


def test_cycle_detection_finds_a_cycle():
    # Given two resources that need each other
    resources = {
        "A": {"Type": "X", "Properties": {"P": {"Ref": "B"}}},
        "B": {"Type": "X", "Properties": {"P": {"Fn::Sub": "arn:${A.Arn}"}}},
    }
    # Then the cycle is reported
    assert t.find_cycle(t.dependencies(resources)) == ["A", "B", "A"]


CFN_LINT_IGNORED = {
    "W3005": "CDK itself adds DependsOn on a function's role and policy beside the GetAtt that already "
    "orders them (a redundant edge, not a defect of this app)",
}


def test_cfn_lint_finds_nothing_in_any_synthesized_template(synthesis):
    # Given both templates the shared synth wrote (cfn-lint pinned in the dev extra)
    templates = [
        Path(s.outdir) / f"{s.stack.stack_name}.template.json" for s in (synthesis.dev, synthesis.prod)
    ]
    assert all(template.is_file() for template in templates)
    # And every nested stack's template (monitoring, Batch, outbox, the REST route stacks)
    nested = sorted(Path(synthesis.dev.outdir).glob("*.nested.template.json"))
    assert len(nested) >= 2 * len(synthesis.prod.stack.rest_api.route_stacks)
    templates += nested
    # When cfn-lint reads them (one run for all)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfnlint",
            "--format",
            "json",
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    findings = json.loads(run.stdout or "[]")
    # Then it reports no error, warning or informational finding
    assert [(f["Rule"]["Id"], f["Location"]["Path"], f["Message"]) for f in findings] == [], run.stderr
