"""The render container: ``python -m keyframe.renders.worker --job-id ID --studio-id SID --attempt N``.

One run is one container *try* of one attempt of a render job:

1. ``QUEUED/RUNNING -> RUNNING`` on the record (conditional: a cancelled, finished or retried job
   makes the container exit 0 at once without touching anything);
2. checks the FFmpeg it has can do what the job asks (``drawtext`` for burn-in and watermark);
3. downloads the exact source object (S3 ``VersionId`` from the lineage when the bucket is
   versioned), computes its SHA-256 on the way, verifies it against the version's declared checksum
   when there is one, and stores it in the job's lineage (``sha256``, ``sha256Verified: true``;
   conditional on RUNNING), so every rendered job names the digest of exactly what went in;
4. probes it (PyAV/ffprobe via :mod:`keyframe.media.probe`) and plans the render from the real media;
5. runs FFmpeg with ``-progress pipe:1 -nostats``; at most every 2 s writes progress/fps/ETA
   (conditional on RUNNING: when the job was cancelled the write fails, FFmpeg is killed and the
   container exits 0) and emits ``render:progress``;
6. uploads the outputs under ``studios/{s}/renders/{id}/attempt-{n}/`` and records them; the state
   machine's finalize task then marks the job SUCCEEDED.

Exit codes are those of every Batch container (:mod:`keyframe.exit_codes`, whose table the job
definition's ``retryStrategy`` follows): 0 done or nothing to do; 1 a machine or network failure, or
FFmpeg failed (RETRY); 4 the input is missing, corrupt or not what the lineage says (RETRY: a re-read
may succeed, then FAILED); 3 the job cannot run with this container (no drawtext, bad trim: EXIT, no
retry); 143 terminated (SIGTERM from TerminateJob / the Batch timeout).

Before a non-zero exit the reason is stored as the job's ``lastError`` (``{code, message}``); the
state machine's mark-failed task makes it the job's ``error`` when the attempt ends FAILED.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyframe import exit_codes
from keyframe.live import hooks
from keyframe.media.errors import InvalidMediaError
from keyframe.media.ffmpeg import MediaToolError, ffmpeg_exe
from keyframe.media.probe import probe
from keyframe.observability import logger
from keyframe.renders import commands, playlists, presets, service, storage, worker_writes
from keyframe.renders.config import RendersSettings, WorkerSettings
from keyframe.renders.models import RenderJobItem
from keyframe.renders.progress import ProgressParser, ProgressTracker, ProgressUpdate
from keyframe.settings import load

EXIT_OK = exit_codes.OK
EXIT_RETRY = exit_codes.RETRY
EXIT_INPUT = exit_codes.INPUT_RETRY
EXIT_FATAL = exit_codes.INVALID_INPUT
EXIT_TERMINATED = exit_codes.TERMINATED
STDERR_TAIL_CHARS = 2000
DOWNLOAD_CHUNK = 8 * 1024 * 1024


class RenderFailure(Exception):
    """This try cannot finish: ``code``/``message`` go to ``lastError``, ``exit_code`` to Batch."""

    def __init__(self, code: str, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code


class RenderCancelled(Exception):
    """The job stopped being RUNNING in this attempt (cancelled, or failed by the state machine)."""


class Terminated(Exception):
    """SIGTERM arrived (TerminateJob, Batch timeout, container stop)."""


# ------------------------------------------------------------------------------------------ capabilities
@cache
def drawtext_available(ffmpeg: str, font_file: str = "") -> bool:
    """True when ``ffmpeg`` has the ``drawtext`` filter (libfreetype) AND can draw with a font here.

    Runs one 1-frame render to ``null``: a build without libfreetype, or a machine without any
    font fontconfig can find (and no ``RENDER_FONT_FILE``), fails it.
    """
    text = "drawtext=text=Keyframe:fontsize=12" + (f":fontfile='{font_file}'" if font_file else "")
    source = ["-f", "lavfi", "-i", "color=size=64x64:duration=0.05"]
    args = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *source, "-vf", text, "-frames:v", "1"]
    args += ["-f", "null", "-"]
    try:
        completed = subprocess.run(args, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


# ------------------------------------------------------------------------------------------ ffmpeg run
@dataclass
class FfmpegRun:
    """Runs one FFmpeg command, feeding its progress to ``on_update``; SIGTERM-safe."""

    args: list[str]
    tracker: ProgressTracker
    on_update: Callable[[ProgressUpdate], bool]
    stderr_path: Path
    process: subprocess.Popen[str] | None = None

    def kill(self) -> None:
        """Stop FFmpeg now (SIGKILL; it writes nothing worth keeping once stopped)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def run(self) -> None:
        """Run to the end.

        Raises
        ------
        RenderCancelled
            ``on_update`` returned False (FFmpeg was killed).
        RenderFailure
            FFmpeg exited non-zero (``FFMPEG_FAILED``, exit 1) or could not start.
        """
        parser = ProgressParser()
        with self.stderr_path.open("w") as stderr:
            try:
                self.process = subprocess.Popen(
                    self.args,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    bufsize=1,
                )
            except OSError as exc:
                raise RenderFailure("FFMPEG_UNAVAILABLE", f"Cannot run FFmpeg: {exc}", EXIT_RETRY) from exc
            assert self.process.stdout is not None
            for line in self.process.stdout:
                sample = parser.feed(line)
                if sample is None:
                    continue
                update = self.tracker.observe(sample)
                if update is not None and not self.on_update(update):
                    self.kill()
                    raise RenderCancelled()
            code = self.process.wait()
        if code != 0:
            tail = self.stderr_path.read_text(errors="replace")[-STDERR_TAIL_CHARS:].strip()
            last = tail.splitlines()[-1] if tail else f"exit code {code}"
            raise RenderFailure("FFMPEG_FAILED", f"FFmpeg failed: {last}", EXIT_RETRY)


# ------------------------------------------------------------------------------------------ steps
def download_source(item: RenderJobItem, bucket: str, folder: Path) -> tuple[Path, str]:
    """Fetch the exact source object (by ``VersionId`` when known) and check its SHA-256.

    Returns
    -------
    tuple
        The local file and the SHA-256 (lowercase hex) of its bytes, computed while downloading.

    Raises
    ------
    RenderFailure
        ``INPUT_MISSING`` (exit 4) or ``INPUT_CHECKSUM_MISMATCH`` (exit 4); ``DOWNLOAD_FAILED`` (exit 1).
    """
    lineage = item.lineage
    key = lineage["key"]
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if lineage.get("s3VersionId"):
        params["VersionId"] = lineage["s3VersionId"]
    target = folder / ("source" + (Path(key).suffix.lower()[:10] or ".bin"))
    digest = hashlib.sha256()
    try:
        body = storage.s3().get_object(**params)["Body"]
        with target.open("wb") as out:
            for chunk in iter(lambda: body.read(DOWNLOAD_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchVersion", "404", "AccessDenied"):
            raise RenderFailure(
                "INPUT_MISSING", f"The source object {key} cannot be read ({code})", EXIT_INPUT
            ) from exc
        raise RenderFailure("DOWNLOAD_FAILED", f"Downloading the source failed: {code}", EXIT_RETRY) from exc
    except BotoCoreError as exc:
        raise RenderFailure("DOWNLOAD_FAILED", f"Downloading the source failed: {exc}", EXIT_RETRY) from exc
    expected = lineage.get("sha256")
    if expected and digest.hexdigest() != expected:
        raise RenderFailure(
            "INPUT_CHECKSUM_MISMATCH",
            f"The source's SHA-256 is {digest.hexdigest()}, the version records {expected}",
            EXIT_INPUT,
        )
    return target, digest.hexdigest()


def probe_source(path: Path) -> presets.SourceMedia:
    """What the source really is (the render is planned from this, not from the catalog).

    Raises
    ------
    RenderFailure
        ``INPUT_UNREADABLE`` (exit 4) for a corrupt or non-video file; ``PROBE_FAILED`` (exit 1).
    """
    try:
        info = probe(str(path))
    except InvalidMediaError as exc:
        raise RenderFailure(
            "INPUT_UNREADABLE", f"The source cannot be decoded: {exc.message}", EXIT_INPUT
        ) from exc
    except MediaToolError as exc:
        raise RenderFailure("PROBE_FAILED", f"Probing the source failed: {exc}", EXIT_RETRY) from exc
    if not info.has_video or not info.width or not info.height or not info.fps:
        raise RenderFailure("INPUT_UNREADABLE", "The source has no video stream to render", EXIT_INPUT)
    frames = info.frame_count or max(1, round((info.duration or 0) * info.fps))
    duration = info.duration or frames / info.fps
    return presets.SourceMedia(info.width, info.height, info.fps, duration, frames, info.has_audio)


def plan_for(item: RenderJobItem, source: presets.SourceMedia) -> presets.RenderPlan:
    """The render plan of the job's stored request against the probed source.

    Raises
    ------
    RenderFailure
        ``TRIM_OUT_OF_RANGE`` (exit 3) when the stored range does not fit the real file.
    """
    options = presets.RenderOptions.model_validate(item.options or {})
    start, end = int(item.frames["startFrame"]), min(int(item.frames["endFrame"]), source.frame_count)
    if not 0 <= start < end:
        raise RenderFailure(
            "TRIM_OUT_OF_RANGE",
            f"Frames [{start}, {end}) are outside the source's {source.frame_count}",
            EXIT_FATAL,
        )
    texts = item.texts or {}
    return presets.RenderPlan(
        preset=presets.preset(item.preset),
        source=source,
        frames=presets.FrameRange(start, end),
        burn_in=options.burn_in if options.burn_in and options.burn_in.any else None,
        watermark=bool(options.watermark),
        filmstrip_frames=options.frames or presets.FILMSTRIP_DEFAULT_FRAMES,
        texts=presets.RenderTexts(
            texts.get("assetName", ""), texts.get("versionLabel", ""), texts.get("watermark", "")
        ),
    )


def describe_outputs(
    command: commands.FfmpegCommand, folder: Path, prefix: str, counts: tuple[int, int]
) -> dict[str, Any]:
    """The job's ``outputs`` (keys of the playlists or the file, renditions from the master playlist)."""
    outputs: dict[str, Any] = {
        "prefix": prefix,
        "primary": prefix + command.primary,
        "fileCount": counts[0],
        "totalBytes": counts[1],
    }
    if command.primary.endswith(".m3u8"):
        variants = playlists.parse_master((folder / command.primary).read_text())
        by_name = {r.name: r for r in command.renditions}
        renditions = []
        for variant in variants:
            name = variant.uri.split("/")[0]
            planned = by_name.get(name)
            renditions.append({
                "name": name,
                "width": variant.width or (planned.width if planned else 0),
                "height": variant.height or (planned.height if planned else 0),
                "bandwidth": variant.bandwidth or (planned.bandwidth if planned else 0),
            })  # fmt: skip
        outputs["masterPlaylist"] = prefix + command.primary
        outputs["keys"] = [prefix + command.primary] + [prefix + v.uri for v in variants]
        outputs["renditions"] = renditions
    else:
        outputs["keys"] = [prefix + command.primary]
        outputs["renditions"] = [
            {"name": r.name, "width": r.width, "height": r.height} for r in command.renditions
        ]
    return outputs


# ------------------------------------------------------------------------------------------ one try
class Worker:
    """One container try of attempt ``attempt`` of job ``job_id`` in ``studio_id``."""

    def __init__(self, studio_id: str, job_id: str, attempt: int) -> None:
        self.studio_id = studio_id
        self.job_id = job_id
        self.attempt = attempt
        self.settings = load(RendersSettings)
        self.worker_settings = load(WorkerSettings)
        self.current: FfmpegRun | None = None
        self.terminated = threading.Event()

    def on_sigterm(self, _signum: int, _frame: Any) -> None:
        """SIGTERM: kill FFmpeg and unwind (the temporary folder is removed on the way out)."""
        if self.terminated.is_set():  # a second signal while unwinding: keep unwinding
            return
        self.terminated.set()
        if self.current is not None:
            self.current.kill()
        raise Terminated()

    def _report(self, update: ProgressUpdate) -> bool:
        return worker_writes.report_progress(self.studio_id, self.job_id, self.attempt, update)

    def run(self) -> int:
        """Run the try; returns the process exit code (see the module docstring)."""
        batch_attempt = os.environ.get("AWS_BATCH_JOB_ATTEMPT")
        running = worker_writes.begin_try(
            self.studio_id, self.job_id, self.attempt,
            batch_job_id=os.environ.get("AWS_BATCH_JOB_ID"),
            batch_attempt=int(batch_attempt) if batch_attempt and batch_attempt.isdigit() else None,
        )  # fmt: skip
        if running is None:
            logger.info("nothing to do: the job is not queued or running in this attempt")
            return EXIT_OK
        item = running.item
        scratch = self.worker_settings.RENDER_WORK_DIR or None
        with tempfile.TemporaryDirectory(prefix="render-", dir=scratch) as tmp:
            try:
                self._render(item, Path(tmp))
            except RenderCancelled:
                logger.info("the job was cancelled: stopped")
                storage.delete_prefix(self.settings.MEDIA_BUCKET, item.output_prefix)
                return EXIT_OK
            except RenderFailure as failure:
                logger.warning("render try failed", extra={"code": failure.code, "reason": failure.message})
                worker_writes.record_try_error(
                    self.studio_id, self.job_id, self.attempt, failure.code, failure.message
                )
                return failure.exit_code
            except Terminated:
                logger.warning("terminated: partial outputs removed")
                storage.delete_prefix(self.settings.MEDIA_BUCKET, item.output_prefix)
                return EXIT_TERMINATED
            except Exception as exc:
                logger.exception("render try crashed")
                worker_writes.record_try_error(
                    self.studio_id,
                    self.job_id,
                    self.attempt,
                    "INTERNAL_ERROR",
                    f"{type(exc).__name__}: {exc}",
                )
                return EXIT_RETRY
        return EXIT_OK

    def _render(self, item: RenderJobItem, tmp: Path) -> None:
        ffmpeg = ffmpeg_exe()
        font = self.worker_settings.RENDER_FONT_FILE
        options = presets.RenderOptions.model_validate(item.options or {})
        if (options.watermark or (options.burn_in and options.burn_in.any)) and not drawtext_available(
            ffmpeg, font
        ):
            raise RenderFailure(
                "UNSUPPORTED_OPTION",
                "This render container's FFmpeg cannot draw text (no drawtext/libfreetype or no font); "
                "burn-in and watermark are unavailable",
                EXIT_FATAL,
            )
        bucket = self.settings.MEDIA_BUCKET
        source_path, sha256 = download_source(item, bucket, tmp)
        if not worker_writes.record_source_checksum(
            self.studio_id, self.job_id, self.attempt, item.lineage, sha256
        ):
            raise RenderCancelled()
        plan = plan_for(item, probe_source(source_path))
        out = tmp / "out"
        out.mkdir()
        command = commands.build_command(
            plan, str(source_path), str(out), work_dir=str(tmp), ffmpeg=ffmpeg, font_file=font or None
        )
        for path, text in command.text_files.items():
            Path(path).write_text(text, encoding="utf-8")
        tracker = ProgressTracker(command.duration, plan.source.fps)
        self.current = FfmpegRun(command.args, tracker, self._report, tmp / "ffmpeg.log")
        logger.info("ffmpeg starting", extra={"ffmpeg_args": command.args})
        self.current.run()
        self.current = None
        prefix = item.output_prefix
        storage.delete_prefix(bucket, prefix)  # leftovers of an earlier try of this attempt
        counts = storage.upload_folder(bucket, out, prefix)
        outputs = describe_outputs(command, out, prefix, counts)
        if not worker_writes.record_outputs(self.studio_id, self.job_id, self.attempt, outputs):
            raise RenderCancelled()
        logger.info("render outputs stored", extra={"outputs": outputs})


def run(studio_id: str, job_id: str, attempt: int) -> int:
    """Run one try in this process (tests call it directly); returns the exit code."""
    return Worker(studio_id, job_id, attempt).run()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m keyframe.renders.worker", description="Run one render job try."
    )
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--studio-id", required=True)
    parser.add_argument(
        "--attempt", type=int, default=None, help="attempt number (default: the job's current)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entrypoint: parse arguments, install the SIGTERM handler, run one try."""
    args = _parse(argv)
    hooks.install()  # live delivery (sockets) registers with the event publisher at the start
    logger.append_keys(render_job_id=args.job_id, studio_id=args.studio_id)
    attempt = args.attempt
    if attempt is None:
        attempt = int(service.load_job(args.studio_id, args.job_id).attempts)
    worker = Worker(args.studio_id, args.job_id, attempt)
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    code = worker.run()
    print(json.dumps({"renderJobId": args.job_id, "attempt": attempt, "exitCode": code}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
