"""Monitoring: one dashboard, the alarms that page on what breaks, and the topic they notify.

Alarms publish to an encrypted SNS topic; ``-c alarmEmail=...`` subscribes an address. Each alarm's
description ends with ``Runbook: README.md#runbook <key>``: the README's *Runbook* lists what to do for
every key in :data:`RUNBOOK`. What is watched:

- the REST API: 5XX answers, p99 latency against an anomaly-detection band;
- every function: errors (API functions, the authorizers and identity one alarm each; the others one
  alarm per ten functions, on the largest count) and throttles (one alarm per ten functions); every
  API function: p99 duration over a fixed ceiling (errors and duration are the canary's rollback
  alarms, :mod:`infra.functions`);
- every table: throttled requests and system errors (:meth:`Monitoring.watch_tables`);
- the WebSocket stage: integration and execution errors (:meth:`Monitoring.watch_live`);
- the Batch queues: age of the oldest RUNNABLE job, published every minute by a small function, and
  the NAT gateways' port-allocation errors (:meth:`Monitoring.watch_batch`);
- the state machines and the safety nets' dead-letter queues (their constructs call
  :meth:`Monitoring.watch_state_machine` and :meth:`Monitoring.alarm_on`);
- and one composite alarm, *studio-facing outage*, in ALARM when any alarm on the path of a studio's
  request is (:meth:`Monitoring.finish`, which the stack calls last).

Later concerns add theirs with :meth:`Monitoring.alarm_on` (a CloudWatch metric;  ``scope=`` for an
alarm that lives in a nested stack of its own) and
:meth:`Monitoring.notify_on` (an EventBridge event, e.g. a failed Batch job), and their graphs with
``monitoring.dashboard.add_widgets``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_batch as batch
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from infra.lambda_function import lambda_function

PERIOD = Duration.minutes(5)
API_5XX_THRESHOLD = 5
"""5XX answers in 5 minutes before the API alarm fires."""
FUNCTION_ERROR_THRESHOLD = 3
"""Invocation errors of one function in 5 minutes before its alarm fires."""
FUNCTION_THROTTLE_THRESHOLD = 5
ALARM_GROUP = 10
"""Functions watched by one grouped alarm (CloudWatch allows 10 metrics in an alarm's math)."""
"""Throttled invocations of one function in 5 minutes (its reserved concurrency or the account's is spent)."""
LATENCY_PERIOD = Duration.minutes(1)
LATENCY_P99_MS = 5_000
"""p99 duration of an API function (ms) that, in 3 of 5 minutes, means studios wait: a healthy API
call takes well under a second."""
LATENCY_ANOMALY_STD_DEVS = 3
"""Width of the REST API p99 latency band (standard deviations of the learned pattern)."""
TABLE_THROTTLE_THRESHOLD = 5
"""Throttled requests on one table in 5 minutes (on-demand tables throttle at a partition's limit)."""
TABLE_OPERATIONS: tuple[dynamodb.Operation, ...] = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.BATCH_GET_ITEM,
    dynamodb.Operation.BATCH_WRITE_ITEM,
    dynamodb.Operation.TRANSACT_GET_ITEMS,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
)
"""The operations Keyframe calls (never Scan): at most 10 metrics fit in one alarm's expression."""
WEBSOCKET_ERROR_THRESHOLD = 5
"""WebSocket integration (or execution) errors in 5 minutes before the alarm fires."""
BATCH_BACKLOG_NAMESPACE = "Keyframe/Batch"
BATCH_BACKLOG_METRIC = "OldestRunnableJobAgeSeconds"
BATCH_BACKLOG_SECONDS = 1_800
"""Age of the oldest RUNNABLE job (s) that means a queue is stuck: Fargate starts a job in minutes."""
BATCH_BACKLOG_SCHEDULE = Duration.minutes(1)
BATCH_BACKLOG_CODE = Path(__file__).resolve().parent / "monitors"
"""``infra/monitors/batch_backlog.py``: the function publishing the backlog age."""

RUNBOOK: dict[str, str] = {
    "api-5xx": "REST API 5XX answers",
    "api-latency": "REST API p99 latency above its learned band",
    "function-errors": "a function's failed invocations",
    "function-throttles": "a function's throttled invocations",
    "function-latency": "an API function's p99 duration",
    "table-throttles": "a table's throttled requests",
    "table-system-errors": "a table's system errors",
    "websocket-errors": "WebSocket integration or execution errors",
    "batch-backlog": "a Batch queue's oldest RUNNABLE job",
    "nat-errors": "a NAT gateway's port-allocation errors",
    "executions-failed": "a burst of failed executions of a state machine",
    "executions-timed-out": "a state machine execution timed out",
    "dead-letters": "a message in a safety net's dead-letter queue",
    "dead-letter-age": "a message waiting in a safety net's dead-letter queue",
    "outbox-lag": "domain events reach rooms and webhooks late (the outbox stream's iterator age)",
    "secret-rotation": "a step of the signing secret's rotation failed",
    "analytics-delivery": "analytics records wait in Firehose (not written to S3 for 15 minutes)",
    "studio-outage": "the composite: studios cannot work",
}
"""Every runbook key an alarm may name -> what the alarm means (the README's *Runbook* has one line each)."""


def runbook(key: str) -> str:
    """``" Runbook: README.md#runbook <key>"`` for an alarm description.

    Raises
    ------
    KeyError
        A key missing from :data:`RUNBOOK` (add its README line too).
    """
    if key not in RUNBOOK:
        raise KeyError(f"Unknown runbook key {key!r}: add it to infra.monitoring.RUNBOOK and the README")
    return f" Runbook: README.md#runbook {key}"


class Monitoring(Construct):
    """Dashboard and alarms of the stack.

    Attributes
    ----------
    topic:
        Where every alarm (and its recovery) is published.
    alarms:
        Every metric alarm created here.
    outage_alarms:
        The alarms on a studio's request path; :meth:`finish` makes the composite of them.
    api_function_alarms:
        Function name -> its errors and p99 latency alarms (the canary's rollback alarms).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        rest_api: apigateway.RestApi,
        functions: Sequence[tuple[str, lambda_.IFunction]],
        function_kinds: Mapping[str, str] | None = None,
        topic_home: Construct | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        # The topic and its key may live in the parent stack (``topic_home``) while the alarms live in a
        # nested one: other nested stacks then notify the topic without depending on the alarms' stack.
        home = topic_home or self
        self._key = key = kms.Key(
            home,
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
            home, "AlarmTopic", display_name=f"{config.name} alarms", master_key=key, enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = cloudwatch_actions.SnsAction(self.topic)
        self._events_may_publish = False
        self.alarms: list[cloudwatch.Alarm] = []
        self.outage_alarms: list[cloudwatch.IAlarm] = []
        self.api_function_alarms: dict[str, list[cloudwatch.Alarm]] = {}
        kinds = dict(function_kinds or {})

        api_5xx = self.alarm_on(
            "Api5xxAlarm",
            rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            description="the REST API answered 5XX",
            threshold=API_5XX_THRESHOLD,
            runbook_key="api-5xx",
        )
        self.outage_alarms.append(api_5xx)
        latency = cloudwatch.AnomalyDetectionAlarm(
            self,
            "ApiLatencyAnomaly",
            metric=rest_api.metric_latency(period=PERIOD, statistic="p99"),
            alarm_description=f"{config.name}: the REST API's p99 latency is above its usual band"
            + runbook("api-latency"),
            std_devs=LATENCY_ANOMALY_STD_DEVS,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._notify(latency)
        grouped: list[tuple[str, lambda_.IFunction]] = []
        for name, function in functions:
            if kinds.get(name) not in ("api", "authorizer") and name != "identity-api":
                grouped.append((name, function))  # no rollback or outage alarm needs its own
                continue
            errors = self.alarm_on(
                f"{name}-errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                description=f"Lambda {name} failed invocations",
                threshold=FUNCTION_ERROR_THRESHOLD,
                runbook_key="function-errors",
            )
            # nobody can sign in without identity-api (every API function authenticates its own calls)
            if name == "identity-api":
                self.outage_alarms.append(errors)
            if kinds.get(name) == "api":
                slow = self.alarm_on(
                    f"{name}-latency",
                    function.metric_duration(period=LATENCY_PERIOD, statistic="p99"),
                    description=f"Lambda {name} p99 duration above {LATENCY_P99_MS} ms",
                    threshold=LATENCY_P99_MS,
                    evaluation_periods=5,
                    datapoints_to_alarm=3,
                    runbook_key="function-latency",
                )
                self.api_function_alarms[name] = [errors, slow]
        self._watch_grouped(
            grouped, "errors", FUNCTION_ERROR_THRESHOLD, "function-errors", "failed invocations"
        )
        self._watch_grouped(
            functions,
            "throttles",
            FUNCTION_THROTTLE_THRESHOLD,
            "function-throttles",
            "was throttled (its reserved or the account's concurrency is spent)",
        )

        # "-operations": the dashboard of stacks deployed before the nested stack had the stack's name, and
        # CloudFormation deletes that one (by name) after creating this one
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{config.stack_name}-operations"
        )
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
        )

    def watch_tables(self, tables: Sequence[tuple[str, dynamodb.ITableV2]]) -> None:
        """Alarms on each table's throttled requests and system errors, and a DynamoDB dashboard row."""
        throttles, system_errors = [], []
        for name, table in tables:
            throttled = table.metric_throttled_requests_for_operations(
                operations=list(TABLE_OPERATIONS), period=PERIOD, label=name
            )
            failed = table.metric_system_errors_for_operations(
                operations=list(TABLE_OPERATIONS), period=PERIOD, label=name
            )
            self.alarm_on(
                f"{name}-table-throttles",
                throttled,
                description=f"DynamoDB table {name} throttled requests",
                threshold=TABLE_THROTTLE_THRESHOLD,
                runbook_key="table-throttles",
            )
            self.outage_alarms.append(
                self.alarm_on(
                    f"{name}-table-system-errors",
                    failed,
                    description=f"DynamoDB table {name} answered with system errors (HTTP 500)",
                    runbook_key="table-system-errors",
                )
            )
            throttles.append(
                table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum", label=f"{name} read")
            )
            throttles.append(
                table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum", label=f"{name} write")
            )
            # The alarms' expressions share metric ids across tables; a graph needs one id per line.
            system_errors.append(
                cloudwatch.MathExpression(
                    expression='SUM(SEARCH(\'{AWS/DynamoDB,Operation,TableName} MetricName="SystemErrors" '
                    f"TableName=\"{table.table_name}\"', 'Sum', 300))",
                    label=name,
                    period=PERIOD,
                )
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="DynamoDB throttled requests", left=throttles, width=8),
            cloudwatch.GraphWidget(title="DynamoDB system errors", left=system_errors, width=8),
            cloudwatch.GraphWidget(
                title="DynamoDB consumed capacity (read, write)",
                left=[t.metric_consumed_read_capacity_units(period=PERIOD, label=n) for n, t in tables],
                right=[t.metric_consumed_write_capacity_units(period=PERIOD, label=n) for n, t in tables],
                width=8,
            ),
        )

    def watch_live(self, api: apigatewayv2.WebSocketApi, stage: apigatewayv2.WebSocketStage) -> None:
        """Alarms on the WebSocket stage's integration and execution errors, and a WebSocket dashboard row."""

        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiId": api.api_id, "Stage": stage.stage_name},
                period=PERIOD,
                statistic="Sum",
            )

        for name in ("IntegrationError", "ExecutionError"):
            self.outage_alarms.append(
                self.alarm_on(
                    f"Live{name}",
                    metric(name),
                    description=f"the live WebSocket stage reported {name} (a handler failed or timed out)",
                    threshold=WEBSOCKET_ERROR_THRESHOLD,
                    runbook_key="websocket-errors",
                )
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="WebSocket connections and messages",
                left=[metric(n).with_(label=n) for n in ("ConnectCount", "MessageCount")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="WebSocket errors",
                left=[
                    metric(n).with_(label=n) for n in ("IntegrationError", "ExecutionError", "ClientError")
                ],
                width=12,
            ),
        )

    def watch_batch(self, queues: Sequence[batch.IJobQueue], vpc: ec2.Vpc) -> None:
        """The backlog function, an alarm per queue on its oldest RUNNABLE job, NAT error alarms, a Batch row.

        The function (``infra/monitors/batch_backlog.py``) runs every minute, lists each queue's
        RUNNABLE jobs and publishes ``Keyframe/Batch OldestRunnableJobAgeSeconds`` per queue (0 when
        none waits): Batch publishes no metric of what is still waiting.
        """
        function = lambda_function(
            self,
            config=self._config,
            ids=("BatchBacklogLogs", "BatchBacklogRole", "BatchBacklog"),
            role_description=(
                f"{self._config.name} Batch backlog monitor: list jobs, put its metric, its logs"
            ),
            description=f"{self._config.name}: publish the age of each Batch queue's oldest RUNNABLE job",
            code=lambda_.Code.from_asset(str(BATCH_BACKLOG_CODE), exclude=["__pycache__", "*.pyc"]),
            handler="batch_backlog.handler",
            memory_size=128,
            timeout=Duration.seconds(30),
            environment={
                "JOB_QUEUES": ",".join(queue.job_queue_arn for queue in queues),
                "METRIC_NAMESPACE": BATCH_BACKLOG_NAMESPACE,
                "METRIC_NAME": BATCH_BACKLOG_METRIC,
            },
        )
        function.add_to_role_policy(iam.PolicyStatement(actions=["batch:ListJobs"], resources=["*"]))
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": BATCH_BACKLOG_NAMESPACE}},
            )
        )
        events.Rule(
            self,
            "BatchBacklogSchedule",
            description=f"{self._config.name}: measure the Batch backlog every minute",
            schedule=events.Schedule.rate(BATCH_BACKLOG_SCHEDULE),
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )
        NagSuppressions.add_resource_suppressions(
            [function, cast(iam.Role, function.role)],
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="batch:ListJobs has no resource-level permission, and cloudwatch:PutMetricData "
                    f"none either (it is limited to the {BATCH_BACKLOG_NAMESPACE} namespace by condition).",
                    applies_to=["Resource::*"],
                ),
            ],
            apply_to_children=True,
        )
        ages = []
        for index, queue in enumerate(queues):
            age = cloudwatch.Metric(
                namespace=BATCH_BACKLOG_NAMESPACE,
                metric_name=BATCH_BACKLOG_METRIC,
                dimensions_map={"JobQueue": queue.job_queue_name},
                period=PERIOD,
                statistic="Maximum",
            )
            ages.append(age.with_(label=queue.job_queue_name))
            self.alarm_on(
                f"BatchBacklog{index}",
                age,
                description=f"a job has waited RUNNABLE over {BATCH_BACKLOG_SECONDS // 60} min in "
                f"the Batch queue {queue.node.id}",
                threshold=BATCH_BACKLOG_SECONDS,
                evaluation_periods=2,
                runbook_key="batch-backlog",
            )
        nat_errors = []
        for index, subnet in enumerate(vpc.public_subnets):
            nat = subnet.node.try_find_child("NATGateway")
            if not isinstance(nat, ec2.CfnNatGateway):
                continue
            errors = cloudwatch.Metric(
                namespace="AWS/NATGateway",
                metric_name="ErrorPortAllocation",
                dimensions_map={"NatGatewayId": nat.ref},
                period=PERIOD,
                statistic="Sum",
            )
            nat_errors.append(errors.with_(label=f"NAT {index + 1} port allocation errors"))
            self.alarm_on(
                f"NatErrors{index}",
                errors,
                description="a NAT gateway could not allocate a source port (jobs lose AWS API calls)",
                runbook_key="nat-errors",
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Batch: oldest RUNNABLE job (s)", left=ages, width=12),
            cloudwatch.GraphWidget(title="NAT gateway errors", left=nat_errors, width=12),
        )

    def finish(self) -> cloudwatch.CompositeAlarm:
        """The *studio-facing outage* composite and the dashboard's alarm status (the stack calls it last)."""
        outage = cloudwatch.CompositeAlarm(
            self,
            "StudioFacingOutage",
            alarm_description=f"{self._config.name}: studios cannot sign in, call the API or stay live "
            "(any of: REST 5XX, authorizer or identity errors, table system errors, WebSocket errors)."
            + runbook("studio-outage"),
            alarm_rule=cloudwatch.AlarmRule.any_of(
                *(cloudwatch.AlarmRule.from_alarm(a, cloudwatch.AlarmState.ALARM) for a in self.outage_alarms)
            ),
        )
        outage.add_alarm_action(self._action)
        outage.add_ok_action(self._action)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(alarms=[outage, *self.alarms], title="Alarms", width=24),
        )
        return outage

    def _notify(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _watch_grouped(
        self,
        functions: Sequence[tuple[str, lambda_.IFunction]],
        metric_name: str,
        threshold: float,
        runbook_key: str,
        what: str,
    ) -> None:
        """One alarm per :data:`ALARM_GROUP` functions on the largest of their ``metric_name`` sums.

        ``MAX`` keeps each function's own threshold (any one of them reaching it in a period alarms)
        while two dozen functions spend 3 alarms instead of 24 of CloudFormation's 500 resources per
        stack. The alarm's description names its functions; the dashboard's Lambda row shows which.
        Used for throttles of every function and for errors of the functions whose errors are not a
        canary's rollback alarm or a child of the outage alarm (tasks, WebSocket handlers).
        """
        for start in range(0, len(functions), ALARM_GROUP):
            group = functions[start : start + ALARM_GROUP]
            metrics = {
                f"m{i}": function.metric(metric_name.capitalize(), period=PERIOD, statistic="Sum")
                for i, (_, function) in enumerate(group)
            }
            names = ", ".join(name for name, _ in group)
            self.alarm_on(
                f"functions-{metric_name}-{start // ALARM_GROUP + 1}",
                cloudwatch.MathExpression(
                    expression=f"MAX([{', '.join(metrics)}])",
                    using_metrics=metrics,
                    label=f"most {metric_name} of one function",
                    period=PERIOD,
                ),
                description=f"A Lambda function {what}; one of: {names}",
                threshold=threshold,
                runbook_key=runbook_key,
            )

    def alarm_on(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        runbook_key: str,
        threshold: float = 1,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        scope: Construct | None = None,
    ) -> cloudwatch.Alarm:
        """Alarm when ``metric`` reaches ``threshold`` (in ``datapoints_to_alarm`` of
        ``evaluation_periods`` periods); the topic hears alarm and recovery.

        The description is prefixed with the stage and ends with the runbook line (``runbook_key`` in
        :data:`RUNBOOK`). Missing data counts as fine (no executions, no failures). The alarm lives in
        this construct and the dashboard's alarm status shows it, or, given ``scope`` (a nested stack
        of its own, so that it counts against that stack's 500 resources), there and not on the
        dashboard.

        Raises
        ------
        KeyError
            An unknown ``runbook_key``.
        """
        alarm = cloudwatch.Alarm(
            scope or self,
            construct_id,
            metric=metric,
            alarm_description=f"{self._config.name}: {description}.{runbook(runbook_key)}",
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if scope is not None:
            alarm.add_alarm_action(self._action)
            alarm.add_ok_action(self._action)
            return alarm
        return self._notify(alarm)

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
                runbook_key="executions-failed",
            ),
            self.alarm_on(
                f"{prefix}TimedOut",
                machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                description=timed_out_description,
                runbook_key="executions-timed-out",
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
