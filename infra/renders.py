"""Render jobs: the render state machine, the render container's Batch job definition, their alarms.

``statemachines/render.asl.json`` (one execution per attempt of a render job: ChooseQueue ->
RunRender on AWS Batch (``batch:submitJob.sync``) -> Finalize, every failure to MarkFailed) is
deployed with :class:`infra.pipeline.AslStateMachine`, like the asset pipeline. Its placeholders:

=================================  ==============================================================
``${JobQueueArn}``                 the normal queue ``{name}-jobs`` (NORMAL and LOW renders)
``${RenderJobDefinitionArn}``      the ``render`` job definition added here from ``RENDER_JOB``
``${RenderFinalizeFunctionArn}``   ``render-finalize``
``${RenderMarkFailedFunctionArn}`` ``render-mark-failed``
=================================  ==============================================================

A HIGH render names the high-priority queue in its input (``jobQueue``, set by
``keyframe.renders.execution`` from ``RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN``), so the machine's role may
submit to both queues, and only the render job definition.

The functions whose :data:`infra.grants.GRANTS` entry lists ``StartStateMachine("render")`` (the
renders API) get ``RENDER_STATE_MACHINE_ARN`` and ``RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN``. The job's
role is the ``render`` entry of :data:`infra.grants.JOB_GRANTS`.

The job definition ``{name}-render`` runs ``python -m keyframe.renders.worker`` in the media image
(2 vCPU, 4 GiB, 1 h per try, 3 tries; exit code 3 ends at once: ``keyframe.renders.jobs``). Its
container gets exactly what the worker reads (:data:`RENDER_WORKER_VARIABLES`).

Safety net: an execution that ends outside its Catch (its own 4 h timeout, a StopExecution that was
not a cancel, a failure in a state without a Catch) would leave its job RUNNING for ever. An
EventBridge rule sends every "Step Functions Execution Status Change" of this machine that ended
FAILED, TIMED_OUT or ABORTED, whole, to ``render-mark-failed`` (``keyframe.renders.tasks.mark_failed``
reads the job from ``detail.input``; a job already ended is left as it is). Events EventBridge cannot
deliver, and invocations that still fail after Lambda's two asynchronous retries, land in an encrypted
dead-letter queue, which alarms (:func:`infra.safety_net.add_safety_net`, shared with the asset
pipeline).

Scene renders (``kind: scene``): ProbeScene (``submitJob.sync``) -> PlanChunks (``render-finalize``
with ``plan: true``: the chunk count the probe recorded) -> RenderChunks, one ``submitJob`` with
``ArrayProperties.Size`` (each child retries alone under ``evaluateOnExit``; one chunk is a plain job)
-> Assemble (``submitJob.sync`` with ``DependsOn`` the array job, so it starts when every child
succeeded and fails at once when one failed after its retries) -> Finalize. The three steps run in the
``render`` definition with ``python -m keyframe.renders.scene_worker --step ...`` as a command override.
Cancel terminates the array job, which terminates every child (``keyframe.renders.requests``).

Monitoring: a burst of failed executions and any timed-out execution alarm; a Batch job that failed
after its last try is already reported by :class:`infra.batch.BatchJobs` (both queues).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.batch import BatchJob, BatchJobs
from infra.config import StageConfig
from infra.functions import Functions
from infra.grants import RENDER_STATE_MACHINE, starters
from infra.monitoring import Monitoring
from infra.pipeline import AslStateMachine
from infra.safety_net import SafetyNetTexts, add_safety_net, ended_execution_pattern
from keyframe.renders.jobs import RENDER_JOB
from keyframe.storage.tables import CATALOG, LIVE, RENDERS

STEM = RENDER_STATE_MACHINE

RENDER_WORKER_VARIABLES: tuple[str, ...] = (
    RENDERS.env_var,
    "MEDIA_BUCKET",
    CATALOG.env_var,
    LIVE.env_var,
    "LIVE_CONNECTIONS_ENDPOINT",
)
"""What ``python -m keyframe.renders.worker`` reads: ``RendersSettings`` (the renders table, the bucket of
sources and outputs), the outbox of its events (catalog), the publisher's event log and its
``@connections`` endpoint. ``WorkerSettings`` (``RENDER_FONT_FILE``, ``RENDER_WORK_DIR``) stay unset:
the image's FFmpeg finds DejaVu through fontconfig, and the temporary folder is on the task's
ephemeral storage. ``POWERTOOLS_SERVICE_NAME`` comes from ``RENDER_JOB``; ECS sets ``AWS_REGION``,
Batch ``AWS_BATCH_JOB_ID``/``AWS_BATCH_JOB_ATTEMPT``."""

HIGH_PRIORITY_QUEUE_VARIABLE = "RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN"
"""``keyframe.renders.config.ExecutionSettings``: the queue a HIGH render's execution input names."""

RENDER_FAILURES_THRESHOLD = 5
"""Failed executions in 5 minutes before the alarm fires. A render that fails on its input (a corrupt
source, a trim past the end) ends in the machine's Fail state by design, and one studio may have 4
renders in flight (``MAX_CONCURRENT_RENDERS_PER_STUDIO``) of the same bad source; 5 is more than one
studio's bad luck."""


MARK_FAILED_FUNCTION = "render-mark-failed"
"""The task that ends a job FAILED; also the target of the safety-net rule."""


def render_worker_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The render job's container variables, picked from the functions' ``environment``.

    Raises
    ------
    KeyError
        ``environment`` lacks one of :data:`RENDER_WORKER_VARIABLES`.
    """
    return {name: environment[name] for name in RENDER_WORKER_VARIABLES}


class RenderJobs(Construct):
    """The render workflow: its state machine, its Batch job definition and its alarms.

    Parameters
    ----------
    config:
        The stage.
    functions:
        Every function; the machine invokes ``render-finalize`` and ``render-mark-failed``, and the
        functions that may start it (:func:`infra.grants.starters`) learn its ARN and the high queue.
    jobs:
        The shared Batch resources; the ``render`` job definition (``RENDER_JOB``) is added to them.
    environment:
        The functions' environment, from which the job takes :data:`RENDER_WORKER_VARIABLES`.
    monitoring:
        Where the alarms go.

    Attributes
    ----------
    job:
        The render container's :class:`infra.batch.BatchJob`.
    workflow:
        The :class:`infra.pipeline.AslStateMachine`; ``state_machine`` is its machine.
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
    ) -> None:
        super().__init__(scope, construct_id)
        self.job: BatchJob = jobs.add_job_definition(
            RENDER_JOB, environment=render_worker_environment(environment)
        )
        self.workflow = AslStateMachine(
            self,
            "Workflow",
            config=config,
            stem=STEM,
            functions=functions.aliases(),
            job_queues=[jobs.queue, jobs.high_priority_queue],
            job_definitions={self.job.name: self.job.definition},
        )
        self.state_machine = self.workflow.state_machine
        self._high_priority_queue = jobs.high_priority_queue
        self.configure_launchers([functions[name] for name in starters(STEM)])
        self.dead_letters = self._add_safety_net(config, functions.alias(MARK_FAILED_FUNCTION), monitoring)
        self._monitor(monitoring)

    def configure_launchers(self, launchers: list[lambda_.Function]) -> None:
        """Give functions that start renders the machine's ARN and the high-priority queue's ARN."""
        self.workflow.set_arn_on(launchers)
        for function in launchers:
            function.add_environment(HIGH_PRIORITY_QUEUE_VARIABLE, self._high_priority_queue.job_queue_arn)

    def ended_execution_pattern(self) -> events.EventPattern:
        """EventBridge pattern of an execution of this machine ending FAILED, TIMED_OUT or ABORTED."""
        return ended_execution_pattern(self.state_machine)

    def _add_safety_net(
        self, config: StageConfig, mark_failed: lambda_.IFunction, monitoring: Monitoring
    ) -> sqs.Queue:
        """The rule sending ended executions to ``render-mark-failed``; returns its dead-letter queue."""
        _, dead_letters = add_safety_net(
            self,
            config=config,
            state_machine=self.state_machine,
            mark_failed=mark_failed,
            monitoring=monitoring,
            texts=SafetyNetTexts(
                rule_description="a render execution ended FAILED, TIMED_OUT or ABORTED; "
                f"{MARK_FAILED_FUNCTION} ends its job if the execution's Catch did not",
                alarm_id="RenderSafetyNetDeadLetters",
                alarm_description="a render execution's end could not be recorded (its job may stay "
                "RUNNING): read the safety net's dead-letter queue",
                nag_reason="This queue is itself a dead-letter queue: of the safety-net rule's Lambda "
                "target and of render-mark-failed's asynchronous invocations (EventBridge and Lambda "
                "DLQs, which cdk-nag does not recognise as it does an SQS redrive policy).",
            ),
        )
        return dead_letters

    def _monitor(self, monitoring: Monitoring) -> None:
        monitoring.watch_state_machine(
            "RenderExecutions",
            self.state_machine,
            title="Render",
            failed_description="render executions failed (a burst: more than one studio's bad sources)",
            failed_threshold=RENDER_FAILURES_THRESHOLD,
            timed_out_description=(
                "a render execution ran past its 4 h timeout (its job may still be RUNNING)"
            ),
            show_aborted=True,
        )
