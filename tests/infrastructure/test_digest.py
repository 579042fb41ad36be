"""The daily notification digest in the cloud: a daily EventBridge rule invokes the digest function,
which may touch only the digest partitions, read users and studios by key and send as no-reply@."""

from __future__ import annotations

import csv
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.digest import MAX_EVENT_AGE, RETRY_ATTEMPTS
from keyframe import registry
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

NAME = registry.DIGEST.name


def _nested(synth) -> dict[str, Any]:
    return Template.from_stack(synth.stack.digest).to_json()["Resources"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_rule_invokes_the_digest_function_every_hour_and_retries_a_failure(request, stage):
    # Given the digest's nested stack
    resources = _nested(request.getfixturevalue(stage))
    (rule_id, rule) = next(iter(t.of_type(resources, "AWS::Events::Rule").items()))
    props = rule["Properties"]
    # Then its rule fires every hour on the hour (a member's digest is due at a local hour)
    assert props["ScheduleExpression"] == "cron(0 * * * ? *)"
    assert props["State"] == "ENABLED"
    # And invokes the function's live alias with {} (every unsent day), retrying a failed invocation
    (target,) = props["Targets"]
    alias = t.alias_id(resources, NAME)
    assert t.references(target["Arn"]) == {alias}
    assert target["Input"] == "{}"
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": MAX_EVENT_AGE.to_seconds(),
    }
    # And only this rule may invoke the alias
    (permission,) = [
        p["Properties"]
        for p in t.of_type(resources, "AWS::Lambda::Permission").values()
        if alias in t.references(p["Properties"]["FunctionName"])
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert t.references(permission["SourceArn"]) == {rule_id}


def test_the_digest_function_touches_only_the_digest_partitions_and_sends_as_no_reply(dev):
    # Given the statements of the digest function's role
    resources = _nested(dev)
    statements = t.function_statements(resources, NAME)
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    actions = {a for s in allowed for a in t.actions_of(s)}
    # Then it never scans, never writes the tenants table and holds no wildcard action
    assert not any(a.endswith("*") or a == "dynamodb:Scan" for a in actions)
    # And its live-table access is limited to DIGEST#… partitions (queue and sent markers)
    (live,) = [s for s in allowed if "dynamodb:BatchWriteItem" in t.actions_of(s)]
    assert sorted(t.actions_of(live)) == [
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
    ]
    assert live["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["DIGEST#*"]}}
    # And it reads users and studios by key only (no index), and mails only from no-reply@<domain>
    (tenants,) = [s for s in allowed if t.actions_of(s) == ["dynamodb:GetItem"]]
    assert "index" not in str(tenants["Resource"])
    (ses,) = [s for s in allowed if "ses:SendEmail" in t.actions_of(s)]
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": f"no-reply@{dev.config.mail_domain}"}}
    assert {"secretsmanager:GetSecretValue"} <= actions


def test_a_failed_digest_run_pages_with_its_runbook_line(dev):
    # Given the alarms of the digest's nested stack
    resources = _nested(dev)
    function = t.function_id(resources, NAME)
    (alarm,) = [a["Properties"] for a in t.of_type(resources, "AWS::CloudWatch::Alarm").values()]
    # Then one watches the function's failed invocations and notifies the monitoring topic
    assert alarm["MetricName"] == "Errors" and alarm["Threshold"] == 1
    assert {function} == {r for d in alarm["Dimensions"] for r in t.references(d["Value"])}
    assert alarm["AlarmDescription"].endswith("Runbook: README.md#runbook function-errors")
    assert alarm["AlarmActions"] and alarm["OKActions"]


def test_the_digest_stack_is_nag_clean_and_small(dev, prod):
    for synth in (dev, prod):
        # Given the nag report of the digest's nested stack
        reports = sorted(synth.outdir.glob("AwsSolutions-*Digest*-NagReport.csv"))
        assert reports, sorted(p.name for p in synth.outdir.glob("*NagReport.csv"))
        with reports[0].open() as handle:
            rows = list(csv.DictReader(handle))
        # Then every rule is compliant or suppressed with a written reason
        assert rows and {row["Compliance"] for row in rows} <= {"Compliant", "Suppressed"}, rows
        assert all(len(r["Exception Reason"]) > 40 for r in rows if r["Compliance"] == "Suppressed")
        # And it adds a handful of resources outside the main stack (which stays within 500)
        assert len(_nested(synth)) <= 12
        assert len(synth.template.to_json()["Resources"]) <= 500
