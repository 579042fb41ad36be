"""AWS Batch on the local stack: the job definitions Keyframe declares.

Declaring a job definition
--------------------------
Append a :class:`JobDefinitionSpec` to :data:`JOB_DEFINITIONS` (one line per definition). The local
stack registers each one on the emulator as ``keyframe-{stage}-{name}`` in the job queue
``keyframe-{stage}-jobs``, and state machines reach it through the ``${<Name>JobDefinitionArn}`` and
``${JobQueueArn}`` placeholders (see :mod:`keyframe.local.bootstrap`). :meth:`JobDefinitionSpec.
register_request` is the exact ``RegisterJobDefinition`` request, so the CDK app can build its
``CfnJobDefinition`` from the same spec.

Running their jobs is :mod:`keyframe.local.batch_queue` (the job queue and each job's status, the
API the emulator answers), :mod:`keyframe.local.batch_runner` (one attempt as a local subprocess,
its output in the job's log file) and :mod:`keyframe.local.batch_jobs` (the job record and Batch's
rules: ``Ref::`` substitution, ``evaluateOnExit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keyframe.media.jobs import MEDIA_JOB
from keyframe.renders.jobs import RENDER_JOB


@dataclass(frozen=True)
class JobDefinitionSpec:
    """One Batch job definition (container type, EC2 platform).

    Attributes
    ----------
    name:
        Logical name (``render``); the physical name is ``keyframe-{stage}-{name}``.
    command:
        The container command, e.g. ``("python", "-m", "keyframe.renders.worker", "Ref::jobId")``.
        ``Ref::<param>`` tokens are replaced by the job's parameters.
    vcpus / memory_mib:
        Resource requirements (informational locally).
    timeout_seconds:
        ``timeout.attemptDurationSeconds`` (None: no timeout).
    retry_attempts:
        ``retryStrategy.attempts`` (1 to 10).
    evaluate_on_exit:
        ``retryStrategy.evaluateOnExit`` entries, e.g. ``{"onExitCode": "137", "action": "RETRY"}``.
    environment / parameters:
        Default container environment and default parameters.
    image:
        The container image in the cloud (unused locally).
    """

    name: str
    command: tuple[str, ...]
    vcpus: float = 1.0
    memory_mib: int = 2048
    timeout_seconds: int | None = None
    retry_attempts: int = 1
    evaluate_on_exit: tuple[dict[str, str], ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    image: str = "keyframe-worker:latest"

    def physical_name(self, stage: str) -> str:
        """``keyframe-{stage}-{name}``."""
        return f"keyframe-{stage}-{self.name}"

    def register_request(self, stage: str) -> dict[str, Any]:
        """The boto3 ``batch.register_job_definition`` arguments for this spec."""
        request: dict[str, Any] = {
            "jobDefinitionName": self.physical_name(stage),
            "type": "container",
            "parameters": dict(self.parameters),
            "containerProperties": {
                "image": self.image,
                "command": list(self.command),
                "resourceRequirements": [
                    {"type": "VCPU", "value": f"{self.vcpus:g}"},
                    {"type": "MEMORY", "value": str(self.memory_mib)},
                ],
                "environment": [{"name": k, "value": v} for k, v in sorted(self.environment.items())],
            },
            "retryStrategy": {
                "attempts": self.retry_attempts,
                "evaluateOnExit": [dict(entry) for entry in self.evaluate_on_exit],
            },
            "platformCapabilities": ["EC2"],
        }
        if self.timeout_seconds:
            request["timeout"] = {"attemptDurationSeconds": self.timeout_seconds}
        return request


JOB_DEFINITIONS: list[JobDefinitionSpec] = [
    # The asset pipeline's Derive step (keyframe.media.worker): data in keyframe.media.jobs, shared with CDK.
    JobDefinitionSpec(**MEDIA_JOB),
    # Render jobs (keyframe.renders.worker): definition data in keyframe.renders.jobs, shared with CDK.
    JobDefinitionSpec(**RENDER_JOB),
]
"""Every Batch job definition of Keyframe (one entry per definition; the render issue adds its own)."""

JOB_QUEUE = "jobs"
"""Logical name of the one job queue (``keyframe-{stage}-jobs``)."""

COMPUTE_ENVIRONMENT = "compute"
"""Logical name of the compute environment (``keyframe-{stage}-compute``)."""
