"""The media container's AWS Batch job definition, as data both CDK and the local stack read.

``keyframe.local.batch.JobDefinitionSpec(**MEDIA_JOB)`` is the local stack's job definition; the CDK
app builds its ``CfnJobDefinition`` (Fargate) from the same values. State machines reach it as
``${MediaJobDefinitionArn}``; its parameters ``studioId`` and ``uploadId`` fill ``Ref::`` tokens.
"""

from __future__ import annotations

from typing import Any

from keyframe.exit_codes import RETRY_RULES

MEDIA_JOB: dict[str, Any] = {
    "name": "media",
    "command": (
        "python",
        "-m",
        "keyframe.media.worker",
        "derive",
        "--studio-id",
        "Ref::studioId",
        "--upload-id",
        "Ref::uploadId",
    ),
    "vcpus": 2.0,
    "memory_mib": 4096,
    "timeout_seconds": 3600,
    "retry_attempts": 3,
    "evaluate_on_exit": RETRY_RULES,
}
"""Worker command, 2 vCPU / 4 GiB, 1 h per attempt, 3 attempts: exit code 3 (invalid file) and 2 (bad
command line) end at once; infrastructure failures (``Host EC2*``, ``CannotPullContainerError*``) and
other exit codes retry (:data:`keyframe.exit_codes.RETRY_RULES`, shared with the render job)."""
