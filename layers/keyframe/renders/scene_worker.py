"""The scene steps of the render container: ``python -m keyframe.renders.scene_worker
--step probe|chunk|assemble --job-id ID --studio-id SID --attempt N``.

``probe`` (one Batch job)
    RUNNING; downloads the scene (S3 ``VersionId``, SHA-256 checked and stored as in
    :mod:`keyframe.renders.worker`); reads its frame range, fps, resolution, cameras and the files
    it references (Blender: ``bpy.utils.blend_paths`` through ``blender -b --python-expr``;
    Synfig: the ``.sif`` XML); places every dependency of the lineage in the working tree
    (:func:`keyframe.renders.scene_renderers.place_dependencies`: a reference ending in a
    dependency's file name gets it at that relative path) and fails ``SCENE_INPUT_MISSING`` naming
    the first reference no dependency provides (exit 3: no retry, no frames rendered); stores the
    resolved settings (``scene``) and the paths in the lineage; creates the chunk items, a chunk
    whose frames are all in ``renders/{jobId}/frames/`` already SUCCEEDED (a retry resumes).
``chunk`` (one array child per chunk, ``AWS_BATCH_JOB_ARRAY_INDEX``; 0 for a single job)
    Downloads the scene and every dependency into the working tree at the recorded paths (each
    checked against its SHA-256), renders the chunk's frames that are not in the bucket yet, uploads
    each frame as soon as the renderer has moved past it and reports frames done. A renderer that
    fails fails the try with ``RENDERER_FAILED`` naming the first frame it did not write (exit 1:
    Batch retries the child alone; its uploaded frames are kept, so the retry resumes after them).
``assemble`` (one Batch job that ``dependsOn`` the array job)
    Checks every frame is present; ``scene-frames``: writes the manifest ``frames.json``;
    ``scene-review``: encodes the frames once into a near-lossless intermediate and runs the existing
    ``review-mp4`` and ``hls`` presets on it (:mod:`keyframe.renders.presets`); uploads the outputs
    and records them (conditional on RUNNING: a job cancelled meanwhile keeps no outputs, the attempt
    folder is deleted).

Exit codes are :mod:`keyframe.exit_codes` (the job definition's retry rules follow them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keyframe.errors import InvalidInput
from keyframe.live import hooks
from keyframe.media.ffmpeg import ffmpeg_exe
from keyframe.observability import logger
from keyframe.renders import (
    chunks,
    commands,
    presets,
    scene_renderers,
    scenes,
    service,
    storage,
    vcpus,
    worker_writes,
)
from keyframe.renders.config import RendersSettings, WorkerSettings
from keyframe.renders.models import ChunkStatus, RenderJobItem, RenderStatus
from keyframe.renders.progress import ProgressTracker, ProgressUpdate
from keyframe.renders.scene_inputs import (
    download_dependencies,
    download_scene,
    frames_present,
    missing_references,
    probe_scene,
    require_tool,
)
from keyframe.renders.worker import (
    EXIT_FATAL,
    EXIT_OK,
    EXIT_RETRY,
    EXIT_TERMINATED,
    FfmpegRun,
    RenderCancelled,
    RenderFailure,
    Terminated,
    describe_outputs,
    probe_source,
)
from keyframe.settings import load

POLL_SECONDS = 0.5
"""How often a chunk looks for new frames in the renderer's output folder."""

STDERR_TAIL_CHARS = 2000
INTERMEDIATE_CRF = 12


# ------------------------------------------------------------------------------------------ renderer run
class RendererRun:
    """Runs a renderer over some frames, uploading each frame once the renderer has moved past it.

    Parameters
    ----------
    args:
        The command line.
    outputs:
        ``path -> frame`` of the files it is expected to write (the file names it writes, mapped to
        frame numbers: :func:`expected_outputs`).
    on_frame:
        Called with ``(frame, path)`` for each finished frame; returns False when the job stopped.
    """

    def __init__(self, args: list[str], outputs: dict[Path, int], on_frame: Callable[[int, Path], bool],
                 log_path: Path, cwd: Path) -> None:  # fmt: skip
        self.args = args
        self.outputs = outputs
        self.on_frame = on_frame
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.sent: set[Path] = set()

    def kill(self) -> None:
        """Stop the renderer now (its process group)."""
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _sweep(self, finished: bool) -> None:
        written = sorted((p for p in self.outputs if p.is_file()), key=lambda p: self.outputs[p])
        if not finished and written:
            written = written[:-1]  # the newest file may still be being written
        for path in written:
            if path not in self.sent:
                if not self.on_frame(self.outputs[path], path):
                    self.kill()
                    raise RenderCancelled()
                self.sent.add(path)

    def run(self) -> int:
        """Run to the end; returns the renderer's exit code (frames written are all reported)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.cwd, start_new_session=True,
            )  # fmt: skip
            while self.process.poll() is None:
                time.sleep(POLL_SECONDS)
                self._sweep(finished=False)
            code = self.process.wait()
        self._sweep(finished=True)
        return code


def runs_of(frames: list[int], step: int) -> list[tuple[int, int]]:
    """Consecutive runs (by ``step``) of ``frames`` as ``(first, last)``.

    Examples
    --------
    >>> runs_of([1, 2, 3, 6, 7], 1)
    [(1, 3), (6, 7)]
    """
    runs: list[tuple[int, int]] = []
    for frame in sorted(frames):
        if runs and frame == runs[-1][1] + step:
            runs[-1] = (runs[-1][0], frame)
        else:
            runs.append((frame, frame))
    return runs


def render_command(
    settings: scenes.SceneSettings, scene: Path, out: Path, first: int, last: int
) -> tuple[list[str], dict[Path, int]]:
    """The command rendering ``first``..``last`` and the files it writes (``path -> frame``)."""
    frames = list(range(first, last + 1, settings.frame_step))
    if settings.renderer == "blender":
        args = scene_renderers.blender_command(
            require_tool("blender"), str(scene), settings, str(out), start=first, end=last
        )
        return args, {out / scenes.frame_name(f, settings.image_format): f for f in frames}
    args = scene_renderers.synfig_command(
        require_tool("synfig"), str(scene), settings, str(out / "frame.png"), start=first, end=last
    )
    if first == last:
        return args, {out / "frame.png": first}
    return args, {out / f"frame.{f:04d}.png": f for f in frames}


def renderer_error(log: str) -> str:
    """The line of a renderer's output that says what went wrong (Blender's ``Error: ...``, else the
    last line that is not Blender's closing ``Blender quit`` or an EGL fallback notice)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line and "EGL" not in line]
    if errors:
        return errors[-1]
    rest = [line for line in lines if line != "Blender quit" and "EGL" not in line]
    return rest[-1] if rest else ""


def complete_master(master: Path, renditions: list[commands.Rendition]) -> None:
    """List the renditions in an HLS master that FFmpeg left without variants.

    FFmpeg 9 writes a master with no ``#EXT-X-STREAM-INF`` when the whole output is shorter than
    about half a second (it has no bitrate to state), which a short scene is (9 frames at 24 fps).
    The variant playlists are there; the master gets one entry per planned rendition, with its
    planned bandwidth.
    """
    text = master.read_text()
    if "#EXT-X-STREAM-INF" in text:
        return
    lines = ["#EXTM3U", "#EXT-X-VERSION:6"]
    for rendition in renditions:
        if (master.parent / rendition.name / "index.m3u8").is_file():
            lines.append(
                f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},"
                f"RESOLUTION={rendition.width}x{rendition.height}"
            )
            lines.append(f"{rendition.name}/index.m3u8")
    master.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------ the steps
class SceneWorker:
    """One container try of one step of attempt ``attempt`` of a scene render."""

    def __init__(self, step: str, studio_id: str, job_id: str, attempt: int, index: int = 0) -> None:
        self.step = step
        self.studio_id = studio_id
        self.job_id = job_id
        self.attempt = attempt
        self.index = index
        self.settings = load(RendersSettings)
        self.worker_settings = load(WorkerSettings)
        self.current: RendererRun | FfmpegRun | None = None
        self.terminated = threading.Event()

    @property
    def bucket(self) -> str:
        """The media bucket."""
        return self.settings.MEDIA_BUCKET

    def on_sigterm(self, _signum: int, _frame: Any) -> None:
        """SIGTERM (cancel, timeout): stop the renderer/FFmpeg and unwind."""
        if self.terminated.is_set():
            return
        self.terminated.set()
        if self.current is not None:
            self.current.kill()
        raise Terminated()

    def run(self) -> int:
        """Run the step; returns the exit code."""
        item = self._begin()
        if item is None:
            logger.info("nothing to do: the job is not running in this attempt", extra={"step": self.step})
            return EXIT_OK
        scratch = self.worker_settings.RENDER_WORK_DIR or None
        with tempfile.TemporaryDirectory(prefix=f"scene-{self.step}-", dir=scratch) as tmp:
            try:
                getattr(self, f"_{self.step}")(item, Path(tmp))
            except RenderCancelled:
                logger.info("the job stopped: step abandoned", extra={"step": self.step})
                if self.step == "assemble":
                    storage.delete_prefix(self.bucket, item.output_prefix)
                return EXIT_OK
            except RenderFailure as failure:
                return self._failed(failure)
            except Terminated:
                if self.step == "assemble":
                    storage.delete_prefix(self.bucket, item.output_prefix)
                self._chunk_state(ChunkStatus.FAILED, {"code": "TERMINATED", "message": "Stopped (SIGTERM)"})
                return EXIT_TERMINATED
            except Exception as exc:
                logger.exception("scene step crashed", extra={"step": self.step})
                return self._failed(
                    RenderFailure("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}", EXIT_RETRY)
                )
        return EXIT_OK

    def _begin(self) -> RenderJobItem | None:
        batch_job_id = os.environ.get("AWS_BATCH_JOB_ID")
        if self.step == "chunk":
            try:
                item = service.load_job(self.studio_id, self.job_id)
            except Exception:
                return None
            if item.state is not RenderStatus.RUNNING or int(item.attempts) != self.attempt:
                return None
            chunk = chunks.load_chunk(self.studio_id, self.job_id, self.index)
            if chunk is not None and chunk.status == ChunkStatus.SUCCEEDED.value:
                return None  # rendered by an earlier attempt (the probe found its frames): not a try
            return (
                item
                if chunks.begin(self.studio_id, self.job_id, self.attempt, self.index, batch_job_id)
                else None
            )
        batch_attempt = os.environ.get("AWS_BATCH_JOB_ATTEMPT")
        running = worker_writes.begin_try(
            self.studio_id, self.job_id, self.attempt, batch_job_id=batch_job_id,
            batch_attempt=int(batch_attempt) if batch_attempt and batch_attempt.isdigit() else None,
        )  # fmt: skip
        return running.item if running else None

    def _chunk_state(self, status: ChunkStatus, error: dict[str, Any] | None = None) -> None:
        if self.step == "chunk":
            chunks.finish(self.studio_id, self.job_id, self.index, status, error)

    def _failed(self, failure: RenderFailure) -> int:
        logger.warning(
            "scene step failed", extra={"step": self.step, "code": failure.code, "reason": failure.message}
        )
        code, message = failure.code, failure.message
        if self.step == "chunk":
            error: dict[str, Any] = {"code": failure.code, "message": failure.message}
            frame = getattr(failure, "frame", None)
            if frame is not None:
                error["frame"] = frame
            self._chunk_state(ChunkStatus.FAILED, error)
            code, message = "CHUNK_FAILED", f"Chunk {self.index} failed: {failure.message}"
        worker_writes.record_try_error(self.studio_id, self.job_id, self.attempt, code, message)
        return failure.exit_code

    # -------------------------------------------------------------- probe
    def _probe(self, item: RenderJobItem, tmp: Path) -> None:
        tree = tmp / "tree"
        tree.mkdir()
        scene, digest = download_scene(item, self.bucket, tree)
        if not worker_writes.record_source_checksum(
            self.studio_id, self.job_id, self.attempt, item.lineage, digest
        ):
            raise RenderCancelled()
        renderer = str((item.scene or {}).get("renderer") or "blender")
        facts = probe_scene(renderer, scene)
        try:
            settings = scenes.resolve_settings(
                renderer,
                facts,
                scenes.SceneOptions.model_validate(item.options or {}),
                max_chunks=vcpus.max_chunks(self.studio_id),
            )
        except InvalidInput as exc:
            raise RenderFailure(exc.code, exc.message, EXIT_FATAL) from exc
        dependencies = [dict(d) for d in item.lineage.get("dependencies") or []]
        placed = scene_renderers.place_dependencies(
            list(facts.references), {d["assetId"]: d["fileName"] for d in dependencies}
        )
        missing = missing_references(facts.references, placed, tree)
        if missing:
            raise RenderFailure(
                "SCENE_INPUT_MISSING",
                f"The scene references {missing[0]}, which no dependency of the asset provides"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                EXIT_FATAL,
            )
        for dependency in dependencies:
            dependency["path"] = placed[dependency["assetId"]]
        present = frames_present(self.bucket, self.studio_id, self.job_id)
        plan = settings.chunks()
        per_chunk = {c.index: sum(1 for f in c.frames if f in present) for c in plan}
        chunks.plan(self.studio_id, self.job_id, self.attempt, plan, per_chunk)
        scene_json = {**settings.to_json(), "probed": True, "references": list(facts.references),
                      "sceneFormat": (item.scene or {}).get("sceneFormat")}  # fmt: skip
        fresh = service.load_job(self.studio_id, self.job_id)
        lineage = {**fresh.lineage, "dependencies": dependencies}
        span = {"startFrame": settings.frame_start, "endFrame": settings.frame_end + 1}
        done = sum(per_chunk.values())
        stored = worker_writes.record_scene(
            self.studio_id, self.job_id, self.attempt, scene_json, lineage, frames_done=done, frames=span
        )
        if not stored:
            raise RenderCancelled()
        logger.info("scene probed", extra={"scene": scene_json, "chunks": len(plan)})

    # -------------------------------------------------------------- chunk
    def _chunk(self, item: RenderJobItem, tmp: Path) -> None:
        settings = scenes.SceneSettings.from_json(item.scene or {})
        chunk = next((c for c in settings.chunks() if c.index == self.index), None)
        if chunk is None:
            raise RenderFailure("UNKNOWN_CHUNK", f"The job has no chunk {self.index}", EXIT_FATAL)
        present = frames_present(self.bucket, self.studio_id, self.job_id)
        missing = [f for f in chunk.frames if f not in present]
        done = len(chunk.frames) - len(missing)
        reported = [done]
        stored = chunks.load_chunk(self.studio_id, self.job_id, self.index)
        previous = int(stored.frames_done or 0) if stored else 0
        if done != previous and not chunks.add_frames(
            self.studio_id, self.job_id, self.attempt, self.index, done=done, delta=done - previous
        ):
            raise RenderCancelled()
        if missing:
            tree = tmp / "tree"
            tree.mkdir()
            scene, _ = download_scene(item, self.bucket, tree)
            download_dependencies(item, self.bucket, tree)
            prefix = scenes.frames_prefix(self.studio_id, self.job_id)
            client = storage.s3()
            content_type = storage.content_type(scenes.frame_name(0, settings.image_format))

            def on_frame(frame: int, path: Path) -> bool:
                key = prefix + scenes.frame_name(frame, settings.image_format)
                client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
                reported[0] += 1
                return chunks.add_frames(
                    self.studio_id, self.job_id, self.attempt, self.index, done=reported[0], delta=1
                )

            for first, last in runs_of(missing, settings.frame_step):
                out = tmp / f"out-{first}"
                out.mkdir()
                args, outputs = render_command(settings, scene, out, first, last)
                self.current = RendererRun(args, outputs, on_frame, tmp / "renderer.log", tree)
                logger.info("renderer starting", extra={"renderer_args": args})
                code = self.current.run()
                self.current = None
                written = {outputs[p] for p in outputs if p.is_file()}
                failed_at = next(
                    (f for f in range(first, last + 1, settings.frame_step) if f not in written), None
                )
                if code != 0 or failed_at is not None:
                    tail = (tmp / "renderer.log").read_text(errors="replace")[-STDERR_TAIL_CHARS:].strip()
                    last_line = renderer_error(tail) or f"exit code {code}"
                    failure = RenderFailure(
                        "RENDERER_FAILED",
                        f"{settings.renderer} failed at frame {failed_at if failed_at is not None else last} "
                        f"(exit code {code}): {last_line}",
                        EXIT_RETRY,
                    )
                    failure.frame = failed_at if failed_at is not None else last  # type: ignore[attr-defined]
                    raise failure
        self._chunk_state(ChunkStatus.SUCCEEDED)

    # -------------------------------------------------------------- assemble
    def _assemble(self, item: RenderJobItem, tmp: Path) -> None:
        settings = scenes.SceneSettings.from_json(item.scene or {})
        expected = list(range(settings.frame_start, settings.frame_end + 1, settings.frame_step))
        present = frames_present(self.bucket, self.studio_id, self.job_id)
        missing = [f for f in expected if f not in present]
        if missing:
            raise RenderFailure(
                "FRAMES_MISSING",
                f"{len(missing)} frames are missing, the first is frame {missing[0]}",
                EXIT_FATAL,
            )
        prefix = item.output_prefix
        frames_prefix = scenes.frames_prefix(self.studio_id, self.job_id)
        out = tmp / "out"
        out.mkdir()
        manifest = {
            "renderJobId": self.job_id, "fps": settings.fps,
            "width": settings.width, "height": settings.height,
            "format": settings.image_format, "framesPrefix": frames_prefix,
            "frames": [{"frame": f, "key": frames_prefix + scenes.frame_name(f, settings.image_format),
                        "size": present[f]} for f in expected],
        }  # fmt: skip
        (out / "frames.json").write_text(json.dumps(manifest), encoding="utf-8")
        outputs: dict[str, Any]
        if item.preset == "scene-review":
            outputs = self._review(
                settings, expected, frames_prefix=frames_prefix, tmp=tmp, out=out, prefix=prefix
            )
        else:
            outputs = {"prefix": prefix, "primary": prefix + "frames.json", "keys": [prefix + "frames.json"],
                       "renditions": [{"name": "frames", "width": settings.width,
                                       "height": settings.height}]}  # fmt: skip
        if self.terminated.is_set() or not worker_writes.is_running(
            self.studio_id, self.job_id, self.attempt
        ):
            raise RenderCancelled()
        storage.delete_prefix(self.bucket, prefix)
        counts = storage.upload_folder(self.bucket, out, prefix)
        outputs.update(
            fileCount=counts[0], totalBytes=counts[1], framesPrefix=frames_prefix, frameCount=len(expected)
        )
        if not worker_writes.record_outputs(self.studio_id, self.job_id, self.attempt, outputs):
            raise RenderCancelled()

    def _review(
        self, settings: scenes.SceneSettings, expected: list[int], *, frames_prefix: str, tmp: Path,
        out: Path, prefix: str,
    ) -> dict[str, Any]:  # fmt: skip
        ffmpeg = ffmpeg_exe()
        sequence = tmp / "sequence"
        sequence.mkdir()
        client = storage.s3()
        for position, frame in enumerate(expected):
            key = frames_prefix + scenes.frame_name(frame, settings.image_format)
            client.download_file(self.bucket, key, str(sequence / f"seq_{position:06d}.png"))
        intermediate = tmp / "sequence.mp4"
        duration = len(expected) / settings.fps
        args = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-framerate", f"{settings.fps:g}",
                "-i", str(sequence / "seq_%06d.png"), "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", str(INTERMEDIATE_CRF),
                "-pix_fmt", "yuv420p",
                "-progress", "pipe:1", "-nostats", str(intermediate)]  # fmt: skip
        self._ffmpeg(args, duration, settings.fps, tmp / "intermediate.log")
        source = probe_source(intermediate)
        texts = presets.RenderTexts("", "", "")
        review = presets.plan("review-mp4", None, source, texts)
        command = commands.build_command(
            review, str(intermediate), str(out), work_dir=str(tmp), ffmpeg=ffmpeg
        )
        self._ffmpeg(command.args, command.duration, source.fps, tmp / "review.log")
        hls_dir = out / "hls"
        hls_dir.mkdir()
        hls = presets.plan("hls", None, source, texts)
        command = commands.build_command(
            hls, str(intermediate), str(hls_dir), work_dir=str(tmp), ffmpeg=ffmpeg
        )
        self._ffmpeg(command.args, command.duration, source.fps, tmp / "hls.log")
        complete_master(hls_dir / command.primary, command.renditions)
        outputs = describe_outputs(command, hls_dir, prefix + "hls/", (0, 0))
        outputs["prefix"] = prefix
        outputs["keys"] = [*outputs["keys"], prefix + "review.mp4", prefix + "frames.json"]
        return outputs

    def _ffmpeg(self, args: list[str], duration: float, fps: float, log: Path) -> None:
        def still_running(_: ProgressUpdate) -> bool:
            return not self.terminated.is_set() and worker_writes.is_running(
                self.studio_id, self.job_id, self.attempt
            )

        self.current = FfmpegRun(args, ProgressTracker(duration, fps), still_running, log)
        self.current.run()
        self.current = None


def run(step: str, studio_id: str, job_id: str, attempt: int, index: int = 0) -> int:
    """Run one step in this process (tests call it directly); returns the exit code."""
    return SceneWorker(step, studio_id, job_id, attempt, index).run()


def array_index() -> int:
    """This child's index (``AWS_BATCH_JOB_ARRAY_INDEX``; 0 for a job that is not an array child)."""
    value = os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "0")
    return int(value) if value.isdigit() else 0


def main(argv: list[str] | None = None) -> int:
    """Entrypoint: parse arguments, install the SIGTERM handler, run one step."""
    parser = argparse.ArgumentParser(prog="python -m keyframe.renders.scene_worker",
                                     description="Run one step of a scene render.")  # fmt: skip
    parser.add_argument("--step", required=True, choices=("probe", "chunk", "assemble"))
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--studio-id", required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("--index", type=int, default=None, help="chunk index (default: the array index)")
    args = parser.parse_args(argv)
    hooks.install()
    index = array_index() if args.index is None else args.index
    logger.append_keys(render_job_id=args.job_id, studio_id=args.studio_id, step=args.step, chunk=index)
    worker = SceneWorker(args.step, args.studio_id, args.job_id, args.attempt, index)
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    code = worker.run()
    print(
        json.dumps({"renderJobId": args.job_id, "step": args.step, "index": index, "exitCode": code}),
        flush=True,
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
