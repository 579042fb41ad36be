"""The safety net of a Step Functions workflow whose failures are recorded by a MarkFailed task.

An execution that ends outside its Catch (its own timeout, a StopExecution, a failure in a state
without a Catch) never reaches its MarkFailed state, so what it was doing would stay PROCESSING /
RUNNING for ever. :func:`add_safety_net` adds an EventBridge rule that sends every "Step Functions
Execution Status Change" of one machine that ended FAILED, TIMED_OUT or ABORTED, whole, to the
workflow's mark-failed function (which reads the execution input from ``detail.input`` and changes
nothing when the work already ended). Events EventBridge cannot deliver, and invocations that still fail
after Lambda's two asynchronous retries, land in an encrypted dead-letter queue, which alarms.

Used by :class:`infra.pipeline.AssetPipeline` (``pipeline-mark-failed``) and
:class:`infra.renders.RenderJobs` (``render-mark-failed``). The constructs are added to the caller's
scope with the ids ``SafetyNetDeadLetters`` and ``ExecutionEnded``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from infra.monitoring import PERIOD, Monitoring

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
"""EventBridge ``detail-type`` of an execution's status change (``tasks.EXECUTION_EVENT`` in the layer)."""

ENDED_UNSUCCESSFULLY: tuple[str, ...] = ("FAILED", "TIMED_OUT", "ABORTED")
"""Execution statuses the safety net handles (SUCCEEDED needs nothing; RUNNING is not an end)."""

DELIVERY_RETRY_ATTEMPTS = 185
"""How often EventBridge retries delivering a status change to the function (its maximum) ..."""
DELIVERY_MAX_EVENT_AGE = Duration.hours(24)
"""... for at most this long, before the event goes to the dead-letter queue."""
INVOKE_RETRY_ATTEMPTS = 2
"""Lambda's retries of a failed asynchronous invocation (its maximum) before the dead-letter queue."""
DEAD_LETTER_AGE_ALARM_SECONDS = 4 * 3600
"""Age of the oldest dead letter (s) that alarms a second time: nobody has redriven or read it yet."""
DEAD_LETTER_RETENTION = Duration.days(14)
"""How long an undelivered or unprocessed status change waits in the dead-letter queue (SQS's maximum)."""


def ended_execution_pattern(state_machine: sfn.IStateMachine) -> events.EventPattern:
    """EventBridge pattern of an execution of ``state_machine`` ending FAILED, TIMED_OUT or ABORTED."""
    return events.EventPattern(
        source=["aws.states"],
        detail_type=[EXECUTION_STATUS_CHANGE],
        detail={
            "status": list(ENDED_UNSUCCESSFULLY),
            "stateMachineArn": [state_machine.state_machine_arn],
        },
    )


@dataclass(frozen=True)
class SafetyNetTexts:
    """What the safety net of one workflow says about itself.

    Attributes
    ----------
    rule_description:
        The rule's description (the stage name is prefixed).
    alarm_id:
        The dead-letter alarm's id (:meth:`infra.monitoring.Monitoring.alarm_on`).
    alarm_description:
        What the alarm means and what to do.
    nag_reason:
        Why the dead-letter queue itself has no dead-letter queue (cdk-nag AwsSolutions-SQS3).
    """

    rule_description: str
    alarm_id: str
    alarm_description: str
    nag_reason: str


def add_safety_net(
    scope: Construct,
    *,
    config: StageConfig,
    state_machine: sfn.IStateMachine,
    mark_failed: lambda_.IFunction,
    monitoring: Monitoring,
    texts: SafetyNetTexts,
) -> tuple[events.Rule, sqs.Queue]:
    """Send the unsuccessful ends of ``state_machine``'s executions to ``mark_failed``.

    Adds to ``scope``: the dead-letter queue ``SafetyNetDeadLetters`` (SQS-managed encryption, TLS
    only, 14 days), the rule ``ExecutionEnded`` (:func:`ended_execution_pattern`) whose Lambda target
    retries delivery 185 times for 24 h, ``mark_failed``'s asynchronous invoke config (2 retries, then
    the same queue) and an alarm on a visible message in the queue.

    Returns
    -------
    tuple
        ``(rule, dead_letter_queue)``.
    """
    dead_letters = sqs.Queue(
        scope,
        "SafetyNetDeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        removal_policy=config.removal_policy,
    )
    NagSuppressions.add_resource_suppressions(
        dead_letters, [NagPackSuppression(id="AwsSolutions-SQS3", reason=texts.nag_reason)]
    )
    rule = events.Rule(
        scope,
        "ExecutionEnded",
        description=f"{config.name}: {texts.rule_description}",
        event_pattern=ended_execution_pattern(state_machine),
    )
    rule.add_target(
        targets.LambdaFunction(
            mark_failed,
            dead_letter_queue=dead_letters,
            retry_attempts=DELIVERY_RETRY_ATTEMPTS,
            max_event_age=DELIVERY_MAX_EVENT_AGE,
        )
    )
    mark_failed.configure_async_invoke(
        retry_attempts=INVOKE_RETRY_ATTEMPTS, on_failure=destinations.SqsDestination(dead_letters)
    )
    monitoring.alarm_on(
        texts.alarm_id,
        dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
        description=texts.alarm_description,
        runbook_key="dead-letters",
    )
    monitoring.alarm_on(
        f"{texts.alarm_id}Age",
        dead_letters.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
        description=f"{texts.alarm_description}; the oldest has waited over "
        f"{DEAD_LETTER_AGE_ALARM_SECONDS // 3600} h",
        threshold=DEAD_LETTER_AGE_ALARM_SECONDS,
        runbook_key="dead-letter-age",
    )
    return rule, dead_letters
