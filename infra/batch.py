"""AWS Batch for Keyframe's containers: the network, one Fargate compute environment, two job queues,
the media image, and the job definitions the workflows submit to.

Shared by the asset pipeline (``infra/pipeline.py``: the Derive step) and the render workflow (render
jobs): each adds its job definition with :meth:`BatchJobs.add_job_definition` from a spec dict
(``keyframe.media.jobs.MEDIA_JOB``, ``keyframe.renders.jobs.RENDER_JOB``), the same data the local
stack registers (``keyframe.local.batch.JobDefinitionSpec(**spec)``), and lists what its job role may
do in :data:`infra.grants.JOB_GRANTS` (applied by :meth:`BatchJobs.grant`, last, like the functions').

Network
-------
Jobs run in private subnets of a two-AZ VPC with no public IP. They reach AWS through:

- gateway endpoints for S3 and DynamoDB (free; the media bytes and every table call stay off the NAT);
- one NAT gateway (two in prod, one per AZ) for the rest: the ECR API, CloudWatch Logs and, above all,
  the live WebSocket's ``@connections`` management API. That API is a *public* execute-api endpoint: an
  ``execute-api`` interface endpoint with private DNS would capture its hostname and answer only for
  private REST APIs, so a NAT is needed anyway, and one NAT costs less than the four interface endpoints
  (ECR api + dkr, Logs, STS) it would replace in two AZs.

The jobs' security group allows outbound HTTPS only and no inbound traffic. Flow logs (all traffic) go
to a log group with the stage's retention.

Queues and priority
-------------------
``{name}-jobs`` (priority 10) takes every asset pipeline job and NORMAL/LOW renders; ``{name}-jobs-high``
(priority 100) takes HIGH renders.

Cost: the normal queue runs on **Fargate Spot** first (about 70 % cheaper; a reclaimed task is retried
by the job's retry rules) and falls back to on-demand Fargate when the Spot environment is at its vCPU
ceiling; the high-priority queue runs on on-demand Fargate only, so a HIGH render is never reclaimed.
Jobs run on X86_64: Fargate Spot runs only X86_64 Linux tasks (an ARM64 job in a Spot environment
blocks its queue), and the same job definitions run on both environments. The image itself would
build for arm64 (its FFmpeg and PyAV wheels, Blender and Synfig all exist for aarch64); only HIGH
renders, on on-demand Fargate alone, could use Graviton, at the price of a second image build and
job definition.

Image
-----
One image, built at deploy time from ``functions/media_container/Dockerfile`` with the repository root
as context (synth only stages files: no Docker needed). Its base is an exact tag on the one ``FROM``
line, pinned by digest with ``make media-base-digest`` (:mod:`infra.batch_image`); its FFmpeg and PyAV
are the ``media`` extra of ``pyproject.toml``. What is staged is exactly what the build may
``COPY``: the patterns of ``Dockerfile.dockerignore`` beside the Dockerfile (the one list), then the
Dockerfile itself, then :data:`NEVER_STAGED` as a safety net.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Duration, IgnoreMode, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from infra.batch_image import DOCKERFILE
from infra.config import StageConfig
from infra.grants import JOB_GRANTS, Access, Resources, grants_for_job
from infra.monitoring import Monitoring
from keyframe.registry import REPO_ROOT

DOCKERIGNORE = REPO_ROOT / "functions" / "media_container" / "Dockerfile.dockerignore"

NEVER_STAGED: tuple[str, ...] = (
    "**/.git",
    "**/.venv",
    "**/cdk.out",
    "**/node_modules",
    "**/.keyframe",
    "**/__pycache__",
    "**/*.pyc",
)
"""Excluded after the dockerignore patterns, whatever they say: never sent to a Docker build."""

VPC_CIDR = "10.40.0.0/16"
MAX_AZS = 2
NAT_GATEWAYS: Mapping[str, int] = {"dev": 1, "prod": 2}
"""One NAT in dev (cheap; an AZ outage pauses jobs), one per AZ in prod."""

MAX_VCPUS: Mapping[str, int] = {"dev": 16, "prod": 256}
"""Ceiling of the compute environment: 8 concurrent 2-vCPU jobs in dev (a cost guard), 128 in prod."""

QUEUE_PRIORITY = 10
HIGH_QUEUE_PRIORITY = 100

EPHEMERAL_STORAGE_GIB = 30
"""Fargate task storage (default 20 GiB, minimum explicit 21): FFmpeg writes proxies/renders to /tmp
before the multipart upload; 30 GiB leaves room for a feature-length proxy."""

RETRY_KEYS: Mapping[str, str] = {
    "onExitCode": "on_exit_code",
    "onReason": "on_reason",
    "onStatusReason": "on_status_reason",
}
"""``evaluateOnExit`` keys of a job spec (Batch API names) -> ``batch.Reason.custom`` arguments."""


def dockerignore_patterns(path: Path = DOCKERIGNORE) -> list[str]:
    """The patterns of a ``.dockerignore`` file (comments and blank lines dropped), in order."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def image_excludes(dockerfile: str = DOCKERFILE, dockerignore: Path = DOCKERIGNORE) -> list[str]:
    """What CDK must not stage for the image (Docker ignore syntax, ``!`` re-includes).

    CDK only re-includes a Dockerfile at the context root, so the nested one is re-included here.
    """
    return [*dockerignore_patterns(dockerignore), f"!{dockerfile}", *NEVER_STAGED]


def retry_strategies(evaluate_on_exit: tuple[Mapping[str, str], ...]) -> list[batch.RetryStrategy]:
    """``[{"onExitCode": "3", "action": "EXIT"}, ...]`` -> Batch retry strategies, in order.

    Raises
    ------
    ValueError
        An entry with an unknown key or action, or with no condition.
    """
    strategies = []
    for entry in evaluate_on_exit:
        conditions = {key: value for key, value in entry.items() if key != "action"}
        unknown = set(conditions) - set(RETRY_KEYS)
        if unknown or not conditions or entry.get("action") not in ("EXIT", "RETRY"):
            raise ValueError(f"Invalid evaluateOnExit entry {dict(entry)}: use {sorted(RETRY_KEYS)} + action")
        reason = batch.Reason.custom(**{RETRY_KEYS[key]: value for key, value in conditions.items()})
        strategies.append(batch.RetryStrategy.of(getattr(batch.Action, entry["action"]), reason))
    return strategies


@dataclass(frozen=True)
class BatchJob:
    """One job definition and its roles.

    Attributes
    ----------
    name:
        The spec's logical name (``media``); physical name ``{config.name}-{name}``.
    definition:
        The ``EcsJobDefinition`` (its ``job_definition_arn`` carries the revision).
    job_role:
        What the container's code may do (its :data:`infra.grants.JOB_GRANTS` entry).
    execution_role:
        What ECS needs to start it: pull the image, write the log group.
    log_group:
        The container's ``awslogs`` group.
    """

    name: str
    definition: batch.EcsJobDefinition
    job_role: iam.Role
    execution_role: iam.Role
    log_group: logs.LogGroup


class BatchJobs(Construct):
    """The VPC, the Fargate compute environment, the job queues, the image and the job definitions.

    Parameters
    ----------
    config:
        The stage (names, retention, NAT count, vCPU ceiling).
    monitoring:
        When given, every FAILED job of these queues is published to its alarm topic.

    Attributes
    ----------
    vpc / security_group:
        Where jobs run (private subnets, HTTPS out only).
    compute_environment / spot_compute_environment:
        Managed Fargate, on-demand / Fargate Spot (same subnets, security group and vCPU ceiling).
    queue / high_priority_queue:
        ``{name}-jobs`` and ``{name}-jobs-high`` (see the module docstring).
    image:
        The media container image asset.
    jobs:
        Job definitions added so far, by logical name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        monitoring: Monitoring | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.jobs: dict[str, BatchJob] = {}
        self.vpc = self._vpc(config)
        self.security_group = ec2.SecurityGroup(
            self,
            "JobsSecurityGroup",
            vpc=self.vpc,
            description=f"{config.name} Batch jobs: no inbound, HTTPS out",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs (via endpoints/NAT) and presigned S3 URLs"
        )
        self.compute_environment = batch.FargateComputeEnvironment(
            self,
            "Fargate",
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            maxv_cpus=MAX_VCPUS[config.stage],
            spot=False,
        )
        self.spot_compute_environment = batch.FargateComputeEnvironment(
            self,
            "FargateSpot",
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[self.security_group],
            maxv_cpus=MAX_VCPUS[config.stage],
            spot=True,
        )
        # NORMAL/LOW renders and derives: Spot first, on-demand when Spot is full. HIGH: on-demand only.
        self.queue = self._queue(
            "Queue",
            f"{config.name}-media-jobs",
            QUEUE_PRIORITY,
            [self.spot_compute_environment, self.compute_environment],
        )
        self.high_priority_queue = self._queue(
            "HighPriorityQueue",
            f"{config.name}-media-jobs-high",
            HIGH_QUEUE_PRIORITY,
            [self.compute_environment],
        )
        self.image = ecr_assets.DockerImageAsset(
            self,
            "MediaImage",
            directory=str(REPO_ROOT),
            file=DOCKERFILE,
            exclude=image_excludes(),
            ignore_mode=IgnoreMode.DOCKER,
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        if monitoring is not None:
            monitoring.notify_on(
                "BatchJobFailed",
                description="a Batch job failed after its last attempt",
                event_pattern=self.failed_job_pattern(),
                message=events.RuleTargetInput.from_text(
                    f"{config.name}: Batch job {events.EventField.from_path('$.detail.jobName')} "
                    f"({events.EventField.from_path('$.detail.jobId')}) FAILED: "
                    f"{events.EventField.from_path('$.detail.statusReason')}"
                ),
            )

    # ------------------------------------------------------------------ public
    @property
    def queues(self) -> list[batch.JobQueue]:
        """Every job queue (normal first)."""
        return [self.queue, self.high_priority_queue]

    def queue_for(self, priority: str) -> batch.JobQueue:
        """The queue of a render priority: ``HIGH`` -> the high-priority queue, else the normal one."""
        return self.high_priority_queue if priority.upper() == "HIGH" else self.queue

    def failed_job_pattern(self) -> events.EventPattern:
        """EventBridge pattern of a job of these queues ending FAILED (after every retry)."""
        return events.EventPattern(
            source=["aws.batch"],
            detail_type=["Batch Job State Change"],
            detail={"status": ["FAILED"], "jobQueue": [queue.job_queue_arn for queue in self.queues]},
        )

    def add_job_definition(
        self,
        spec: Mapping[str, Any],
        *,
        environment: Mapping[str, str] | None = None,
        ephemeral_storage_gib: int = EPHEMERAL_STORAGE_GIB,
    ) -> BatchJob:
        """Add a Fargate job definition built from ``spec`` (``MEDIA_JOB``-shaped) running :attr:`image`.

        Parameters
        ----------
        spec:
            ``name``, ``command`` (``Ref::param`` tokens allowed), ``vcpus``, ``memory_mib``,
            ``timeout_seconds`` (per attempt), ``retry_attempts``, ``evaluate_on_exit`` (Batch
            ``evaluateOnExit`` entries, at most 5), optional ``environment`` and ``parameters``.
        environment:
            Container variables added to (and overriding) the spec's, e.g. table names.
        ephemeral_storage_gib:
            Task storage, 21-200 GiB.

        Returns
        -------
        BatchJob
            The definition and its roles; the job role gets its ``JOB_GRANTS`` entry in :meth:`grant`.

        Raises
        ------
        ValueError
            A second definition of the same name, or an invalid ``evaluate_on_exit`` entry.
        """
        name = str(spec["name"])
        if name in self.jobs:
            raise ValueError(f"Batch job definition {name!r} is already defined")
        scope = Construct(self, _construct_id(name))
        log_group = logs.LogGroup(
            scope, "Logs", retention=self._config.log_retention, removal_policy=self._config.removal_policy
        )
        execution_role = iam.Role(
            scope,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"{self._config.name} {name} job: pull the image, write its log group",
        )
        job_role = iam.Role(
            scope,
            "JobRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"{self._config.name} {name} job: only its JOB_GRANTS entry",
        )
        container = batch.EcsFargateContainerDefinition(
            scope,
            "Container",
            image=ecs.ContainerImage.from_docker_image_asset(self.image),
            command=list(spec["command"]),
            cpu=float(spec["vcpus"]),
            memory=Size.mebibytes(int(spec["memory_mib"])),
            environment={**dict(spec.get("environment") or {}), **dict(environment or {})},
            ephemeral_storage_size=Size.gibibytes(ephemeral_storage_gib),
            assign_public_ip=False,
            fargate_cpu_architecture=ecs.CpuArchitecture.X86_64,
            fargate_operating_system_family=ecs.OperatingSystemFamily.LINUX,
            logging=ecs.LogDriver.aws_logs(stream_prefix=name, log_group=log_group),
            execution_role=execution_role,
            job_role=job_role,
        )
        timeout = spec.get("timeout_seconds")
        definition = batch.EcsJobDefinition(
            scope,
            "Definition",
            job_definition_name=f"{self._config.name}-{name}",
            container=container,
            parameters=dict(spec.get("parameters") or {}) or None,
            retry_attempts=int(spec.get("retry_attempts") or 1),
            retry_strategies=retry_strategies(tuple(spec.get("evaluate_on_exit") or ())),
            timeout=Duration.seconds(int(timeout)) if timeout else None,
            propagate_tags=True,
        )
        job = BatchJob(name, definition, job_role, execution_role, log_group)
        self.jobs[name] = job
        _suppress_execution_role_findings(execution_role)
        return job

    def grant(self, resources: Resources, grants: Mapping[str, tuple[Access, ...]] = JOB_GRANTS) -> None:
        """Give each job role exactly its :data:`infra.grants.JOB_GRANTS` entry (the stack calls it last).

        Raises
        ------
        LookupError
            A job definition without an entry.
        """
        for name, job in self.jobs.items():
            for access in grants_for_job(name, grants):
                access.apply(job.job_role, resources)
            _suppress_job_role_findings(job.job_role)

    # --------------------------------------------------------------- internals
    def _vpc(self, config: StageConfig) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=MAX_AZS,
            nat_gateways=NAT_GATEWAYS[config.stage],
            subnet_configuration=[
                # Public subnets hold only the NAT gateways (Elastic IPs): nothing launched there gets an IP.
                ec2.SubnetConfiguration(
                    name="public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name="jobs", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
        )
        flow_logs = logs.LogGroup(
            self, "FlowLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    def _queue(
        self,
        construct_id: str,
        name: str,
        priority: int,
        environments: list[batch.FargateComputeEnvironment],
    ) -> batch.JobQueue:
        return batch.JobQueue(
            self,
            construct_id,
            job_queue_name=name,
            priority=priority,
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=environment, order=order)
                for order, environment in enumerate(environments, start=1)
            ],
        )


def _construct_id(name: str) -> str:
    """``media`` -> ``MediaJob``."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-")) + "Job"


def _suppress_execution_role_findings(role: iam.Role) -> None:
    NagSuppressions.add_resource_suppressions(
        role,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="ecr:GetAuthorizationToken supports no resource-level permission; the layer pulls "
                "are limited to the CDK asset repository holding the image.",
                applies_to=["Resource::*"],
            )
        ],
        apply_to_children=True,
    )


def _suppress_job_role_findings(role: iam.Role) -> None:
    # The wildcards of a JOB_GRANTS entry are in the job role's default policy; suppress them there only.
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        return
    NagSuppressions.add_resource_suppressions(
        policy,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="'<table>/index/*' covers the GSIs of a table that JOB_GRANTS lets this job use "
                "(the same actions as on the table itself).",
                applies_to=[RegexAppliesTo(regex="/^Resource::<.+\\.?Arn>\\/index\\/\\*$/g")],
            ),
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="Media keys are studios/{studioId}/assets/{assetId}/...: the job learns studio, asset "
                "and version from its record at run time, so the grant names the key shape (originals "
                "under uploads/ read, files under versions/*/derived/ written), never the whole bucket.",
                applies_to=[RegexAppliesTo(regex="/^Resource::<.+\\.?Arn>\\/studios\\/\\*\\/assets\\/.+$/g")],
            ),
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="@connections/{connectionId}: connection ids exist only at run time; the grant is "
                "limited to the live WebSocket API's own stage.",
                applies_to=[
                    RegexAppliesTo(regex="/^Resource::arn:.+:execute-api:.+\\/@connections\\/\\*$/g")
                ],
            ),
        ],
        apply_to_children=True,
    )
