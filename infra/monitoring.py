"""Monitoring: one dashboard, alarms on API 5XX and Lambda errors, and a topic they notify.

Kept small on purpose: the REST API's requests, errors and latency, and each function's errors,
throttles and duration. Alarms publish to an encrypted SNS topic; ``-c alarmEmail=...`` subscribes
an address. Later concerns add theirs with :meth:`Monitoring.alarm_on` (a CloudWatch metric) and
:meth:`Monitoring.notify_on` (an EventBridge event, e.g. a failed Batch job), and their graphs with
``monitoring.dashboard.add_widgets``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import StageConfig

PERIOD = Duration.minutes(5)
API_5XX_THRESHOLD = 5
"""5XX answers in 5 minutes before the API alarm fires."""
FUNCTION_ERROR_THRESHOLD = 3
"""Invocation errors of one function in 5 minutes before its alarm fires."""


class Monitoring(Construct):
    """Dashboard and alarms of the stack.

    Attributes
    ----------
    topic:
        Where every alarm (and its recovery) is published.
    alarms:
        Every alarm created here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        rest_api: apigateway.RestApi,
        functions: Sequence[tuple[str, lambda_.IFunction]],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._key = key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"{config.name}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        # CloudWatch publishes to an encrypted topic only if the key lets it (AWS-managed keys do not).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name=f"{config.name} alarms", master_key=key, enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = action = cloudwatch_actions.SnsAction(self.topic)
        self._events_may_publish = False

        self.alarms: list[cloudwatch.Alarm] = [
            rest_api.metric_server_error(period=PERIOD, statistic="Sum").create_alarm(
                self,
                "Api5xxAlarm",
                alarm_description=f"{config.name}: the REST API answered 5XX",
                threshold=API_5XX_THRESHOLD,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        ]
        for name, function in functions:
            self.alarms.append(
                function.metric_errors(period=PERIOD, statistic="Sum").create_alarm(
                    self,
                    f"{name}-errors",
                    alarm_description=f"{config.name}: Lambda {name} failed invocations",
                    threshold=FUNCTION_ERROR_THRESHOLD,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=config.stack_name)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="REST API requests and errors",
                left=[
                    rest_api.metric_count(period=PERIOD, statistic="Sum"),
                    rest_api.metric_client_error(period=PERIOD, statistic="Sum"),
                    rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="REST API latency (p50, p99)",
                left=[
                    rest_api.metric_latency(period=PERIOD, statistic="p50"),
                    rest_api.metric_latency(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors and throttles",
                left=[
                    f.metric_errors(period=PERIOD, statistic="Sum", label=f"{n} errors") for n, f in functions
                ],
                right=[
                    f.metric_throttles(period=PERIOD, statistic="Sum", label=f"{n} throttles")
                    for n, f in functions
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration (p99)",
                left=[f.metric_duration(period=PERIOD, statistic="p99", label=n) for n, f in functions],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(alarms=self.alarms, title="Alarms", width=24),
        )

    def alarm_on(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float = 1,
    ) -> cloudwatch.Alarm:
        """Alarm when ``metric`` reaches ``threshold`` in one period; the topic hears alarm and recovery.

        Missing data counts as fine (no executions, no failures).
        """
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=f"{self._config.name}: {description}",
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def watch_state_machine(
        self,
        prefix: str,
        machine: sfn.StateMachine,
        *,
        title: str,
        failed_description: str,
        failed_threshold: float,
        timed_out_description: str,
        show_aborted: bool = False,
    ) -> list[cloudwatch.Alarm]:
        """Alarms ``{prefix}Failed`` (a burst of failures) and ``{prefix}TimedOut`` (any), and a dashboard
        row with the executions graph and the alarms' status, for one Step Functions state machine.
        """
        alarms = [
            self.alarm_on(
                f"{prefix}Failed",
                machine.metric_failed(period=PERIOD, statistic="Sum"),
                description=failed_description,
                threshold=failed_threshold,
            ),
            self.alarm_on(
                f"{prefix}TimedOut",
                machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                description=timed_out_description,
            ),
        ]
        lines = [
            machine.metric_started(period=PERIOD, statistic="Sum", label="started"),
            machine.metric_succeeded(period=PERIOD, statistic="Sum", label="succeeded"),
            machine.metric_failed(period=PERIOD, statistic="Sum", label="failed"),
        ]
        if show_aborted:
            lines.append(machine.metric_aborted(period=PERIOD, statistic="Sum", label="aborted (cancelled)"))
        lines.append(machine.metric_timed_out(period=PERIOD, statistic="Sum", label="timed out"))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title=f"{title} executions", left=lines, width=12),
            cloudwatch.AlarmStatusWidget(alarms=alarms, title=f"{title} alarms", width=12),
        )
        return alarms

    def notify_on(
        self,
        construct_id: str,
        *,
        description: str,
        event_pattern: events.EventPattern,
        message: events.RuleTargetInput,
    ) -> events.Rule:
        """Publish ``message`` to the alarm topic for every event matching ``event_pattern``.

        For what has no CloudWatch metric (a Batch job that failed after its last attempt). The topic's
        key then also lets EventBridge encrypt what it publishes.
        """
        if not self._events_may_publish:
            self._key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                )
            )
            self._events_may_publish = True
        return events.Rule(
            self,
            construct_id,
            description=f"{self._config.name}: {description}",
            event_pattern=event_pattern,
            targets=[targets.SnsTopic(self.topic, message=message)],
        )
