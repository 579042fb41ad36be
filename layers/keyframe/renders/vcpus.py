"""The studio's render vCPU budget (``Quota.RENDER_VCPUS``, ``RENDER_VCPUS_PER_STUDIO``): what a job holds.

The concurrent-renders quota counts a scene render as one slot although its Batch array may run
hundreds of children at once; the vCPU budget counts what the studio's renders can occupy:

- a video render (``hls``, ``review-mp4``, ``filmstrip``) holds its job definition's vCPUs
  (:data:`VIDEO_VCPUS`, 2) from QUEUED to its end;
- a scene render holds :data:`CHUNK_VCPUS` (2) per array child, that is per chunk. At the request
  the chunk count is known when the request names ``frameStart`` and ``frameEnd`` (then the render
  holds ``chunks * 2`` from the start); otherwise it holds 2 (its probe step, one job) until the
  probe has read the scene's frame range, and the chunk planning step (``planChunks``) grows the
  hold to ``chunks * 2`` before the array is submitted. When that does not fit, the job ends
  FAILED with ``RENDER_VCPUS_QUOTA_EXCEEDED`` and no chunk starts.
- A default ``chunkSize`` is sized so that one render never needs more than the whole budget
  (:func:`max_chunks` children); a ``chunkSize`` the caller chose may need more, and is refused.

Every change is part of a transaction with the job's own conditional status change
(:mod:`keyframe.renders.service`): the counter goes up only within the limit and down only by what the
job holds (never below 0), and the job records what it holds (``vcpus``), so a terminal status gives
exactly that back once, whatever the path (finish, cancel, fail, start failure).
"""

from __future__ import annotations

from keyframe.renders import scenes, service
from keyframe.renders.config import RendersSettings
from keyframe.renders.jobs import RENDER_JOB, SCENE_CHUNK_VCPUS
from keyframe.renders.models import ACTIVE, RenderJobItem
from keyframe.settings import load
from keyframe.storage.transactions import Cancelled, Transaction
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota

VIDEO_VCPUS = int(RENDER_JOB["vcpus"])
"""vCPUs a video render holds (its job definition's)."""

CHUNK_VCPUS = SCENE_CHUNK_VCPUS
"""vCPUs a scene render holds per chunk (one array child each)."""

LABEL = service.VCPUS_LABEL
"""The label of the vCPU counter's update in a transaction (``Cancelled.failed``)."""


def max_chunks(studio_id: str) -> int:
    """Children one scene render has at most by default sizing: the studio's budget / :data:`CHUNK_VCPUS`."""
    return max(1, quotas.limit(studio_id, Quota.RENDER_VCPUS) // CHUNK_VCPUS)


def at_request(studio_id: str, preset: str, renderer: str | None, options: scenes.SceneOptions | None) -> int:
    """The vCPUs a new attempt holds from QUEUED (see the module docstring).

    Parameters
    ----------
    preset:
        The render's preset.
    renderer, options:
        Scene presets: ``blender``/``synfig`` and the request's scene options (``None`` otherwise).
    """
    if not scenes.is_scene(preset) or options is None or renderer is None:
        return VIDEO_VCPUS
    if options.frame_start is None or options.frame_end is None:
        return CHUNK_VCPUS  # the probe step; planChunks grows the hold once the range is known
    frames = scenes.frame_count(options.frame_start, options.frame_end, options.frame_step)
    size = options.chunk_size or scenes.default_chunk_size(
        frames, scenes.engine_key(renderer, options.engine), max_chunks(studio_id)
    )
    return max(1, -(-frames // size)) * CHUNK_VCPUS


def for_chunks(chunks: int) -> int:
    """vCPUs of a scene render's array of ``chunks`` children (at least one child's)."""
    return max(1, chunks) * CHUNK_VCPUS


def hold_chunk_vcpus(studio_id: str, job_id: str, attempt: int, chunks: int) -> int:
    """A scene render's planning step: hold ``chunks * 2`` vCPUs before its array is submitted.

    One transaction (renders table): the job's ``vcpus`` from what it holds to the new figure, on
    condition that it is QUEUED/RUNNING in ``attempt`` and still holds that, with the studio's vCPU
    counter changed by the difference within the limit. A job already holding enough is left alone.

    Returns
    -------
    int
        The vCPUs the job holds now.

    Raises
    ------
    TooManyRequests
        ``RENDER_VCPUS_QUOTA_EXCEEDED``: the studio's other renders hold too much for this array.
    keyframe.storage.transactions.Cancelled
        The job is no longer active in ``attempt`` (``job`` in ``failed``), or the races went on.
    """
    wanted = for_chunks(chunks)
    for _ in range(service.TRANSACTION_ATTEMPTS):
        item = service.load_job(studio_id, job_id)
        held = service.held_by(item)
        if held >= wanted:
            return held
        condition = (
            RenderJobItem.status.is_in(*[s.value for s in ACTIVE])
            & (RenderJobItem.attempts == attempt)
            & service.holds(held)
        )
        tx = Transaction()
        job = RenderJobItem(item.pk, item.sk)
        tx.update("job", job, [RenderJobItem.vcpus.set(wanted)], condition=condition)
        service.hold_vcpus(tx, studio_id, wanted - held)
        try:
            tx.commit()
        except Cancelled as exc:
            if LABEL in exc.failed:
                after = load(RendersSettings).RENDER_RETRY_AFTER_SECONDS
                raise quotas.refusal(studio_id, Quota.RENDER_VCPUS, wanted, retry_after=after) from exc
            fresh = service.load_job(studio_id, job_id)
            if "job" in exc.failed and (fresh.state not in ACTIVE or int(fresh.attempts) != attempt):
                raise
            continue
        return wanted
    raise Cancelled({"job"}, conflict=True)
