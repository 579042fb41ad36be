"""The scene steps' inputs: the scene and its dependencies downloaded into the working tree, the
probe of the scene's facts, the references nothing provides, and the frames already in the bucket.

Used by :mod:`keyframe.renders.scene_worker` (the steps themselves).
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyframe.renders import scene_renderers, scenes, storage, tools
from keyframe.renders.models import RenderJobItem
from keyframe.renders.worker import EXIT_FATAL, EXIT_INPUT, EXIT_RETRY, RenderFailure, download_source

PROBE_TIMEOUT_SECONDS = 300
STDERR_TAIL_CHARS = 2000


# ------------------------------------------------------------------------------------------ inputs
def require_tool(tool: str) -> str:
    """The renderer's path; ``RENDERER_UNAVAILABLE`` (exit 3) when this container lacks it."""
    path = tools.find(tool)
    if path is None:
        raise RenderFailure("RENDERER_UNAVAILABLE", tools.missing_message([tool]), EXIT_FATAL)
    return path


def scene_file_name(item: RenderJobItem) -> str:
    """``scene.blend`` / ``scene.sif`` / ``scene.sifz``: the scene's name in the working tree, from the
    format the pipeline identified (the renderers pick their loader by the suffix)."""
    return "scene." + str((item.scene or {}).get("sceneFormat") or "blend")


def download_scene(item: RenderJobItem, bucket: str, tree: Path) -> tuple[Path, str]:
    """The scene into ``tree`` (SHA-256 checked against the version's); see
    :func:`keyframe.renders.worker.download_source` for the failures."""
    path, digest = download_source(item, bucket, tree)
    target = tree / scene_file_name(item)
    path.rename(target)
    return target, digest


def download_dependencies(item: RenderJobItem, bucket: str, tree: Path) -> None:
    """Every dependency of the lineage into ``tree`` at its recorded ``path``, SHA-256 checked.

    Raises
    ------
    RenderFailure
        ``INPUT_MISSING`` / ``INPUT_CHECKSUM_MISMATCH`` (exit 4), ``DOWNLOAD_FAILED`` (exit 1).
    """
    client = storage.s3()
    for dependency in item.lineage.get("dependencies") or []:
        relative = dependency.get("path") or dependency["fileName"]
        target = (tree / relative).resolve()
        if tree.resolve() not in target.parents:
            raise RenderFailure("INPUT_PATH_OUTSIDE", f"{relative} is outside the working tree", EXIT_FATAL)
        target.parent.mkdir(parents=True, exist_ok=True)
        params: dict[str, Any] = {"Bucket": bucket, "Key": dependency["key"]}
        if dependency.get("s3VersionId"):
            params["VersionId"] = dependency["s3VersionId"]
        digest = hashlib.sha256()
        try:
            body = client.get_object(**params)["Body"]
            with target.open("wb") as out:
                while block := body.read(8 << 20):
                    digest.update(block)
                    out.write(block)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            gone = code in ("NoSuchKey", "NoSuchVersion", "404")
            name = f"Dependency {dependency['assetId']} v{dependency['version']} ({relative})"
            raise RenderFailure(
                "INPUT_MISSING" if gone else "DOWNLOAD_FAILED",
                f"{name} cannot be read: {code}",
                EXIT_INPUT if gone else EXIT_RETRY,
            ) from exc
        except BotoCoreError as exc:
            raise RenderFailure(
                "DOWNLOAD_FAILED", f"Downloading {relative} failed: {exc}", EXIT_RETRY
            ) from exc
        expected = dependency.get("sha256")
        if expected and digest.hexdigest() != expected:
            raise RenderFailure(
                "INPUT_CHECKSUM_MISMATCH",
                f"{relative}: SHA-256 {digest.hexdigest()}, the version records {expected}",
                EXIT_INPUT,
            )


def probe_scene(renderer: str, scene: Path) -> scenes.SceneFacts:
    """Read the scene's facts (Blender in the background; Synfig's XML directly).

    Raises
    ------
    RenderFailure
        ``RENDERER_UNAVAILABLE`` (exit 3), ``SCENE_UNREADABLE`` (exit 3).
    """
    if renderer == "synfig":
        try:
            return scene_renderers.parse_sif(scene.read_bytes())
        except (ValueError, OSError) as exc:
            raise RenderFailure(
                "SCENE_UNREADABLE", f"The Synfig scene cannot be read: {exc}", EXIT_FATAL
            ) from exc
    blender = require_tool("blender")
    try:
        done = subprocess.run(
            scene_renderers.blender_probe_command(blender, str(scene)),
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS, check=False,
            cwd=scene.parent, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise RenderFailure("PROBE_FAILED", "Blender did not read the scene in time", EXIT_RETRY) from exc
    try:
        return scene_renderers.parse_blender_probe(done.stdout)
    except (ValueError, KeyError) as exc:
        tail = (done.stdout + done.stderr)[-STDERR_TAIL_CHARS:].strip().splitlines()
        raise RenderFailure(
            "SCENE_UNREADABLE", f"Blender cannot read the scene: {tail[-1] if tail else exc}", EXIT_FATAL
        ) from exc


def missing_references(references: tuple[str, ...], placed: dict[str, str], tree: Path) -> list[str]:
    """The references neither a dependency nor the working tree provides."""
    provided = set(placed.values())
    return [r for r in references if r not in provided and not (tree / r.lstrip("/")).is_file()]


def frames_present(bucket: str, studio_id: str, job_id: str) -> dict[int, int]:
    """``frame -> size`` of every frame file under ``renders/{jobId}/frames/`` (media bucket)."""
    client = storage.s3()
    found: dict[int, int] = {}
    prefix = scenes.frames_prefix(studio_id, job_id)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            match = scenes.FRAME_PATTERN.search(obj["Key"])
            if match and obj.get("Size", 0) > 0:
                found[int(match.group(1))] = int(obj["Size"])
    return found
