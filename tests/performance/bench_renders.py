"""Render cost: the worker's FFmpeg run against plain FFmpeg, and the one-decode ladder against one
pass per rendition.

1. **Worker overhead.** The exact HLS ladder command the worker builds (3 rungs from a 1080p source),
   run (a) as plain ``ffmpeg`` with the same arguments minus ``-progress pipe:1 -nostats``, and
   (b) the way the worker runs it (:class:`keyframe.renders.worker.FfmpegRun`: progress on a pipe,
   parsed line by line, the 2 s throttle, a progress callback). Ratio b/a; target at most 1.1.
2. **One decode.** The same ladder as one FFmpeg process (``split=3`` + ``-var_stream_map``, the source
   decoded once) against three separate FFmpeg processes, one per rendition, each decoding the
   source again. Ratio one-decode / separate (below 1 means the single decode saves time).

Each measurement is the best of ``ROUNDS`` runs, alternating the variants so machine noise hits both.
The clip is made with FFmpeg's test sources (5 s, 1920x1080, 24 fps, with sound).

Run: ``python -m tests.performance.bench_renders`` (or ``make bench ONLY=renders``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from keyframe.media.ffmpeg import ffmpeg_exe
from keyframe.renders import commands, presets
from keyframe.renders.progress import ProgressTracker
from keyframe.renders.worker import FfmpegRun

ROUNDS = 3
SECONDS = 5.0
SIZE = "1920x1080"


def _clip(folder: Path) -> Path:
    path = folder / "source.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=24:duration={SECONDS}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _ladder(source: Path, out: Path) -> commands.FfmpegCommand:
    width, height = (int(v) for v in SIZE.split("x"))
    media = presets.SourceMedia(width, height, 24.0, SECONDS, int(SECONDS * 24), True)
    plan = presets.plan("hls", None, media)
    return commands.build_command(plan, str(source), str(out), work_dir=str(out.parent), ffmpeg=ffmpeg_exe())


def _per_rendition(source: Path, out: Path, command: commands.FfmpegCommand) -> list[list[str]]:
    """One complete FFmpeg command per rung: same encoder settings, each decoding the source itself."""
    commands = []
    for rendition in command.renditions:
        rung = next(r for r in presets.LADDER if r.name == rendition.name)
        folder = out / rendition.name
        commands.append([
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", str(source),
            "-vf", f"scale={rendition.width}:{rendition.height},setsar=1", "-map", "0:v:0", "-map", "0:a:0",
            "-c:v", "libx264", "-preset", presets.X264_PRESET, "-pix_fmt", "yuv420p",
            "-b:v", f"{rung.video_kbps}k", "-maxrate", f"{int(rung.video_kbps * 1.07)}k",
            "-bufsize", f"{rung.video_kbps * 3 // 2}k",
            "-g", "96", "-keyint_min", "96", "-sc_threshold", "0",
            "-force_key_frames", "expr:gte(t,n_forced*4)",
            "-c:a", "aac", "-b:a", "128k", "-ac", "2",
            "-f", "hls", "-hls_time", "4", "-hls_playlist_type", "vod",
            "-hls_segment_filename", f"{folder}/segment_%03d.ts", f"{folder}/index.m3u8",
        ])  # fmt: skip
    return commands


def main() -> None:
    """Print the two ratios (best of ``ROUNDS`` each)."""
    with tempfile.TemporaryDirectory(prefix="bench-renders-") as tmp:
        root = Path(tmp)
        source = _clip(root)
        out = root / "out"
        command = _ladder(source, out)
        plain_args = command.without_progress()
        updates: list[int] = []

        def plain() -> None:
            _fresh(out)
            subprocess.run(plain_args, check=True, timeout=600)

        def as_worker() -> None:
            _fresh(out)
            tracker = ProgressTracker(command.duration, 24.0)
            FfmpegRun(
                command.args, tracker, lambda u: updates.append(u.progress) or True, root / "ffmpeg.log"
            ).run()

        def separate() -> None:
            _fresh(out)
            for args in _per_rendition(source, out, command):
                (out / Path(args[-1]).parent.name).mkdir(exist_ok=True)
                subprocess.run(args, check=True, timeout=600)

        times: dict[str, list[float]] = {"plain": [], "worker": [], "separate": []}
        for _ in range(ROUNDS):
            times["plain"].append(_timed(plain))
            times["worker"].append(_timed(as_worker))
            times["separate"].append(_timed(separate))
        best = {name: min(values) for name, values in times.items()}
        print(
            f"source: {SECONDS:g} s {SIZE} 24 fps with sound; ladder {[r.name for r in command.renditions]}"
        )
        for name, label in (
            ("plain", "plain ffmpeg (same args)"),
            ("worker", "worker FfmpegRun (+progress)"),
        ):
            runs = ", ".join(f"{t:.2f}" for t in times[name])
            print(f"{label:30s} best {best[name]:.2f} s  (runs: {runs})")
        print(f"  ratio worker/plain = {best['worker'] / best['plain']:.3f} (target <= 1.10); "
              f"{len(updates)} progress updates, last {updates[-1] if updates else None}")  # fmt: skip
        print(f"one pass per rendition        best {best['separate']:.2f} s")
        print(f"  ratio one-decode ladder / separate passes = {best['plain'] / best['separate']:.3f}")


if __name__ == "__main__":
    main()
