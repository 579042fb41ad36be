"""The outbox's consumer in the cloud: the catalog stream -> outbox-stream, with its delivery rules."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infrastructure import templates as t

pytestmark = pytest.mark.infra


def _nested(synth) -> dict[str, Any]:
    return Template.from_stack(synth.stack.outbox).to_json()["Resources"]


def test_the_stream_feeds_the_consumer_with_batch_item_failures_bisect_and_a_dead_letter_queue(dev):
    # Given the outbox's nested stack
    resources = _nested(dev)
    (mapping,) = [
        m
        for m in t.of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" in m["Properties"]  # the stream's, not the webhook queue's
    ]
    props = mapping["Properties"]
    # Then failed records are reported one by one, a failing batch is split, retries last 24 h
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRecordAgeInSeconds"] == 24 * 3600
    assert props["ParallelizationFactor"] == 1
    assert props["StartingPosition"] == "TRIM_HORIZON"
    # And records given up are described in an SQS queue of this stack
    [queue] = t.references(props["DestinationConfig"])
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    # And only outbox INSERTs wake the function
    (pattern,) = props["FilterCriteria"]["Filters"]
    assert '"eventName":["INSERT"]' in pattern["Pattern"]
    assert '"recordType":{"S":["event"]}' in pattern["Pattern"]


def test_the_consumer_alarms_on_errors_throttles_lag_and_dead_letters(dev):
    alarms = [a["Properties"] for a in t.of_type(_nested(dev), "AWS::CloudWatch::Alarm").values()]
    metrics = {a["MetricName"] for a in alarms}
    assert {"Errors", "Throttles", "IteratorAge", "ApproximateNumberOfMessagesVisible"} <= metrics
    assert all("Runbook: README.md#runbook " in a["AlarmDescription"] for a in alarms)
    assert all(a["AlarmActions"] for a in alarms)


def test_the_main_stack_stays_within_cloudformations_limit(dev, prod):
    # synth.resources inlines the monitoring and Batch nested stacks; CloudFormation counts each alone
    for synth in (dev, prod):
        assert len(synth.template.to_json()["Resources"]) <= 500
        for nested in (synth.stack.monitoring_stack, synth.stack.batch_stack, synth.stack.outbox):
            assert len(Template.from_stack(nested).to_json()["Resources"]) <= 500


def test_webhook_deliveries_come_from_an_encrypted_queue_with_a_dead_letter_queue(dev):
    resources = _nested(dev)
    queues = t.of_type(resources, "AWS::SQS::Queue")
    deliveries = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    [queue] = deliveries
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    sqs_mappings = [
        m["Properties"]
        for m in t.of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" not in m["Properties"]
    ]
    assert [m["FunctionResponseTypes"] for m in sqs_mappings] == [["ReportBatchItemFailures"]]
    assert [m["BatchSize"] for m in sqs_mappings] == [10]
