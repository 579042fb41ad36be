"""The render container's AWS Batch job definition, as data both CDK and the local stack read.

``keyframe.local.batch.JobDefinitionSpec(**RENDER_JOB)`` is the local stack's job definition; the CDK
app builds its ``CfnJobDefinition`` from the same values, with the media image (the render entrypoint
is a different module in the same image). The render state machine reaches it as
``${RenderJobDefinitionArn}`` and fills its ``Ref::`` parameters ``renderJobId``, ``studioId`` and
``attempt``.

Timeouts: each preset has its own limit per try (:data:`PRESET_TIMEOUT_SECONDS`), which the execution
input carries (``timeoutSeconds``) and the state machine passes to ``SubmitJob`` as
``Timeout.AttemptDurationSeconds``; the definition's ``timeout_seconds`` (the longest) applies to a job
submitted without one.

Retries (``retryStrategy``): the rules of every container, :data:`keyframe.exit_codes.RETRY_RULES`.
Infrastructure failures (a reclaimed Spot host, an image pull or task start failure) and exit codes
1/4 retry, up to 3 tries per attempt; exit codes 3 (the job cannot run with this container) and 2
(bad command line) end at once. Batch never retries a job stopped by ``TerminateJob`` (cancel) or by
its timeout.
"""

from __future__ import annotations

from typing import Any

from keyframe.exit_codes import RETRY_RULES

RENDER_JOB: dict[str, Any] = {
    "name": "render",
    "command": (
        "python", "-m", "keyframe.renders.worker",
        "--job-id", "Ref::renderJobId", "--studio-id", "Ref::studioId", "--attempt", "Ref::attempt",
    ),
    "vcpus": 2.0,
    "memory_mib": 4096,
    "timeout_seconds": 3600,
    "retry_attempts": 3,
    "evaluate_on_exit": RETRY_RULES,
    "environment": {"POWERTOOLS_SERVICE_NAME": "renders-worker"},
}  # fmt: skip
"""Worker command, 2 vCPU / 4 GiB, 1 h per try, 3 tries: exit codes 3 and 2 end at once, the rest retries."""

PRESET_TIMEOUT_SECONDS: dict[str, int] = {
    "filmstrip": 600,
    "review-mp4": 1800,
    "hls": 3600,
    "scene-frames": 3600,
    "scene-review": 3600,
}
"""Seconds one try of a render of each preset may run before Batch stops it: a filmstrip decodes N
frames (10 min), a review MP4 is one H.264 encode (30 min), the HLS ladder three (1 h, the definition's
own limit). The scene presets' steps run under the definition's own 1 h per try (a chunk is sized for
2-5 minutes of rendering). The render state machine's ``RunRender`` state allows 3 tries of the longest."""


def attempt_timeout_seconds(preset: str | None) -> int:
    """Seconds one try of a render of ``preset`` may run; the job definition's limit for an unknown one."""
    return PRESET_TIMEOUT_SECONDS.get(preset or "", int(RENDER_JOB["timeout_seconds"]))


SCENE_COMMAND: tuple[str, ...] = ("python", "-m", "keyframe.renders.scene_worker")
"""The scene steps (``--step probe|chunk|assemble``) run in :data:`RENDER_JOB`'s definition with this
command as a ``containerOverrides.command`` (the state machine builds the whole line): the same image,
which carries Blender and Synfig, 2 vCPU / 4 GiB, 1 h and 3 tries per try and child, the same exit
rules (a chunk that crashes retries alone; a missing input, exit 3, ends at once). No definition of
their own: the CloudFormation stack is at its 500-resource limit."""

SCENE_CHUNK_VCPUS = 2
"""vCPUs of one array child (the studio's vCPU budget counts children by this)."""
