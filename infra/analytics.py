"""Analytics in the cloud: Kinesis Data Firehose -> S3 (partitioned by studio and date) -> Glue -> Athena.

``keyframe.analytics.sink`` puts each record (one JSON object and a newline) to the delivery stream
``<name>-analytics`` (``ANALYTICS_STREAM_NAME``; the functions allowed to are listed in
``infra/grants.py``: ``reviews-api`` for client events, ``identity-api`` for sign-ins,
``outbox-stream`` for server events). The stream:

- reads each record's ``studio`` and ``occurredAt`` with an inline JQ query (dynamic partitioning)
  and writes GZIP objects under ``events/studio=<studio>/date=<yyyy-mm-dd>/`` of the analytics bucket,
  buffering up to 64 MB or 5 minutes (dynamic partitioning's smallest buffer is 64 MB);
- writes records it cannot partition (not JSON, a key missing) under ``errors/``, and logs delivery
  errors to its own log group;
- is encrypted at rest with an AWS-owned key; the bucket is private, TLS-only, SSE-S3.

The Glue database ``<name with _>_analytics`` holds the table ``events`` over ``events/`` (OpenX JSON
SerDe, camelCase keys read case-insensitively) with partition projection: ``studio`` is injected (a
query names the studio: ``WHERE studio = '…'``, which is also the tenancy an analyst works in) and
``day`` is a date (``'2026-12-05'``) read from the ``date=`` folder, so no crawler or
``MSCK REPAIR`` is needed. ``properties`` is ``map<string,string>``: cast numbers
(``CAST(properties['bytes'] AS bigint)``). Records are at least once: deduplicate by ``id``.

A nested stack: the main stack is near CloudFormation's 500-resource limit.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, NestedStack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from infra.monitoring import PERIOD, Monitoring
from infra.storage import secure_bucket

EVENTS_PREFIX = "events/"
"""Where the records are, under ``studio=<id>/date=<yyyy-mm-dd>/``."""
ERRORS_PREFIX = "errors/"
"""Records Firehose could not partition, by error kind and day."""
BUFFER_MB = 64
"""Dynamic partitioning's smallest buffer size."""
BUFFER_SECONDS = 300
"""Records reach S3 at most this long after they were put (or when 64 MB of a partition are in)."""
PARTITION_QUERY = "{studio: .studio, date: .occurredAt[0:10]}"
"""The JQ query that reads each record's partition keys (``occurredAt`` is UTC ISO-8601, ``…Z``)."""
FRESHNESS_ALARM_SECONDS = 15 * 60
"""The age of the oldest record not yet in S3 that alarms (three buffers' worth of waiting)."""
PROJECTION_START = "2026-01-01"
"""The first day partition projection considers."""
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "string", "the event id (evt_… of a domain event, the client's, or anl_…): deduplicate by it"),
    ("type", "string", "playback.started … (client) or upload:completed … (server)"),
    ("source", "string", "client or server"),
    (
        "userid",
        "string",
        "the member (from the token; the uploader, requester or reviewer of a server event)",
    ),
    ("occurredat", "string", "when it happened, UTC ISO-8601 (from_iso8601_timestamp to compare)"),
    ("receivedat", "string", "when the backend recorded it, UTC ISO-8601"),
    ("sessionid", "string", "the client's playback or page session"),
    ("projectid", "string", "a project id"),
    ("assetid", "string", "an asset id"),
    ("version", "int", "the asset's version number"),
    ("renderjobid", "string", "a render job id"),
    ("positionseconds", "double", "playback position, seconds"),
    ("properties", "map<string,string>", "bytes, vcpuSeconds, decision, … (cast numbers)"),
)
"""The Glue table's columns: the record's keys lowercased (the SerDe matches them case-insensitively)."""


def stream_name(name: str) -> str:
    """The delivery stream of stage ``name`` (``keyframe-dev`` -> ``keyframe-dev-analytics``)."""
    return f"{name}-analytics"


def database_name(name: str) -> str:
    """The Glue database of stage ``name`` (``keyframe-dev`` -> ``keyframe_dev_analytics``)."""
    return f"{name.replace('-', '_')}_analytics"


class Analytics(NestedStack):
    """The analytics bucket, the Firehose delivery stream into it, and the Glue table over it.

    Attributes
    ----------
    bucket:
        Where the records are (``events/studio=…/date=…/``).
    delivery_stream:
        The Firehose delivery stream (``<name>-analytics``).
    database / table:
        The Glue database and its ``events`` table.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, monitoring: Monitoring
    ) -> None:
        super().__init__(
            scope, construct_id, description=f"Keyframe analytics: Firehose, S3, Glue ({config.name})"
        )
        self.bucket = secure_bucket(
            self,
            "Bucket",
            config=config,
            auto_delete_objects=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
                s3.LifecycleRule(id="errors-expire", prefix=ERRORS_PREFIX, expiration=Duration.days(30)),
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.bucket,
            [
                NagPackSuppression(
                    id="AwsSolutions-S1",
                    reason="Only the Firehose role writes here and analysts read through Athena with their "
                    "own IAM roles (CloudTrail records both); server access logs of an append-only log of "
                    "events would only double it.",
                )
            ],
        )
        log_group = logs.LogGroup(
            self, "DeliveryLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        log_stream = logs.LogStream(
            self, "DeliveryLogStream", log_group=log_group, removal_policy=config.removal_policy
        )
        role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}}
            ),
            description="Firehose writes analytics records to the analytics bucket",
        )
        policy = iam.Policy(
            self,
            "DeliveryPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    resources=[self.bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    resources=[
                        self.bucket.arn_for_objects(f"{EVENTS_PREFIX}*"),
                        self.bucket.arn_for_objects(f"{ERRORS_PREFIX}*"),
                    ],
                ),
                iam.PolicyStatement(actions=["logs:PutLogEvents"], resources=[log_group.log_group_arn]),
            ],
        )
        NagSuppressions.add_resource_suppressions(
            policy,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Firehose names each object itself (a timestamped key under the events/ or "
                    "errors/ prefix of the partition it builds), so the grant is on those prefixes only.",
                )
            ],
        )
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=stream_name(config.name),
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=f"{EVENTS_PREFIX}studio=!{{partitionKeyFromQuery:studio}}/date=!{{partitionKeyFromQuery:date}}/",
                error_output_prefix=f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/date=!{{timestamp:yyyy-MM-dd}}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    size_in_m_bs=BUFFER_MB, interval_in_seconds=BUFFER_SECONDS
                ),
                compression_format="GZIP",
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(duration_in_seconds=300),
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="MetadataExtractionQuery", parameter_value=PARTITION_QUERY
                                ),
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="JsonParsingEngine", parameter_value="JQ-1.6"
                                ),
                            ],
                        )
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        self.delivery_stream.node.add_dependency(policy)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=database_name(config.name),
                description="Keyframe analytics events (client and server), one table: events",
            ),
        )
        location = f"s3://{self.bucket.bucket_name}/{EVENTS_PREFIX}"
        self.table = glue.CfnTable(
            self,
            "EventsTable",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=database_name(config.name),
            table_input=glue.CfnTable.TableInputProperty(
                name="events",
                description="One row per analytics record; deduplicate by (studio, id)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    "projection.enabled": "true",
                    "projection.studio.type": "injected",
                    "projection.day.type": "date",
                    "projection.day.format": "yyyy-MM-dd",
                    "projection.day.range": f"{PROJECTION_START},NOW",
                    "projection.day.interval": "1",
                    "projection.day.interval.unit": "DAYS",
                    "storage.location.template": f"{location}studio=${{studio}}/date=${{day}}/",
                },
                partition_keys=[
                    glue.CfnTable.ColumnProperty(
                        name="studio", type="string", comment="the studio (a query names it)"
                    ),
                    glue.CfnTable.ColumnProperty(
                        name="day", type="string", comment="UTC date of occurredAt, yyyy-MM-dd"
                    ),
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"case.insensitive": "TRUE", "ignore.malformed.json": "TRUE"},
                    ),
                    columns=[
                        glue.CfnTable.ColumnProperty(name=name, type=kind, comment=comment)
                        for name, kind, comment in COLUMNS
                    ],
                ),
            ),
        )
        self.table.add_dependency(self.database)
        self.freshness_alarm = monitoring.alarm_on(
            "DeliveryFreshness",
            cloudwatch.Metric(
                namespace="AWS/Firehose",
                metric_name="DeliveryToS3.DataFreshness",
                dimensions_map={"DeliveryStreamName": stream_name(config.name)},
                period=PERIOD,
                statistic="Maximum",
            ),
            description="analytics records are not reaching S3 (oldest waiting over 15 minutes)",
            threshold=FRESHNESS_ALARM_SECONDS,
            evaluation_periods=3,
            runbook_key="analytics-delivery",
            scope=self,
        )
