"""Blender and Synfig: probing a scene for its facts, the render command lines, and where the files
a scene references go in the working tree (pure: no I/O except :func:`parse_sif`, which reads bytes it
is given). The presets, options and settings they read are :mod:`keyframe.renders.scenes`.
"""

from __future__ import annotations

import gzip
import json
import re
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath

from keyframe.renders.scenes import FRAME_DIGITS, Engine, SceneFacts, SceneSettings

BLENDER_ENGINES: dict[Engine, str] = {
    Engine.WORKBENCH: "BLENDER_WORKBENCH",
    Engine.EEVEE: "BLENDER_EEVEE",
    Engine.CYCLES: "CYCLES",
}


# ------------------------------------------------------------------------------------------ Blender
BLENDER_PROBE_MARK = "KEYFRAME_PROBE "

BLENDER_PROBE_SCRIPT = (
    "import bpy, json\n"
    "s = bpy.context.scene\n"
    "r = s.render\n"
    "paths = sorted(set(bpy.utils.blend_paths(absolute=False, packed=False, local=False)))\n"
    "print('" + BLENDER_PROBE_MARK + "' + json.dumps({'frameStart': s.frame_start, 'frameEnd': s.frame_end,"
    " 'fps': r.fps / (r.fps_base or 1), 'width': r.resolution_x, 'height': r.resolution_y,"
    " 'cameras': sorted(o.name for o in bpy.data.objects if o.type == 'CAMERA'),"
    " 'references': paths}), flush=True)\n"
)
"""Printed by ``blender -b --factory-startup scene.blend --python-expr``: one JSON line after
:data:`BLENDER_PROBE_MARK` (``bpy.utils.blend_paths`` lists images, libraries, sounds, caches)."""


def blender_probe_command(blender: str, scene: str) -> list[str]:
    """The probe command line of a ``.blend``."""
    return [blender, "-b", "--factory-startup", scene, "--python-expr", BLENDER_PROBE_SCRIPT]


def parse_blender_probe(output: str) -> SceneFacts:
    """The facts from the probe's output.

    Raises
    ------
    ValueError
        No probe line (Blender could not open the file).
    """
    for line in output.splitlines():
        if line.startswith(BLENDER_PROBE_MARK):
            data = json.loads(line[len(BLENDER_PROBE_MARK) :])
            return SceneFacts(
                frame_start=int(data["frameStart"]),
                frame_end=int(data["frameEnd"]),
                fps=float(data["fps"]),
                width=int(data["width"]),
                height=int(data["height"]),
                references=tuple(clean_reference(p) for p in data.get("references") or ()),
                cameras=tuple(data.get("cameras") or ()),
            )
    raise ValueError("Blender printed no probe result")


def blender_command(
    blender: str, scene: str, settings: SceneSettings, out_dir: str, *, start: int, end: int, threads: int = 0
) -> list[str]:
    """Render frames ``start`` to ``end`` (every ``frame_step``) of ``scene`` into ``out_dir``.

    Frames come out as ``frame_000042.png`` (Blender's ``######`` padding). Settings Blender has no
    flag for (resolution percent, camera, samples) are set by a ``--python-expr`` that runs before
    ``-a``; arguments are read in order, so ``-E``/``-o``/``-F`` precede it too.
    """
    script = ["import bpy", "s = bpy.context.scene", "s.render.resolution_percentage = "
              f"{settings.resolution_percent}", "s.render.use_file_extension = True"]  # fmt: skip
    if settings.camera:
        script.append(f"s.camera = bpy.data.objects[{settings.camera!r}]")
    if settings.samples:
        script.append(f"s.cycles.samples = {int(settings.samples)}")
    engine = BLENDER_ENGINES[Engine(settings.engine or Engine.WORKBENCH)]
    image = "OPEN_EXR" if settings.image_format == "EXR" else "PNG"
    return [
        blender, "-b", "--factory-startup", scene, "-E", engine, "--python-expr", "\n".join(script),
        "-o", f"{out_dir}/frame_{'#' * FRAME_DIGITS}", "-F", image, "-t", str(threads),
        "-s", str(start), "-e", str(end), "-j", str(settings.frame_step), "-a",
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------ Synfig
_TIME_PART = re.compile(r"(-?\d+(?:\.\d+)?)\s*([hmsf]?)")


def sif_time_frames(text: str, fps: float) -> int:
    """A Synfig time (``"2s 6f"``, ``"48f"``, ``"1.5"`` seconds, ``"0"``) in frames at ``fps``.

    Examples
    --------
    >>> sif_time_frames("1s 12f", 24)
    36
    >>> sif_time_frames("11f", 24)
    11
    """
    total = 0.0
    for number, unit in _TIME_PART.findall(text.strip()):
        value = float(number)
        total += {"h": 3600 * fps, "m": 60 * fps, "f": 1}.get(unit, fps) * value
    return round(total)


def parse_sif(data: bytes) -> SceneFacts:
    """The facts of a Synfig scene (``.sif``, or gzip ``.sifz``): canvas size, fps, time range,
    and the files imported (``<param name="filename">`` of import and sound layers).

    Raises
    ------
    ValueError
        Not a Synfig canvas.
    """
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    root = ET.fromstring(data)
    if root.tag != "canvas":
        raise ValueError("not a Synfig canvas")
    fps = float(root.get("fps") or 24)
    begin = sif_time_frames(root.get("begin-time") or "0", fps)
    end = sif_time_frames(root.get("end-time") or "0", fps)
    references = []
    for param in root.iter("param"):
        if param.get("name") == "filename":
            node = param.find("string")
            if node is not None and node.text and node.text.strip():
                references.append(clean_reference(node.text.strip()))
    return SceneFacts(
        frame_start=begin,
        frame_end=max(begin, end),
        fps=fps,
        width=int(root.get("width") or 480),
        height=int(root.get("height") or 270),
        references=tuple(sorted(set(references))),
    )


def synfig_command(
    synfig: str, scene: str, settings: SceneSettings, out_file: str, *, start: int, end: int
) -> list[str]:
    """Render frames ``start`` to ``end`` of ``scene`` to PNGs ``out_file`` (``frame.png``).

    Synfig names a sequence ``frame.0042.png`` and a single frame ``frame.png``;
    :func:`synfig_output_frame` maps both back to frame numbers.
    """
    return [
        synfig, scene, "-t", "png", "-o", out_file, "-w", str(settings.width), "-h", str(settings.height),
        "--begin-time", f"{start}f", "--end-time", f"{end}f", "-q",
    ]  # fmt: skip


def synfig_output_frame(name: str, single: int | None) -> int | None:
    """The frame number of a Synfig output file name (``single``: the frame of a one-frame render)."""
    match = re.fullmatch(r"frame\.(\d+)\.png", name)
    if match:
        return int(match.group(1))
    if name == "frame.png":
        return single
    return None


# ------------------------------------------------------------------------------------------ references
def clean_reference(path: str) -> str:
    """A scene's reference as a relative POSIX path: Blender's ``//`` removed, backslashes turned.

    Absolute paths keep their leading ``/`` (they cannot be placed in the working tree and are
    reported missing unless the file exists there).
    """
    path = path.replace("\\", "/")
    if path.startswith("//"):
        path = path[2:]
    return str(PurePosixPath(path)) if path else path


def place_dependencies(references: list[str], file_names: dict[str, str]) -> dict[str, str]:
    """Where each dependency goes in the working tree (relative to the scene's folder).

    The rule: a reference whose file name (last path part) equals a dependency's original
    ``fileName`` gets that dependency at exactly the referenced relative path (``textures/wood.png``);
    a dependency no reference names goes beside the scene under its ``fileName``.

    Parameters
    ----------
    references:
        The scene's references (:func:`clean_reference` form).
    file_names:
        ``assetId -> fileName`` of each dependency version.

    Returns
    -------
    dict
        ``assetId -> relative path``.
    """
    by_name: dict[str, str] = {}
    for asset_id, name in sorted(file_names.items()):
        by_name.setdefault(name, asset_id)
    placed: dict[str, str] = {}
    for reference in references:
        if reference.startswith("/") or ".." in PurePosixPath(reference).parts:
            continue
        owner = by_name.get(PurePosixPath(reference).name)
        if owner and owner not in placed:
            placed[owner] = reference
    for asset_id, name in file_names.items():
        placed.setdefault(asset_id, PurePosixPath(name).name)
    return placed
