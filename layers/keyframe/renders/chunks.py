"""The chunks of a scene render (renders table): created by the probe step, written by each array child.

Progress counts frames: each chunk item holds its ``framesDone`` and the job item the sum
(``framesDone``, moved by the same delta in one transaction with the chunk's change), so
``GET /renders/{id}`` shows frames done / total across every child. ``render:progress`` is emitted at
most every :data:`~keyframe.renders.progress.UPDATE_INTERVAL_SECONDS` for the whole job, however many
children report: a child emits only when its conditional write of the job's ``progressAt`` (epoch
seconds) wins.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from keyframe.clock import epoch, now_iso
from keyframe.errors import NotFound
from keyframe.events.publisher import stage
from keyframe.observability import logger
from keyframe.renders import service
from keyframe.renders.models import (
    CHUNK_PREFIX,
    JOB_SK,
    ChunkStatus,
    RenderChunkItem,
    RenderJobItem,
    RenderStatus,
    chunk_sk,
    job_pk,
)
from keyframe.renders.progress import UPDATE_INTERVAL_SECONDS
from keyframe.renders.scenes import Chunk
from keyframe.renders.schemas import RenderChunk, RenderChunkPage
from keyframe.storage.transactions import Cancelled, Transaction


def _running(attempt: int) -> Any:
    return (RenderJobItem.status == RenderStatus.RUNNING.value) & (RenderJobItem.attempts == attempt)


def load_chunk(studio_id: str, job_id: str, index: int) -> RenderChunkItem | None:
    """One chunk item (consistent read), ``None`` when the probe has not created it."""
    try:
        return RenderChunkItem.get(job_pk(studio_id, job_id), chunk_sk(index), consistent_read=True)
    except DoesNotExist:
        return None


def chunk_items(studio_id: str, job_id: str) -> list[RenderChunkItem]:
    """Every chunk item of a job, by index (one paginated Query of the renders table)."""
    return list(
        RenderChunkItem.query(
            job_pk(studio_id, job_id),
            RenderChunkItem.sk.startswith(CHUNK_PREFIX),
            consistent_read=True,
        )
    )


def list_chunks(studio_id: str, job_id: str) -> RenderChunkPage:
    """``GET /renders/{id}/chunks``: every chunk's state (empty before the probe step ran).

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``: unknown id or another studio's job.
    """
    job = service.load_job(studio_id, job_id)
    items = [
        RenderChunk(
            index=int(c.index),
            frame_start=int(c.frame_start),
            frame_end=int(c.frame_end),
            frame_step=int(c.frame_step or 1),
            frames=int(c.frames),
            frames_done=int(c.frames_done or 0),
            status=c.status,
            attempt=int(c.attempt or 1),
            tries=int(c.tries or 0),
            error=c.error,
            batch_job_id=c.batch_job_id,
            started_at=c.started_at,
            ended_at=c.ended_at,
            updated_at=c.updated_at,
        )
        for c in chunk_items(studio_id, job_id)
    ]
    return RenderChunkPage(
        render_job_id=job_id,
        frames=int((job.scene or {}).get("frames") or 0),
        frames_done=int(job.frames_done or 0),
        items=items,
    )


def plan(studio_id: str, job_id: str, attempt: int, chunks: list[Chunk], present: dict[int, int]) -> None:
    """Create or reset the chunk items of ``attempt`` (the probe step).

    A chunk whose frames are all present (``present[index] == len(frames)``) is SUCCEEDED at once; the
    others are PENDING with ``framesDone`` = their frames present. Chunk items beyond the new count
    (a retry cannot change the range, but a stale item must not be listed) are deleted.
    """
    now = now_iso()
    pk = job_pk(studio_id, job_id)
    previous = {int(c.index): c for c in chunk_items(studio_id, job_id)}
    with RenderChunkItem.batch_write() as batch:
        for chunk in chunks:
            done = present.get(chunk.index, 0)
            total = len(chunk.frames)
            old = previous.pop(chunk.index, None)
            batch.save(
                RenderChunkItem(
                    pk,
                    chunk_sk(chunk.index),
                    index=chunk.index,
                    frame_start=chunk.start,
                    frame_end=chunk.end,
                    frame_step=chunk.step,
                    frames=total,
                    frames_done=done,
                    status=(ChunkStatus.SUCCEEDED if done >= total else ChunkStatus.PENDING).value,
                    attempt=attempt,
                    tries=int(old.tries or 0) if old else 0,
                    error=old.error if old and done < total else None,
                    updated_at=now,
                )
            )
        for stale in previous.values():
            batch.delete(stale)


def begin(
    studio_id: str, job_id: str, attempt: int, index: int, batch_job_id: str | None
) -> RenderChunkItem | None:
    """The chunk's container starts: RUNNING, ``tries + 1`` (``None``: the job is not RUNNING in
    ``attempt``, or the chunk does not exist; the container exits without doing anything)."""
    chunk = load_chunk(studio_id, job_id, index)
    if chunk is None:
        return None
    now = now_iso()
    actions: list[Any] = [
        RenderChunkItem.status.set(ChunkStatus.RUNNING.value),
        RenderChunkItem.tries.add(1),
        RenderChunkItem.attempt.set(attempt),
        RenderChunkItem.started_at.set(now),
        RenderChunkItem.updated_at.set(now),
        RenderChunkItem.ended_at.remove(),
    ]
    if batch_job_id:
        actions.append(RenderChunkItem.batch_job_id.set(batch_job_id))
    job_actions: list[Any] = [RenderJobItem.updated_at.set(now)]
    if batch_job_id and ":" in batch_job_id:  # an array child: ``{arrayJobId}:{index}``
        job_actions.append(RenderJobItem.array_job_id.set(batch_job_id.split(":", 1)[0]))
    tx = Transaction()
    tx.update("chunk", chunk, actions)
    tx.update(
        "job", RenderJobItem(job_pk(studio_id, job_id), JOB_SK), job_actions, condition=_running(attempt)
    )
    try:
        tx.commit()
    except Cancelled:
        return None
    return load_chunk(studio_id, job_id, index)


def add_frames(studio_id: str, job_id: str, attempt: int, index: int, *, done: int, delta: int) -> bool:
    """The chunk has ``done`` frames in the bucket, ``delta`` more than it had reported.

    One transaction: the chunk's ``framesDone`` and the job's (``+ delta``), conditional on the job
    RUNNING in ``attempt``. Then, at most every 2 s for the whole job, ``render:progress``.

    Returns
    -------
    bool
        False when the job is no longer RUNNING in ``attempt`` (cancelled, failed): the child stops.
    """
    now = now_iso()
    pk = job_pk(studio_id, job_id)
    tx = Transaction()
    tx.update("chunk", RenderChunkItem(pk, chunk_sk(index)),
              [RenderChunkItem.frames_done.set(done), RenderChunkItem.updated_at.set(now)])  # fmt: skip
    tx.update("job", RenderJobItem(pk, JOB_SK),
              [RenderJobItem.frames_done.add(delta), RenderJobItem.updated_at.set(now)],
              condition=_running(attempt))  # fmt: skip
    try:
        tx.commit()
    except Cancelled:
        return False
    _maybe_emit(studio_id, job_id, attempt)
    return True


def _maybe_emit(studio_id: str, job_id: str, attempt: int) -> None:
    """Store and announce ``render:progress`` if no one did in the last 2 s: one transaction of the
    job's ``progressAt`` (conditional: RUNNING in ``attempt``, ``progressAt`` older than 2 s), its
    ``progress`` (when not behind the stored one) and the event's outbox item."""
    moment = epoch()
    try:
        item = service.load_job(studio_id, job_id)
    except NotFound:
        return
    last = item.progress_at
    if last is not None and float(last) > moment - UPDATE_INTERVAL_SECONDS:
        return
    total = int((item.scene or {}).get("frames") or 0)
    done = int(item.frames_done or 0)
    percent = min(99, int(100 * done / total)) if total else 0
    actions: list[Any] = [RenderJobItem.progress_at.set(moment)]
    if int(item.progress or 0) <= percent:  # a stale percent: keep the stored one
        actions.append(RenderJobItem.progress.set(percent))
    condition = _running(attempt) & (
        RenderJobItem.progress_at.does_not_exist()
        | (RenderJobItem.progress_at <= moment - UPDATE_INTERVAL_SECONDS)
    )
    tx = Transaction().update(
        "job", RenderJobItem(job_pk(studio_id, job_id), JOB_SK), actions, condition=condition
    )
    stage(
        tx,
        studio_id,
        "render:progress",
        {"renderJobId": job_id, "assetId": item.asset_id, "attempt": attempt, "progress": percent,
         "framesDone": done, "frames": total, "fps": None, "eta": None},
        rooms=service.rooms_of(item),
    )  # fmt: skip
    with contextlib.suppress(Cancelled):  # someone announced it meanwhile, or the job stopped
        tx.commit()


def finish(
    studio_id: str, job_id: str, index: int, status: ChunkStatus, error: dict[str, Any] | None = None
) -> None:
    """The chunk's try ended: SUCCEEDED, or FAILED with ``{code, message, frame?}`` (a Batch retry
    makes it RUNNING again)."""
    now = now_iso()
    actions: list[Any] = [
        RenderChunkItem.status.set(status.value),
        RenderChunkItem.ended_at.set(now),
        RenderChunkItem.updated_at.set(now),
    ]
    actions.append(RenderChunkItem.error.set(error) if error else RenderChunkItem.error.remove())
    try:
        RenderChunkItem(job_pk(studio_id, job_id), chunk_sk(index)).update(actions=actions)
    except UpdateError:
        logger.warning("chunk state not recorded", extra={"render_job_id": job_id, "chunk": index})
