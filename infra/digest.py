"""The daily notification digest in the cloud: an EventBridge rule -> the ``notifications-digest`` function.

A member who chose ``DIGEST`` for a notification type gets one e-mail a day listing that day's
notifications (``keyframe.notifications.emails``), their day being their own (the ``timeZone`` of their
preferences, default UTC). The rule invokes the function every hour, on the hour, with ``{}``; the
function sends each member's digest once it is due (``DIGEST_HOUR`` o'clock local time the morning
after their day), catching up any day of the last week a failed run left, at most once per member,
studio and day (a conditional marker per member), so EventBridge's retries (2, within an hour) and a
run by hand send nothing twice.

The function (:data:`DIGEST_GRANTS`) may only: read, write and delete the digest partitions of the
live table (``DIGEST#…``: the day's queue and its sent markers, by IAM's ``dynamodb:LeadingKeys``),
read users and studios by key (tenants: their e-mail address and name, no index), read the signing
secret (the unsubscribe link's key) and send mail from the stage's identity as ``no-reply@``.

A nested stack (the main stack is near CloudFormation's 500 resources): the function, its role,
policy, log group, version and alias, the rule, the rule's permission to invoke the alias (only
from this rule) and an alarm on the function's errors that notifies the monitoring topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, NestedStack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StageConfig
from infra.functions import Functions
from infra.grants import Access, ReadSigningSecret, Resources, SendMail, TableItems
from infra.monitoring import PERIOD, Monitoring
from keyframe import registry
from keyframe.storage.tables import LIVE, TENANTS

NAME = registry.DIGEST.name
RETRY_ATTEMPTS = 2
"""EventBridge tries a failed invocation this many more times ..."""
MAX_EVENT_AGE = Duration.hours(1)
"""... within this long after the scheduled time (the next hourly run comes then anyway)."""
SCHEDULE = "cron(0 * * * ? *)"
"""Every hour on the hour (UTC): a member's digest is due at a local hour, in any time zone."""


@dataclass(frozen=True)
class ReadTenantsByKey:
    """``dynamodb:GetItem`` on the tenants table itself (a user's e-mail address, a studio's name): no
    query, no index."""

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant GetItem on the tenants table's ARN."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[resources.tables[TENANTS].table_arn])
        )


DIGEST_GRANTS: Mapping[str, tuple[Access, ...]] = {
    NAME: (
        # the day's queue (Query, BatchWriteItem deletes) and the sent markers (conditional PutItem,
        # DeleteItem when SES refused): DIGEST#… partitions only
        TableItems(
            LIVE,
            ("dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
            "DIGEST#*",
        ),
        ReadTenantsByKey(),
        ReadSigningSecret(),  # the unsubscribe link's HMAC key (keyframe.keys)
        SendMail(),
    ),
}
"""What the digest function may do."""


class DailyDigest(NestedStack):
    """The digest function, its hourly rule and its alarm.

    Attributes
    ----------
    function:
        The ``live`` alias of the function (what the rule invokes).
    rule:
        The EventBridge rule (:data:`SCHEDULE`).
    alarm:
        Failed invocations of the function (notifies the monitoring topic).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        resources: Resources,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id, description=f"{config.name}: the daily notification digest")
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            layer=layer,
            environment=environment,
            specs=(registry.DIGEST,),
            grants=DIGEST_GRANTS,
        )
        self.functions.grant(resources)
        self.function = self.functions.alias(NAME)
        self.rule = events.Rule(
            self,
            "Daily",
            description=f"{config.name}: send the notification digests that are due",
            schedule=events.Schedule.expression(SCHEDULE),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    event=events.RuleTargetInput.from_object({}),
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                )
            ],
        )
        self.alarm = monitoring.alarm_on(
            "Errors",
            self.functions[NAME].metric_errors(period=PERIOD, statistic="Sum"),
            description=f"Lambda {NAME} failed (digests wait for the next run)",
            runbook_key="function-errors",
            scope=self,
        )
