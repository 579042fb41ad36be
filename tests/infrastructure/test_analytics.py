"""Analytics in the cloud: Firehose to S3 partitioned by studio and date, a Glue table over it, and
only the three recording functions may put records (their least-privilege grant)."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.analytics import COLUMNS, PARTITION_QUERY
from tests.infrastructure import templates as t

pytestmark = pytest.mark.infra


def _nested(synth) -> dict[str, Any]:
    return Template.from_stack(synth.stack.analytics).to_json()["Resources"]


def _one(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = t.of_type(resources, kind).values()
    return found["Properties"]


def test_firehose_files_records_by_studio_and_date_read_from_each_record(dev):
    # Given the analytics nested stack
    resources = _nested(dev)
    stream = _one(resources, "AWS::KinesisFirehose::DeliveryStream")
    destination = stream["ExtendedS3DestinationConfiguration"]
    # Then the stream has the name the functions are told, and is encrypted at rest
    assert stream["DeliveryStreamName"] == "keyframe-dev-test-analytics"
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    # And records land under events/studio=<studio>/date=<yyyy-mm-dd>/, read from the record by JQ
    assert destination["Prefix"] == (
        "events/studio=!{partitionKeyFromQuery:studio}/date=!{partitionKeyFromQuery:date}/"
    )
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert parameters == {"MetadataExtractionQuery": PARTITION_QUERY, "JsonParsingEngine": "JQ-1.6"}
    assert destination["ErrorOutputPrefix"].startswith("errors/")
    assert destination["CompressionFormat"] == "GZIP"
    # And into this stack's bucket, which is private and TLS-only
    [bucket] = t.references(destination["BucketARN"])
    assert resources[bucket]["Type"] == "AWS::S3::Bucket"
    assert resources[bucket]["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    policies = [p["Properties"] for p in t.of_type(resources, "AWS::S3::BucketPolicy").values()]
    assert any("aws:SecureTransport" in json.dumps(p) for p in policies)


def test_firehose_may_write_only_the_bucket_s_two_prefixes(dev):
    resources = _nested(dev)
    statements = [
        s
        for p in t.of_type(resources, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    writes = [s for s in statements if "s3:PutObject" in t.actions_of(s)]
    (write,) = writes
    resources_json = json.dumps(write["Resource"])
    assert "/events/*" in resources_json and "/errors/*" in resources_json
    assert all(not a.endswith("*") for s in statements for a in t.actions_of(s))


def test_athena_reads_the_records_through_a_glue_table_with_partition_projection(dev):
    resources = _nested(dev)
    database = _one(resources, "AWS::Glue::Database")
    table = _one(resources, "AWS::Glue::Table")["TableInput"]
    assert database["DatabaseInput"]["Name"] == "keyframe_dev_test_analytics"
    assert table["Name"] == "events"
    # The analyst's partitions: the studio (named in each query) and the day of occurrence
    assert [k["Name"] for k in table["PartitionKeys"]] == ["studio", "day"]
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.studio.type"] == "injected"
    assert parameters["projection.day.type"] == "date"
    assert (
        parameters["storage.location.template"]["Fn::Join"][1][-1] == "/events/studio=${studio}/date=${day}/"
    )
    # And the columns are the record's keys, read by the JSON SerDe
    storage = table["StorageDescriptor"]
    assert [c["Name"] for c in storage["Columns"]] == [name for name, _, _ in COLUMNS]
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"


def test_only_the_recording_functions_may_put_records_and_are_told_the_stream(dev):
    # Given every function's policy statements (main stack and the outbox's nested stack)
    outbox = Template.from_stack(dev.stack.outbox).to_json()["Resources"]
    granted = set()
    for resources in (dev.resources, outbox):
        for fid, function in t.of_type(resources, "AWS::Lambda::Function").items():
            role = t.role_id(resources, fid)
            if any("firehose:PutRecordBatch" in t.actions_of(s) for s in t.role_statements(resources, role)):
                granted.add(fid)
                env = function["Properties"]["Environment"]["Variables"]
                assert env["ANALYTICS_STREAM_NAME"] == "keyframe-dev-test-analytics"
    # Then exactly reviews-api (client events), identity-api (sign-ins) and outbox-stream (server events)
    assert granted == {
        t.function_id(dev.resources, "reviews-api"),
        t.function_id(dev.resources, "identity-api"),
        t.function_id(outbox, "outbox-stream"),
    }


def test_records_that_stop_reaching_s3_page_with_a_runbook_line(dev):
    alarms = [a["Properties"] for a in t.of_type(_nested(dev), "AWS::CloudWatch::Alarm").values()]
    (alarm,) = alarms
    assert alarm["MetricName"] == "DeliveryToS3.DataFreshness" and alarm["Threshold"] == 900
    assert alarm["AlarmDescription"].endswith("Runbook: README.md#runbook analytics-delivery")
    assert alarm["AlarmActions"] and alarm["OKActions"]


def test_the_nested_stack_is_nag_clean_and_small(dev, prod):
    for synth in (dev, prod):
        # Given the nag report cdk-nag wrote for the analytics nested stack
        reports = sorted(synth.outdir.glob("AwsSolutions-*Analytics*-NagReport.csv"))
        assert reports, sorted(p.name for p in synth.outdir.glob("*NagReport.csv"))
        with reports[0].open() as handle:
            rows = list(csv.DictReader(handle))
        # Then every rule is compliant or suppressed with a written reason
        assert rows and {row["Compliance"] for row in rows} <= {"Compliant", "Suppressed"}, rows
        assert all(len(r["Exception Reason"]) > 40 for r in rows if r["Compliance"] == "Suppressed")
        # And the nested stack is small; the main stack stays within CloudFormation's 500 resources
        assert len(Template.from_stack(synth.stack.analytics).to_json()["Resources"]) <= 20
        assert len(synth.template.to_json()["Resources"]) <= 500


def test_the_glue_columns_are_every_key_of_a_record_so_analysts_see_all_of_it() -> None:
    # Given a client record and a server record as the sink writes them
    from datetime import UTC, datetime

    from keyframe.analytics import records
    from keyframe.analytics.schemas import ClientEvent, ClientEventType
    from keyframe.outbox.records import DomainEvent

    event = ClientEvent(type=ClientEventType.ASSET_VIEWED, occurred_at=datetime.now(UTC), asset_id="a")
    client = records.from_client("s", "u", event)
    server = records.from_domain_event(DomainEvent.new("s", "upload:completed", {"size": 1}))
    assert server is not None
    # Then the table has a column for each key (lowercased: the SerDe matches case-insensitively),
    # except the studio, which is the partition the files are under
    for record in (client, server):
        keys = {key.lower() for key in record} - {"studio"}
        assert keys == {name for name, _, _ in COLUMNS}
