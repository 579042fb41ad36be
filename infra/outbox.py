"""The outbox's consumer in the cloud: the catalog table's stream -> the ``outbox-stream`` function.

Every domain event is an outbox item of the catalog table (``keyframe.outbox.records``); the table's
stream (NEW_AND_OLD_IMAGES) feeds an event source mapping filtered to outbox INSERTs
(``eventName = INSERT`` and ``recordType = event``), so the function never wakes for other writes.

- ``ReportBatchItemFailures``: the function names the first record it could not deliver; Lambda hands
  it and the later records again (per-studio order kept: one studio's events share a partition key).
- ``BisectBatchOnFunctionError``: a batch whose invocation fails outright is split to isolate the record.
- Retries until the record is a day old (the stream's retention): an outage of a downstream holds the
  shard and resumes where it stopped. A record given up is described (shard, sequence numbers) in an
  encrypted dead-letter queue; its event is still in the outbox for 7 days to redrive it.
- Alarms: a message in that queue (``dead-letters``) and the function's iterator age over 5 minutes
  (``outbox-lag``: events reach rooms and webhooks late).
- The webhook delivery queue (SQS, encrypted, a dead-letter queue after 5 failed receives) feeds
  ``webhooks-deliver`` (batches of 10, batch item failures); a receiver's failure is not a batch
  failure: the function queues its own retry with a delay (``keyframe.webhooks.dispatch``).
- A nested stack: the main stack is at CloudFormation's limit of 500 resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aws_cdk import Duration, NestedStack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from infra.config import StageConfig
from infra.functions import Functions
from infra.grants import CONSUMER_GRANTS, Resources
from infra.monitoring import PERIOD, Monitoring
from keyframe import registry
from keyframe.outbox.records import RECORD_TYPE

BATCH_SIZE = 100
"""Stream records per invocation."""
MAX_BATCHING_WINDOW = Duration.seconds(0)
"""How long Lambda gathers records before invoking: none (each event goes on at once; whole seconds only)."""
MAX_RECORD_AGE = Duration.hours(24)
"""Records are retried until this old (the stream's own retention), then described in the DLQ."""
RETRY_ATTEMPTS = 10_000
"""Lambda's maximum: the age above is the real limit."""
FUNCTION = "outbox-stream"
"""The consumer of the catalog table's stream (``functions/outbox_stream``)."""
DELIVERER = "webhooks-deliver"
"""The consumer of the webhook delivery queue (``functions/webhooks_deliver``)."""
DELIVERY_VISIBILITY_TIMEOUT = Duration.seconds(360)
"""Six times the deliverer's timeout, as AWS advises for an SQS event source."""
ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000
"""Iterator age (ms) that alarms: events reach their consumers over 5 minutes late."""


def outbox_filter() -> dict[str, object]:
    """The event source filter: INSERTs of outbox items only."""
    return lambda_.FilterCriteria.filter(
        {
            "eventName": lambda_.FilterRule.is_equal("INSERT"),
            "dynamodb": {"NewImage": {"recordType": {"S": lambda_.FilterRule.is_equal(RECORD_TYPE)}}},
        }
    )


class OutboxConsumer(NestedStack):
    """The consumer functions (``keyframe.registry.CONSUMERS``) and the stream mapping of the outbox.

    A nested stack: the main stack is at CloudFormation's 500-resource limit, so the consumer
    functions (built by :class:`infra.functions.Functions` with :data:`infra.grants.CONSUMER_GRANTS`),
    the mapping, its dead-letter queue and the alarms (which notify the monitoring topic) live here.

    Attributes
    ----------
    dead_letters:
        The SQS queue describing records given up.
    mapping:
        The event source mapping (stream -> function).
    functions:
        The consumer functions.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: dynamodb.ITableV2,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        resources: Resources,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id, description=f"{config.name}: the outbox's stream consumer")
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            layer=layer,
            environment=environment,
            specs=registry.CONSUMERS,
            grants=CONSUMER_GRANTS,
        )
        self.delivery_dead_letters = sqs.Queue(
            self,
            "DeliveryDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=config.removal_policy,
        )
        NagSuppressions.add_resource_suppressions(
            self.delivery_dead_letters,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason="It is the webhook delivery queue's dead-letter queue (messages whose handling "
                    "failed 5 times for a DynamoDB or SQS reason).",
                )
            ],
        )
        self.deliveries = sqs.Queue(
            self,
            "Deliveries",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=DELIVERY_VISIBILITY_TIMEOUT,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.delivery_dead_letters),
            removal_policy=config.removal_policy,
        )
        self.functions.grant(replace(resources, webhook_queue=self.deliveries))
        for _, consumer in self.functions.items():
            _explain_parent_references(consumer.role)
        function = self.functions.alias(FUNCTION)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=config.removal_policy,
        )
        NagSuppressions.add_resource_suppressions(
            self.dead_letters,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason="It is the outbox consumer's dead-letter queue: it describes stream records "
                    "given up (the events stay in the outbox for 7 days to redrive).",
                )
            ],
        )
        assert table.table_stream_arn is not None, "the catalog table's stream is on (TableSpec.stream)"
        self.mapping = lambda_.EventSourceMapping(
            self,
            "StreamMapping",
            target=function,
            event_source_arn=table.table_stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_SIZE,
            max_batching_window=MAX_BATCHING_WINDOW,
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            parallelization_factor=1,
            on_failure=sources.SqsDlq(self.dead_letters),
            filters=[outbox_filter()],
        )
        self.delivery_mapping = lambda_.EventSourceMapping(
            self,
            "DeliveryMapping",
            target=self.functions.alias(DELIVERER),
            event_source_arn=self.deliveries.queue_arn,
            batch_size=10,
            report_batch_item_failures=True,
        )
        self.deliveries.grant_consume_messages(self.functions.alias(DELIVERER))
        table.grant_stream_read(function)
        self.dead_letters.grant_send_messages(function)
        self.alarms = [
            monitoring.alarm_on(
                f"{FUNCTION}-errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                description=f"Lambda {FUNCTION} failed invocations (events wait in the stream)",
                runbook_key="function-errors",
                scope=self,
            ),
            monitoring.alarm_on(
                f"{FUNCTION}-throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                description=f"Lambda {FUNCTION} was throttled",
                runbook_key="function-throttles",
                scope=self,
            ),
            monitoring.alarm_on(
                "OutboxDeadLetters",
                self.dead_letters.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                description="The outbox consumer gave up stream records (events not delivered to rooms "
                "or webhooks)",
                runbook_key="dead-letters",
                scope=self,
            ),
            monitoring.alarm_on(
                "WebhookDeadLetters",
                self.delivery_dead_letters.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                description="Webhook delivery messages could not be handled (DynamoDB or SQS failures)",
                runbook_key="dead-letters",
                scope=self,
            ),
            *[
                monitoring.alarm_on(
                    f"{DELIVERER}-{kind}",
                    metric,
                    description=f"Lambda {DELIVERER} {kind}",
                    runbook_key=f"function-{kind}",
                    scope=self,
                )
                for kind, metric in (
                    ("errors", self.functions[DELIVERER].metric_errors(period=PERIOD, statistic="Sum")),
                    ("throttles", self.functions[DELIVERER].metric_throttles(period=PERIOD, statistic="Sum")),
                )
            ],
            monitoring.alarm_on(
                "OutboxLag",
                cloudwatch.Metric(
                    namespace="AWS/Lambda",
                    metric_name="IteratorAge",
                    dimensions_map={"FunctionName": self.functions[FUNCTION].function_name},
                    period=PERIOD,
                    statistic="Maximum",
                ),
                description="Domain events reach rooms and webhooks over 5 minutes late",
                threshold=ITERATOR_AGE_ALARM_MS,
                evaluation_periods=3,
                runbook_key="outbox-lag",
                scope=self,
            ),
        ]


def _explain_parent_references(role: iam.IRole | None) -> None:
    """cdk-nag: the table-index wildcard of a nested stack's grants names the parent's table through a
    parameter (``<referenceto…Arn>/index/*``), which the main stack's suppression pattern does not
    match; the reason is the same."""
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    if policy is None:
        return
    NagSuppressions.add_resource_suppressions(
        policy,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="'<table>/index/*' covers the GSIs of a table that CONSUMER_GRANTS lets this "
                "function use (the same actions as on the table itself).",
                applies_to=[RegexAppliesTo(regex="/^Resource::<referenceto.+Arn>\\/index\\/\\*$/g")],
            )
        ],
    )
