"""PynamoDB models of the renders table: render jobs (the per-studio quota counters beside them are
:mod:`keyframe.usage.models`).

=====================================  ==========  ===============================================
pk                                     sk          item
=====================================  ==========  ===============================================
``STUDIO#{s}#RENDER#{renderJobId}``    ``JOB``     :class:`RenderJobItem` (the truth about a job)
``STUDIO#{s}#RENDERSLOTS``             ``SLOTS``   the QUEUED + RUNNING count (:mod:`keyframe.usage`)
``STUDIO#{s}#RENDER#{renderJobId}``    ``CHUNK#{i}``  :class:`RenderChunkItem` (one array child of a scene
                                                  render, ``i`` zero-padded to 5 digits)
=====================================  ==========  ===============================================

Indexes of a job (newest first by ``{createdAt}#{renderJobId}``):

- ``gsi1``: ``STUDIO#{s}#RENDERS`` (every job of the studio);
- ``gsi2``: ``STUDIO#{s}#ASSET#{a}#RENDERS`` (the jobs of one asset).

A ``status`` filter is a DynamoDB filter on either index, read within a bounded number of requests.
"""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import RENDERS

JOB_SK = "JOB"
CHUNK_PREFIX = "CHUNK#"


class RenderStatus(StrEnum):
    """Where a render job is: QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def active(self) -> bool:
        """True while the job holds one of its studio's slots (QUEUED or RUNNING)."""
        return self in ACTIVE


ACTIVE = frozenset({RenderStatus.QUEUED, RenderStatus.RUNNING})
TERMINAL = frozenset({RenderStatus.SUCCEEDED, RenderStatus.FAILED, RenderStatus.CANCELLED})


class Priority(StrEnum):
    """How soon a render should run.

    ``HIGH`` goes to the high-priority Batch queue (Batch places its jobs before the standard
    queue's); ``NORMAL`` and ``LOW`` both go to the standard queue and are scheduled **the same**
    today (first in, first out, together with the asset pipeline's jobs): the queue has no fair-share
    scheduling policy, so a job-level ``schedulingPriorityOverride`` would do nothing. ``LOW`` is
    stored and returned so it can take effect once such a policy exists (see
    :mod:`keyframe.renders.execution`).
    """

    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"


def job_pk(studio_id: str, job_id: str) -> str:
    """``STUDIO#{studioId}#RENDER#{renderJobId}``."""
    return f"STUDIO#{studio_id}#RENDER#{job_id}"


def studio_jobs_key(studio_id: str) -> str:
    """gsi1pk of every job of a studio."""
    return f"STUDIO#{studio_id}#RENDERS"


def asset_jobs_key(studio_id: str, asset_id: str) -> str:
    """gsi2pk of the jobs of one asset."""
    return f"STUDIO#{studio_id}#ASSET#{asset_id}#RENDERS"


class RenderJobItem(Model):
    """One render job (renders table). Written only through :mod:`keyframe.renders.service`
    (and its users :mod:`keyframe.renders.requests`, :mod:`keyframe.renders.worker_writes`).

    Attributes (JSON names in brackets)
    ----------
    attempts:
        Attempt number, 1 for the first run; ``POST .../retry`` adds one. Outputs of attempt ``n``
        live under ``studios/{s}/renders/{id}/attempt-{n}/``.
    tries:
        Container starts within the current attempt (Batch's own retries).
    lineage:
        ``{assetId, version, key, s3VersionId, sha256, sha256Verified, size}``: exactly what went in
        (``sha256`` is the version's declared checksum until the container stores its own digest of
        the bytes it read, with ``sha256Verified: true``).
    frames:
        The resolved trim ``{startFrame, endFrame}`` (end excluded).
    texts:
        Burn-in and watermark words captured at request time (never returned by the API).
    scene:
        Scene presets only: the request's scene options until the probe step stores the resolved
        :class:`keyframe.renders.scenes.SceneSettings` (``probed: true``).
    frames_done:
        Scene presets: frames present in ``renders/{jobId}/frames/`` (counted across chunks).
    progress_at:
        Scene presets: epoch seconds of the last ``render:progress`` (the 2 s throttle across chunks).
    array_job_id:
        Scene presets: the Batch array job of the current attempt (cancel terminates it, and with it
        every child).
    outputs:
        ``{prefix, keys, primary, masterPlaylist?, renditions, fileCount, totalBytes}``.
    last_error:
        The error of the latest container try (``{code, message}``); becomes ``error`` if the
        attempt ends FAILED.
    vcpus:
        vCPUs the attempt holds of the studio's render vCPU budget while QUEUED/RUNNING
        (:mod:`keyframe.renders.vcpus`); absent on jobs queued before the budget existed (they hold 0).
    """

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=JOB_SK)
    gsi1 = gsi(RENDERS, 1)()
    gsi2 = gsi(RENDERS, 2)()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)

    job_id = UnicodeAttribute(attr_name="renderJobId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    asset_id = UnicodeAttribute(attr_name="assetId")
    project_id = UnicodeAttribute(attr_name="projectId", null=True)
    version = NumberAttribute()
    preset = UnicodeAttribute()
    options = JSONAttribute(default=dict)
    priority = UnicodeAttribute(default=Priority.NORMAL.value)
    status = UnicodeAttribute(default=RenderStatus.QUEUED.value)
    progress = NumberAttribute(default=0)
    fps = NumberAttribute(null=True)
    eta = NumberAttribute(null=True)
    attempts = NumberAttribute(default=1)
    tries = NumberAttribute(default=0)
    error = JSONAttribute(null=True)
    last_error = JSONAttribute(attr_name="lastError", null=True)
    batch_job_id = UnicodeAttribute(attr_name="batchJobId", null=True)
    execution_arn = UnicodeAttribute(attr_name="executionArn", null=True)
    outputs = JSONAttribute(null=True)
    lineage = JSONAttribute()
    frames = JSONAttribute()
    texts = JSONAttribute(default=dict)
    scene = JSONAttribute(null=True)
    frames_done = NumberAttribute(attr_name="framesDone", null=True)
    progress_at = NumberAttribute(attr_name="progressAt", null=True)
    array_job_id = UnicodeAttribute(attr_name="arrayJobId", null=True)
    logs = JSONAttribute(null=True)
    vcpus = NumberAttribute(null=True)
    created_by = UnicodeAttribute(attr_name="createdBy")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    started_at = UnicodeAttribute(attr_name="startedAt", null=True)
    ended_at = UnicodeAttribute(attr_name="endedAt", null=True)

    @property
    def state(self) -> RenderStatus:
        """``status`` as a :class:`RenderStatus`."""
        return RenderStatus(self.status)

    @property
    def output_prefix(self) -> str:
        """``studios/{studioId}/renders/{renderJobId}/attempt-{n}/`` of the current attempt."""
        return output_prefix(self.studio_id, self.job_id, int(self.attempts))


def output_prefix(studio_id: str, job_id: str, attempt: int) -> str:
    """Where attempt ``attempt`` of a job writes: ``studios/{s}/renders/{id}/attempt-{n}/``."""
    return f"studios/{studio_id}/renders/{job_id}/attempt-{attempt}/"


def chunk_sk(index: int) -> str:
    """``CHUNK#{index:05d}``."""
    return f"{CHUNK_PREFIX}{index:05d}"


class ChunkStatus(StrEnum):
    """Where one chunk is: PENDING -> RUNNING -> SUCCEEDED | FAILED (a retry makes FAILED RUNNING again)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class RenderChunkItem(Model):
    """One chunk of a scene render (renders table, beside its job). Written by the probe step (created
    PENDING, or kept when the same range was already rendered) and by the chunk's own container.

    Attributes
    ----------
    index:
        The Batch array index (0-based).
    frame_start / frame_end / frame_step:
        Scene frames, both ends included.
    frames:
        How many frames the chunk has; ``frames_done`` how many are in the bucket.
    tries:
        Container starts of this chunk, over every attempt of the job.
    error:
        ``{code, message, frame?}`` of the latest failed try.
    """

    Meta = table_meta(RENDERS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    index = NumberAttribute()
    frame_start = NumberAttribute(attr_name="frameStart")
    frame_end = NumberAttribute(attr_name="frameEnd")
    frame_step = NumberAttribute(attr_name="frameStep", default=1)
    frames = NumberAttribute()
    frames_done = NumberAttribute(attr_name="framesDone", default=0)
    status = UnicodeAttribute(default=ChunkStatus.PENDING.value)
    attempt = NumberAttribute(default=1)
    tries = NumberAttribute(default=0)
    error = JSONAttribute(null=True)
    batch_job_id = UnicodeAttribute(attr_name="batchJobId", null=True)
    started_at = UnicodeAttribute(attr_name="startedAt", null=True)
    ended_at = UnicodeAttribute(attr_name="endedAt", null=True)
    updated_at = UnicodeAttribute(attr_name="updatedAt")
