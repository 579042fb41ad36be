"""The shared Lambda layer: Keyframe's runtime dependencies plus the ``keyframe`` package.

Bundled during synth without Docker: ``pip install --platform manylinux2014_aarch64
--only-binary=:all: --python-version 3.13`` fetches the arm64/CPython 3.13 wheels of the
``[project] dependencies`` of ``pyproject.toml`` (the one dependency list), then the ``keyframe``
package is copied beside them, without the developer-only ``local/`` and ``cli/`` sub-packages.

Bytecode: the layer ships ``__pycache__/*.cpython-313.pyc`` for every module, compiled by a CPython 3.13
found on this machine (:func:`bytecode_compiler`) in ``unchecked-hash`` mode (valid whatever the files'
times after Lambda unpacks the layer). ``/opt`` is read-only in Lambda, so without them every cold start
compiles boto3, botocore, pydantic, Powertools and Keyframe from source: about 3x the CPU of the import
(``make bench ONLY=coldstart`` prints the figure). Without a CPython 3.13 the synth warns and ships
sources only.

Caching: the pip result is kept in ``.keyframe/cache/layer/deps-<hash>`` (hash of the dependency list
and target platform) so only a dependency change runs pip again; the asset hash covers the
dependency hash and every file of the package, so the layer is re-uploaded exactly when its content
changes.

``KEYFRAME_LAYER_BUNDLING=skip`` stages only the ``keyframe`` package (no pip, no registry): the
infrastructure tests use it to stay fast. Such a layer cannot run; the construct warns and its
asset hash differs from a real one, so it is never mistaken for one.
"""

from __future__ import annotations

import glob
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

RUNTIME_PYTHON = (3, 13)
"""The CPython version of :data:`RUNTIME`: the layer's bytecode is compiled by this version."""
BYTECODE_PYTHON_ENV = "KEYFRAME_LAYER_PYTHON"
"""Names the CPython 3.13 interpreter that compiles the layer's bytecode (else it is looked for)."""

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


def bundle_hash(
    dependencies: list[str], *, skip: bool, bytecode: bool = False, package_dir: Path = PACKAGE_DIR
) -> str:
    """The layer's asset hash: the dependencies (or ``skip``), whether it ships bytecode, and every
    shipped file's path and bytes."""
    digest = hashlib.sha256()
    digest.update(("skip" if skip else dependencies_hash(dependencies)).encode())
    if bytecode:
        digest.update("bytecode:cpython-{}{}".format(*RUNTIME_PYTHON).encode())
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


def _python_version(interpreter: str) -> tuple[int, int] | None:
    try:
        result = subprocess.run(
            [interpreter, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    parts = result.stdout.split()
    if result.returncode != 0 or len(parts) != 2:
        return None
    return int(parts[0]), int(parts[1])


def bytecode_compiler() -> str | None:
    """A CPython of :data:`RUNTIME_PYTHON` on this machine, or ``None``.

    Looked for in order: ``KEYFRAME_LAYER_PYTHON``, the running interpreter, ``python3.13`` on ``PATH``,
    then pyenv's ``~/.pyenv/versions/3.13*/bin/python3.13``. Each candidate is run once to check its
    version (a pyenv shim of a version that is not selected fails that check).
    """
    name = "python{}.{}".format(*RUNTIME_PYTHON)
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        os.environ.get(BYTECODE_PYTHON_ENV, ""),
        sys.executable if sys.version_info[:2] == RUNTIME_PYTHON else "",
        shutil.which(name) or "",
        *sorted(glob.glob(f"{pyenv_root}/versions/{RUNTIME_PYTHON[0]}.{RUNTIME_PYTHON[1]}*/bin/{name}")),
    ]
    for candidate in candidates:
        if candidate and _python_version(candidate) == RUNTIME_PYTHON:
            return candidate
    return None


def compileall_args(python_dir: str) -> list[str]:
    """``python -m compileall`` arguments for the layer's ``python/`` at ``python_dir``: quiet, every
    core, ``unchecked-hash`` pycs, file names as Lambda sees them (``/opt/python/...``)."""
    return [
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        python_dir,
        "-p",
        "/opt/python",
        python_dir,
    ]


def compile_bytecode(python_dir: Path, interpreter: str) -> str:
    """Write ``__pycache__/*.cpython-313.pyc`` beside every module under ``python_dir`` (the layer's
    ``python/``), as Lambda will find them under ``/opt/python``; ``unchecked-hash`` pycs are used
    whatever the files' modification times.

    Returns the compiler's complaints ("" when every file compiled; a file that does not compile for
    3.13, such as a package's Python 2 example, is left as a source file).
    """
    result = subprocess.run(
        [interpreter, *compileall_args(str(python_dir))],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else (result.stdout + result.stderr)[-2000:]


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

    def __init__(self, dependencies: list[str], *, skip: bool, compiler: str | None = None) -> None:
        self._dependencies = dependencies
        self._skip = skip
        self._compiler = compiler
        self.complaints = ""

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
        if self._compiler and not self._skip:
            self.complaints = compile_bytecode(python_dir, self._compiler)
            if self.complaints:  # the files that did not compile stay sources; the rest has bytecode
                sys.stderr.write(f"layer bytecode: some files did not compile:\n{self.complaints}\n")
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
        "find /asset-output/python/keyframe -name __pycache__ -prune -exec rm -rf {} + && "
        f"(python {' '.join(compileall_args('/asset-output/python'))} || true)",
    ]


class SharedLayer(Construct):
    """The one layer every function uses (arm64, Python 3.13).

    Attributes
    ----------
    layer:
        The ``aws_lambda.LayerVersion``.
    bundled_dependencies:
        False when built with ``KEYFRAME_LAYER_BUNDLING=skip`` (package only: not deployable).
    ships_bytecode:
        True when a CPython 3.13 compiles the layer's bytecode (:func:`bytecode_compiler`).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        dependencies = runtime_dependencies()
        skip = skip_dependencies()
        self.bundled_dependencies = not skip
        compiler = None if skip else bytecode_compiler()
        self.ships_bytecode = compiler is not None
        code = lambda_.Code.from_asset(
            str(PACKAGE_DIR.parent),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=bundle_hash(dependencies, skip=skip, bytecode=self.ships_bytecode),
            bundling=BundlingOptions(
                image=RUNTIME.bundling_image,
                platform="linux/arm64",
                command=_docker_command(dependencies),
                local=LocalLayerBundler(dependencies, skip=skip, compiler=compiler),
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
        if not skip and not self.ships_bytecode:
            Annotations.of(self).add_warning_v2(
                "keyframe:layer-without-bytecode",
                "no CPython 3.13 found (PATH, pyenv or KEYFRAME_LAYER_PYTHON): the layer ships sources only "
                "and every cold start compiles them (about 3x the CPU of the import)",
            )
        if skip:
            Annotations.of(self).add_warning_v2(
                "keyframe:layer-without-dependencies",
                f"{BUNDLING_ENV}=skip: the layer holds only the keyframe package; do not deploy this synth",
            )
