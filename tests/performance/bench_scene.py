"""Scene renders in chunks: frames per second of a chunked Blender render against Blender run once
on the whole range with the same settings, and the overhead each chunk adds (issue 17).

The scene is made here: a cube turning over ``FRAMES`` frames, a camera and a light, 320x240, the
Workbench engine. The settings are one :class:`keyframe.renders.scenes.SceneSettings`; every run uses
:func:`keyframe.renders.scene_worker.render_command` (the command the chunk step builds).

1. **Whole range**: Blender once on frames 1..``FRAMES`` (plain ``subprocess.run``), the baseline.
2. **Chunked, 2 at a time**: the range split by :meth:`SceneSettings.chunks` (``CHUNK_SIZE`` frames a
   chunk), each chunk run as the Batch array child runs its renderer
   (:class:`keyframe.renders.scene_worker.RendererRun`: own process group, output folder polled every
   0.5 s, each finished frame handed on, here copied to a folder standing for the bucket); two
   children at once, as the local Batch runner's default ``KEYFRAME_BATCH_CONCURRENCY`` on 2 cores.
   Ratio chunked fps / whole fps (target >= 0.9 on 2 cores).
3. **Chunked, one at a time**: the same chunks in sequence; the chunk overhead per chunk is
   ``(sequential chunks time - whole time) / chunks`` (Blender's start and scene load, the last poll).

Not included: the S3 download of the scene and upload of frames, and the DynamoDB chunk updates
(milliseconds per frame on the local stack). Skips with a message when Blender is absent.

Run: ``python -m tests.performance.bench_scene`` (or ``make bench ONLY=scene``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from keyframe.renders import scene_worker, scenes, tools

FRAMES = 96
CHUNK_SIZE = 32
PARALLEL = 2

SCRIPT = textwrap.dedent(
    """
    import bpy, math, sys
    out = sys.argv[sys.argv.index("--") + 1]
    for o in list(bpy.data.objects):
        bpy.data.objects.remove(o)
    bpy.ops.mesh.primitive_cube_add(size=2)
    cube = bpy.context.object
    cube.keyframe_insert("rotation_euler", frame=1)
    cube.rotation_euler.z = math.pi
    cube.keyframe_insert("rotation_euler", frame={FRAMES})
    bpy.ops.object.light_add(type="SUN", location=(4, -4, 6))
    bpy.ops.object.camera_add(location=(0, -8, 5), rotation=(1.0, 0, 0))
    scene = bpy.context.scene
    scene.camera = bpy.context.object
    scene.frame_start, scene.frame_end = 1, {FRAMES}
    scene.render.fps = 24
    scene.render.resolution_x, scene.render.resolution_y = 320, 240
    bpy.ops.wm.save_as_mainfile(filepath=out)
    """
).replace("{FRAMES}", str(FRAMES))


def _settings() -> scenes.SceneSettings:
    return scenes.SceneSettings(
        renderer="blender", frame_start=1, frame_end=FRAMES, frame_step=1, chunk_size=CHUNK_SIZE,
        fps=24.0, width=320, height=240, resolution_percent=100, engine="WORKBENCH", samples=None,
        camera=None, image_format="PNG",
    )  # fmt: skip


def _make_scene(blender: str, folder: Path) -> Path:
    script = folder / "make_scene.py"
    script.write_text(SCRIPT)
    blend = folder / "bench.blend"
    subprocess.run([blender, "-b", "--factory-startup", "--python", str(script), "--", str(blend)],
                   check=True, timeout=180, capture_output=True)  # fmt: skip
    return blend


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _whole(settings: scenes.SceneSettings, blend: Path, folder: Path) -> float:
    out = _fresh(folder / "whole")
    first, last = settings.frame_start, settings.frame_end
    args, outputs = scene_worker.render_command(settings, blend, out, first, last)
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    elapsed = time.perf_counter() - started
    assert all(path.is_file() for path in outputs), "Blender did not write every frame"
    return elapsed


def _chunk(
    settings: scenes.SceneSettings, blend: Path, folder: Path, chunk: scenes.Chunk, bucket: Path
) -> None:
    tmp = _fresh(folder / f"chunk-{chunk.index}")
    frames = chunk.frames
    args, outputs = scene_worker.render_command(settings, blend, tmp, frames[0], frames[-1])

    def on_frame(frame: int, path: Path) -> bool:
        shutil.copyfile(path, bucket / scenes.frame_name(frame, settings.image_format))
        return True

    code = scene_worker.RendererRun(args, outputs, on_frame, tmp / "renderer.log", folder).run()
    if code != 0:
        raise RuntimeError(f"chunk {chunk.index}: Blender exited {code}")


def _chunked(settings: scenes.SceneSettings, blend: Path, folder: Path, workers: int) -> float:
    bucket = _fresh(folder / "bucket")
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda c: _chunk(settings, blend, folder, c, bucket), settings.chunks()))
    elapsed = time.perf_counter() - started
    assert len(list(bucket.iterdir())) == settings.frames, "a chunk lost frames"
    return elapsed


def main() -> int:
    """Print fps whole vs chunked and the chunk overhead; 0 (with a message) when Blender is absent."""
    blender = tools.find("blender")
    if blender is None:
        print(f"skipped: {tools.missing_message(['blender']) or 'blender is not installed'}", flush=True)
        return 0
    settings = _settings()
    count = len(settings.chunks())
    with tempfile.TemporaryDirectory(prefix="bench-scene-") as name:
        folder = Path(name)
        blend = _make_scene(blender, folder)
        whole = _whole(settings, blend, folder)
        parallel = _chunked(settings, blend, folder, PARALLEL)
        sequential = _chunked(settings, blend, folder, 1)
    fps_whole, fps_parallel = settings.frames / whole, settings.frames / parallel
    print(f"{settings.frames} frames 320x240 Workbench, {count} chunks of {CHUNK_SIZE}", flush=True)
    print(f"whole range once:        {whole:6.1f} s  {fps_whole:5.2f} fps (baseline)", flush=True)
    print(
        f"chunked, {PARALLEL} at a time:   {parallel:6.1f} s  {fps_parallel:5.2f} fps"
        f"  = {fps_parallel / fps_whole:.2f}x the whole range (target >= 0.9x:"
        f" {'met' if fps_parallel / fps_whole >= 0.9 else 'NOT met'})",
        flush=True,
    )
    print(
        f"chunked, one at a time:  {sequential:6.1f} s  {settings.frames / sequential:5.2f} fps"
        f"  chunk overhead {(sequential - whole) / count:.2f} s per chunk",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    from tests.support import environment

    environment.apply()
    raise SystemExit(main())
