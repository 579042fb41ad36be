"""The shared Lambda layer: Keyframe's runtime dependencies plus the ``keyframe`` package.

Bundled during synth without Docker: ``pip install --platform manylinux2014_aarch64
--only-binary=:all: --python-version 3.13`` fetches the arm64/CPython 3.13 wheels of the
``[project] dependencies`` of ``pyproject.toml`` (the one dependency list), then the ``keyframe``
package is copied beside them, without the developer-only ``local/`` and ``cli/`` sub-packages.

Caching: the pip result is kept in ``.keyframe/cache/layer/deps-<hash>`` (hash of the dependency list
and target platform) so only a dependency change runs pip again; the asset hash covers the
dependency hash and every file of the package, so the layer is re-uploaded exactly when its content
changes.

``KEYFRAME_LAYER_BUNDLING=skip`` stages only the ``keyframe`` package (no pip, no registry): the
infrastructure tests use it to stay fast. Such a layer cannot run; the construct warns and its
asset hash differs from a real one, so it is never mistaken for one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Annotations, AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from keyframe.registry import REPO_ROOT

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_TARGET_ARGS: tuple[str, ...] = (
    "--platform",
    "manylinux2014_aarch64",
    "--only-binary=:all:",
    "--python-version",
    "3.13",
    "--implementation",
    "cp",
)
"""pip arguments selecting wheels for the Lambda runtime (CPython 3.13 on Graviton)."""

BUNDLER_VERSION = "1"
"""Bump to invalidate every cached bundle when the bundling procedure itself changes."""

BUNDLING_ENV = "KEYFRAME_LAYER_BUNDLING"
PACKAGE_DIR = REPO_ROOT / "layers" / "keyframe"
PYPROJECT = REPO_ROOT / "pyproject.toml"
CACHE_DIR = REPO_ROOT / ".keyframe" / "cache" / "layer"
EXCLUDED_SUBPACKAGES = frozenset({"local", "cli"})
"""Top-level sub-packages never shipped: the local stack and the developer CLI."""
CACHE_DIRS = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def runtime_dependencies(pyproject: Path = PYPROJECT) -> list[str]:
    """The ``[project] dependencies`` of ``pyproject`` (pinned requirement strings)."""
    with pyproject.open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def skip_dependencies() -> bool:
    """True when ``KEYFRAME_LAYER_BUNDLING=skip``: stage the package only, without pip."""
    return os.environ.get(BUNDLING_ENV, "").strip().lower() == "skip"


def package_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Every file of the ``keyframe`` package that the layer ships, relative to ``package_dir``, sorted."""
    found: list[Path] = []
    for root, dirs, files in os.walk(package_dir):
        relative_root = Path(root).relative_to(package_dir)
        dirs[:] = sorted(d for d in dirs if _shipped(relative_root, d))
        found.extend(relative_root / name for name in files if not name.endswith(EXCLUDED_SUFFIXES))
    return sorted(found)


def _shipped(relative_root: Path, directory: str) -> bool:
    if directory in CACHE_DIRS:
        return False
    return not (relative_root == Path(".") and directory in EXCLUDED_SUBPACKAGES)


def dependencies_hash(dependencies: list[str], target_args: tuple[str, ...] = PIP_TARGET_ARGS) -> str:
    """Hash of what pip installs: the requirement strings and the target platform."""
    payload = json.dumps({"deps": sorted(dependencies), "target": target_args, "v": BUNDLER_VERSION})
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def bundle_hash(dependencies: list[str], *, skip: bool, package_dir: Path = PACKAGE_DIR) -> str:
    """The layer's asset hash: the dependencies (or ``skip``) and every shipped file's path and bytes."""
    digest = hashlib.sha256()
    digest.update(("skip" if skip else dependencies_hash(dependencies)).encode())
    for relative in package_files(package_dir):
        digest.update(str(relative).encode() + b"\0")
        digest.update((package_dir / relative).read_bytes() + b"\0")
    return digest.hexdigest()


def install_dependencies(
    dependencies: list[str], cache_dir: Path = CACHE_DIR, target_args: tuple[str, ...] = PIP_TARGET_ARGS
) -> Path:
    """pip-install ``dependencies`` for the Lambda runtime (``target_args``) once; return the cached
    ``site-packages``.

    Raises
    ------
    RuntimeError
        pip failed (no registry, no wheel for the platform); the message carries pip's output.
    """
    target = cache_dir / f"deps-{dependencies_hash(dependencies, target_args)}"
    if (target / ".complete").exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=cache_dir))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        *target_args,
        "--target",
        str(staging),
        *dependencies,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"pip could not bundle the layer dependencies:\n{result.stdout}\n{result.stderr}")
    (staging / ".complete").write_text(" ".join(dependencies))
    try:
        staging.rename(target)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def copy_package(destination: Path, package_dir: Path = PACKAGE_DIR) -> None:
    """Copy the shipped files of the ``keyframe`` package into ``destination`` (a ``keyframe/`` dir)."""
    for relative in package_files(package_dir):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(package_dir / relative, target)


@jsii.implements(ILocalBundling)
class LocalLayerBundler:
    """Builds the layer directory (``python/…``) on this machine, no Docker needed."""

    def __init__(self, dependencies: list[str], *, skip: bool) -> None:
        self._dependencies = dependencies
        self._skip = skip

    def try_bundle(self, output_dir: str, *, image: Any = None, **kwargs: Any) -> bool:
        """Write ``<output_dir>/python`` (dependencies + ``keyframe``); True means "done, no Docker"."""
        python_dir = Path(output_dir) / "python"
        if self._skip:
            python_dir.mkdir(parents=True, exist_ok=True)
        else:
            site_packages = install_dependencies(self._dependencies)
            shutil.copytree(
                site_packages,
                python_dir,
                copy_function=_link_or_copy,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns(".complete"),
            )
        copy_package(python_dir / "keyframe")
        return True


def _docker_command(dependencies: list[str]) -> list[str]:
    """The same build inside the SAM image, used only if local bundling is ever unavailable."""
    excluded = " ".join(f"/asset-output/python/keyframe/{d}" for d in sorted(EXCLUDED_SUBPACKAGES))
    requirements = " ".join(f"'{d}'" for d in dependencies)
    return [
        "bash",
        "-c",
        f"pip install --no-compile --target /asset-output/python {requirements} && "
        f"cp -r /asset-input/keyframe /asset-output/python/keyframe && rm -rf {excluded} && "
        "find /asset-output/python/keyframe -name __pycache__ -prune -exec rm -rf {} +",
    ]


class SharedLayer(Construct):
    """The one layer every function uses (arm64, Python 3.13).

    Attributes
    ----------
    layer:
        The ``aws_lambda.LayerVersion``.
    bundled_dependencies:
        False when built with ``KEYFRAME_LAYER_BUNDLING=skip`` (package only: not deployable).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        dependencies = runtime_dependencies()
        skip = skip_dependencies()
        self.bundled_dependencies = not skip
        code = lambda_.Code.from_asset(
            str(PACKAGE_DIR.parent),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=bundle_hash(dependencies, skip=skip),
            bundling=BundlingOptions(
                image=RUNTIME.bundling_image,
                platform="linux/arm64",
                command=_docker_command(dependencies),
                local=LocalLayerBundler(dependencies, skip=skip),
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Keyframe: the keyframe package and its runtime dependencies",
        )
        if skip:
            Annotations.of(self).add_warning_v2(
                "keyframe:layer-without-dependencies",
                f"{BUNDLING_ENV}=skip: the layer holds only the keyframe package; do not deploy this synth",
            )
