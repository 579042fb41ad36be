"""The asset pipeline: its Step Functions state machine and the media job of its Derive step.

``statemachines/asset_pipeline.asl.json`` (Validate -> Publish beside Derive in one Lambda up to
1 GiB, else or after a fast-path failure Publish -> Derive on AWS Batch -> Finalize, every failure to
MarkFailed) is deployed as
it is written: the definition string in the template is
the file's text and CloudFormation fills its ``${...}`` placeholders (``DefinitionSubstitutions``)
with the same names the local stack fills (``keyframe.substitutions``):

=================================  ==============================================================
``${<Fn>FunctionArn}``             the registry function ``<fn>`` (``pipeline-validate`` ->
                                   ``${PipelineValidateFunctionArn}``)
``${JobQueueArn}``                 the normal Batch queue (``{name}-jobs``)
``${<Def>JobDefinitionArn}``       a job definition of :class:`infra.batch.BatchJobs` (``media`` ->
                                   ``${MediaJobDefinitionArn}``)
=================================  ==============================================================

:class:`AslStateMachine` does this for any ``statemachines/<stem>.asl.json`` (the render workflow
reuses it): a placeholder it cannot resolve stops the synth, and the machine's role may invoke exactly
the functions, submit exactly the job definitions and queues its placeholders name. The functions whose
:data:`infra.grants.GRANTS` entry lists ``StartStateMachine(stem)`` get the ARN as
``<STEM>_STATE_MACHINE_ARN`` (``ASSET_PIPELINE_STATE_MACHINE_ARN``).

Logging (ALL events, execution data left out: inputs name studios, files and people) goes to a log
group with the stage's retention; X-Ray tracing is on. Monitoring: failed and timed-out executions
alarm; a failed Batch job is reported by :class:`infra.batch.BatchJobs`.

Safety net (:func:`infra.safety_net.add_safety_net`): an execution that ends outside its Catch (its 6 h
timeout, a StopExecution, a failure in a state without a Catch) would leave its pipeline RUNNING and its
version PROCESSING for ever, and reprocess refused as "still running". The rule ``ExecutionEnded`` sends
every FAILED, TIMED_OUT or ABORTED status change of this machine to ``pipeline-mark-failed``
(``keyframe.pipeline.tasks.mark_failed`` reads the pipeline input from ``detail.input`` and fails the
run only if it is still running), with a dead-letter queue that alarms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from infra.batch import BatchJob, BatchJobs
from infra.config import StageConfig
from infra.functions import Functions
from infra.grants import starters
from infra.log_groups import per_stack_name
from infra.monitoring import Monitoring
from infra.safety_net import SafetyNetTexts, add_safety_net
from keyframe.media.jobs import MEDIA_JOB
from keyframe.registry import REPO_ROOT
from keyframe.storage.tables import CATALOG, LIVE, UPLOADS
from keyframe.substitutions import camel, function_placeholder, state_machine_env_var

STATE_MACHINES_DIR = REPO_ROOT / "statemachines"
STEM = "asset_pipeline"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
"""``${Name}``: CloudFormation's ``DefinitionSubstitutions`` syntax, as in ``keyframe.substitutions``."""

JOB_QUEUE_PLACEHOLDER = "JobQueueArn"
BATCH_EVENTS_RULE = "StepFunctionsGetEventsForBatchJobsRule"
"""The managed EventBridge rule through which Step Functions follows ``batch:submitJob.sync`` jobs."""

MEDIA_WORKER_VARIABLES: tuple[str, ...] = (
    UPLOADS.env_var,
    CATALOG.env_var,
    LIVE.env_var,
    "LIVE_CONNECTIONS_ENDPOINT",
)
"""What ``python -m keyframe.media.worker derive`` reads: the pipeline record (uploads), the outbox of
its events (catalog), the event log (live) and the ``@connections`` endpoint of the fan-out. The
bucket comes from the record; ECS itself sets ``AWS_REGION`` and the job role's credentials."""
MEDIA_WORKER_SERVICE = "media-worker"

MARK_FAILED_FUNCTION = "pipeline-mark-failed"
"""The MarkFailed task; also the target of the safety-net rule (:mod:`infra.safety_net`)."""

PIPELINE_FAILURES_THRESHOLD = 3
"""Failed executions in 5 minutes before the alarm fires: one is usually a bad file (the pipeline ends
in its Fail state by design after MarkFailed), a burst is an outage."""


def placeholders(text: str) -> list[str]:
    """The distinct ``${Name}`` placeholders of an ASL document, in order of appearance."""
    return list(dict.fromkeys(match.group(1) for match in PLACEHOLDER.finditer(text)))


def job_definition_placeholder(name: str) -> str:
    """``media`` -> ``MediaJobDefinitionArn`` (the local stack's name for it)."""
    return f"{camel(name)}JobDefinitionArn"


def state_machine_name(config: StageConfig, stem: str) -> str:
    """``asset_pipeline`` -> ``keyframe-dev-asset-pipeline`` (``keyframe-dev-alice-...`` with a suffix)."""
    return f"{config.name}-{stem.replace('_', '-')}"


def media_worker_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The media job's container variables, picked from the functions' ``environment``.

    Raises
    ------
    KeyError
        ``environment`` lacks one of :data:`MEDIA_WORKER_VARIABLES`.
    """
    return {
        **{name: environment[name] for name in MEDIA_WORKER_VARIABLES},
        "POWERTOOLS_SERVICE_NAME": MEDIA_WORKER_SERVICE,
    }


class AslStateMachine(Construct):
    """A STANDARD state machine deployed from ``statemachines/<stem>.asl.json``.

    Parameters
    ----------
    config:
        The stage (name, log retention).
    stem:
        ``asset_pipeline``; the machine is named ``{config.name}-asset-pipeline``.
    functions:
        Registry name -> function, for the ``${<Fn>FunctionArn}`` placeholders (only those the file
        uses are referenced).
    job_queues:
        Queues the machine may submit to; ``${JobQueueArn}`` is the first (render inputs may name
        another of them).
    job_definitions:
        Logical name -> job definition, for the ``${<Def>JobDefinitionArn}`` placeholders.

    Attributes
    ----------
    state_machine / role / log_group:
        The machine, its role, its execution log group.
    env_var:
        ``<STEM>_STATE_MACHINE_ARN``.
    invoked_functions / submitted_job_definitions:
        Registry names and job names the role may use (from the placeholders).

    Raises
    ------
    ValueError
        A placeholder naming no function, queue or job definition given here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        stem: str,
        functions: Mapping[str, lambda_.IFunction],
        job_queues: Sequence[batch.IJobQueue] = (),
        job_definitions: Mapping[str, batch.IJobDefinition] | None = None,
        directory: Path = STATE_MACHINES_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        path = directory / f"{stem}.asl.json"
        text = path.read_text()
        job_definitions = dict(job_definitions or {})
        self.name = state_machine_name(config, stem)
        self.env_var = state_machine_env_var(stem)
        by_placeholder = {function_placeholder(name): name for name in functions}
        by_job_placeholder = {job_definition_placeholder(name): name for name in job_definitions}
        substitutions: dict[str, str] = {}
        self.invoked_functions: list[str] = []
        self.submitted_job_definitions: list[str] = []
        for placeholder in placeholders(text):
            if placeholder in by_placeholder:
                name = by_placeholder[placeholder]
                self.invoked_functions.append(name)
                substitutions[placeholder] = functions[name].function_arn
            elif placeholder in by_job_placeholder:
                name = by_job_placeholder[placeholder]
                self.submitted_job_definitions.append(name)
                substitutions[placeholder] = job_definitions[name].job_definition_arn
            elif placeholder == JOB_QUEUE_PLACEHOLDER and job_queues:
                substitutions[placeholder] = job_queues[0].job_queue_arn
            else:
                raise ValueError(
                    f"{path}: placeholder ${{{placeholder}}} names no function, job queue or job "
                    "definition given to this state machine (see keyframe.substitutions for the names)"
                )

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"{self.name}: invoke its task functions, run its Batch jobs, log, trace",
        )
        self._grant_invoke([functions[name] for name in self.invoked_functions])
        if self.submitted_job_definitions:
            self._grant_batch(job_queues, [job_definitions[name] for name in self.submitted_job_definitions])
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # /aws/vendedlogs/ keeps Step Functions log delivery off the account's log resource policy.
            # A per-stack suffix: a retained group of a deleted stack never blocks its re-creation.
            log_group_name=per_stack_name(f"/aws/vendedlogs/states/{self.name}"),
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(text),
            definition_substitutions=substitutions,
            role=self.role,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
            tracing_enabled=True,
        )
        # Aliases are invoked by their exact ARN; only a bare function needs '<arn>:*' (and its finding).
        invoked = [functions[name] for name in self.invoked_functions]
        self._suppress_findings(versions_granted=any(not isinstance(f, lambda_.Alias) for f in invoked))

    def set_arn_on(self, functions: Iterable[lambda_.Function]) -> None:
        """Give ``functions`` the machine's ARN as :attr:`env_var`."""
        for function in functions:
            function.add_environment(self.env_var, self.state_machine.state_machine_arn)

    def _grant_invoke(self, functions: Sequence[lambda_.IFunction]) -> None:
        if not functions:
            return
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTaskFunctions",
                actions=["lambda:InvokeFunction"],
                # An alias is invoked by its exact ARN; a bare function (tests) also by its versions.
                resources=[
                    arn
                    for f in functions
                    for arn in (
                        (f.function_arn,)
                        if isinstance(f, lambda_.Alias)
                        else (f.function_arn, f"{f.function_arn}:*")
                    )
                ],
            )
        )

    def _grant_batch(
        self, queues: Sequence[batch.IJobQueue], definitions: Sequence[batch.IJobDefinition]
    ) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="SubmitJobs",
                actions=["batch:SubmitJob"],
                resources=[q.job_queue_arn for q in queues] + [d.job_definition_arn for d in definitions],
            )
        )
        # .sync waits on the job: DescribeJobs to poll (no resource-level permission exists for it),
        # TerminateJob when the execution stops (it authorizes on the job ARN: job ids exist only at
        # run time, so this account and region's 'job/*').
        self.role.add_to_policy(
            iam.PolicyStatement(sid="FollowJobs", actions=["batch:DescribeJobs"], resources=["*"])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="StopJobs",
                actions=["batch:TerminateJob"],
                resources=[
                    Stack.of(self).format_arn(
                        service="batch",
                        resource="job",
                        resource_name="*",
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="BatchJobEvents",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    Stack.of(self).format_arn(
                        service="events", resource="rule", resource_name=BATCH_EVENTS_RULE
                    )
                ],
            )
        )

    def _suppress_findings(self, *, versions_granted: bool) -> None:
        suppressions = [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="No resource-level permission exists for these: X-Ray segments, Step Functions "
                "log delivery (logs:*LogDelivery, DescribeLogGroups...) and, for .sync Batch tasks, "
                "batch:DescribeJobs.",
                applies_to=["Resource::*"],
            ),
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="batch:TerminateJob (a .sync Batch task stopped with its execution) authorizes on "
                "the job ARN only, and job ids exist only at run time: 'job/*' of this account and region.",
                applies_to=[
                    RegexAppliesTo(
                        regex="/^Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job\\/\\*$/g"
                    )
                ],
            ),
        ]
        if versions_granted:
            suppressions.append(
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="'<function ARN>:*' is the same task function's versions and aliases; the "
                    "statement lists only the functions the definition's placeholders name.",
                    applies_to=[RegexAppliesTo(regex="/^Resource::<.+\\.?Arn>:\\*$/g")],
                )
            )
        NagSuppressions.add_resource_suppressions(self.role, suppressions, apply_to_children=True)


class AssetPipeline(Construct):
    """The asset pipeline's state machine, its Batch job definition and its alarms.

    Parameters
    ----------
    config:
        The stage.
    functions:
        Every function; the machine invokes the ``pipeline-*`` tasks its ASL names, and the functions
        that may start it (:func:`infra.grants.starters`) get ``ASSET_PIPELINE_STATE_MACHINE_ARN``.
    jobs:
        The shared Batch resources; the ``media`` job definition (``MEDIA_JOB``) is added to them.
    environment:
        The functions' environment, from which the media job takes :data:`MEDIA_WORKER_VARIABLES`.
    monitoring:
        Where the alarms go.
    fast_path:
        Registry name -> alias of functions built elsewhere that the ASL names: ``pipeline-derive``
        (the Lambda derive of :mod:`infra.media_fast_path`, a nested stack).

    Attributes
    ----------
    workflow:
        The :class:`AslStateMachine`; ``state_machine`` is its machine.
    media_job:
        The Derive step's :class:`infra.batch.BatchJob`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Functions,
        jobs: BatchJobs,
        environment: Mapping[str, str],
        monitoring: Monitoring,
        fast_path: Mapping[str, lambda_.IFunction] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.media_job: BatchJob = jobs.add_job_definition(
            MEDIA_JOB, environment=media_worker_environment(environment)
        )
        self.workflow = AslStateMachine(
            self,
            "Workflow",
            config=config,
            stem=STEM,
            functions={**functions.aliases(), **(fast_path or {})},
            job_queues=[jobs.queue],
            job_definitions={self.media_job.name: self.media_job.definition},
        )
        self.state_machine = self.workflow.state_machine
        self.workflow.set_arn_on(functions[name] for name in starters(STEM))
        self.safety_net_rule, self.dead_letters = add_safety_net(
            self,
            config=config,
            state_machine=self.state_machine,
            mark_failed=functions.alias(MARK_FAILED_FUNCTION),
            monitoring=monitoring,
            texts=SafetyNetTexts(
                rule_description="an asset pipeline execution ended FAILED, TIMED_OUT or ABORTED; "
                f"{MARK_FAILED_FUNCTION} fails its run and version if the execution's Catch did not",
                alarm_id="AssetPipelineSafetyNetDeadLetters",
                alarm_description="an asset pipeline execution's end could not be recorded (its version "
                "may stay PROCESSING): read the safety net's dead-letter queue",
                nag_reason="This queue is itself a dead-letter queue: of the safety-net rule's Lambda "
                "target and of pipeline-mark-failed's asynchronous invocations (EventBridge and Lambda "
                "DLQs, which cdk-nag does not recognise as it does an SQS redrive policy).",
            ),
        )
        self._monitor(monitoring)

    def _monitor(self, monitoring: Monitoring) -> None:
        monitoring.watch_state_machine(
            "AssetPipeline",
            self.state_machine,
            title="Asset pipeline",
            failed_description="asset pipeline executions failed (a burst: not one bad file)",
            failed_threshold=PIPELINE_FAILURES_THRESHOLD,
            timed_out_description="an asset pipeline execution ran past its 6 h timeout",
        )
