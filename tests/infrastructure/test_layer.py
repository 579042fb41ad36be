"""The shared layer: what it ships, and one real bundling of arm64 wheels (no Docker)."""

from __future__ import annotations

import pytest

from infra import layer
from tests.support.imports import imported_modules

# no xdist group: it synthesizes its own app, not the shared one (either worker may take it)
pytestmark = [pytest.mark.infra]


def test_layer_ships_the_package_without_the_local_stack_the_cli_or_caches():
    # Given the files the layer takes from layers/keyframe
    files = [str(path) for path in layer.package_files()]
    # Then the domain is there and developer-only code and bytecode are not
    assert "registry.py" in files
    assert "storage/tables.py" in files
    assert not [f for f in files if f.startswith(("local/", "cli/"))]
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def test_dependencies_come_from_pyproject_only():
    # Given the runtime dependencies the layer installs
    dependencies = layer.runtime_dependencies()
    # Then they are the pinned [project] dependencies (no dev tool such as the CDK)
    names = {d.split("[")[0].split("==")[0] for d in dependencies}
    assert {"pydantic", "aws-lambda-powertools", "pynamodb"} <= names
    assert not names & {"aws-cdk-lib", "moto", "pytest"}
    assert all("==" in d for d in dependencies)


def test_skipped_bundles_never_share_a_hash_with_real_ones():
    # Given the same sources hashed with and without dependencies
    dependencies = layer.runtime_dependencies()
    # Then the hashes differ, so a test synth can never be mistaken for a deployable asset
    assert layer.bundle_hash(dependencies, skip=True) != layer.bundle_hash(dependencies, skip=False)
    assert layer.bundle_hash(dependencies, skip=False) == layer.bundle_hash(dependencies, skip=False)


@pytest.mark.slow  # pip and compileall of the whole layer
def test_real_bundling_builds_an_arm64_python313_layer_without_docker(tmp_path, monkeypatch):
    # Given a stack holding only the shared layer, with real bundling (pip wheels for aarch64)
    import aws_cdk as cdk

    monkeypatch.delenv(layer.BUNDLING_ENV, raising=False)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "LayerOnly")
    shared = layer.SharedLayer(stack, "SharedLayer")
    # When the app is synthesized
    app.synth()
    (asset_dir,) = [p for p in (tmp_path / "cdk.out").glob("asset.*") if (p / "python").is_dir()]
    python = asset_dir / "python"
    # Then the layer holds pydantic_core compiled for CPython 3.13 on aarch64
    assert shared.bundled_dependencies
    assert list((python / "pydantic_core").glob("_pydantic_core.cpython-313-aarch64-linux-gnu.so"))
    assert (python / "aws_lambda_powertools").is_dir()
    # And the keyframe package, without the local stack
    assert (python / "keyframe" / "registry.py").is_file()
    assert not (python / "keyframe" / "local").exists()
    # And every module comes with its CPython 3.13 bytecode, valid whatever the unpacked files' times
    # (unchecked-hash), when this machine has a CPython 3.13 (else the synth says it ships sources only)
    if layer.bytecode_compiler():
        assert shared.ships_bytecode
        for module in (python / "keyframe" / "registry.py", python / "boto3" / "session.py"):
            (pyc,) = (module.parent / "__pycache__").glob(f"{module.stem}.cpython-313.pyc")
            flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
            assert flags == 0b01  # hash-based, source not checked
    else:
        assert not shared.ships_bytecode
    # And the layer is declared for python3.13 on arm64
    template = app.synth().get_stack_by_name("LayerOnly").template
    (layer_version,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert layer_version["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer_version["Properties"]["CompatibleArchitectures"] == ["arm64"]


OPTIONAL_IN_THE_LAYER = {
    "av": "media extra: PyAV probes inside the media image and the pipeline's derive layer",
    "imageio_ffmpeg": "media extra: FFmpeg inside the media image and the pipeline's derive layer",
}
"""Third-party modules the shipped package imports that the shared layer leaves out on purpose (each
imported inside the one function that needs it, in a runtime that has it)."""

LAMBDA_MARKERS = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "platform_machine": "aarch64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
"""The Lambda runtime's environment markers (python3.13 on arm64), for the dependencies' own markers."""


def _runtime_closure() -> set[str]:
    """Every distribution the layer's pip install brings: the runtime dependencies and what they require
    (recursively, with their extras and the Lambda runtime's markers), read from the installed metadata."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: set[tuple[str, tuple[str, ...]]] = set()
    pending = [Requirement(r) for r in layer.runtime_dependencies()]
    while pending:
        requirement = pending.pop()
        key = (canonicalize_name(requirement.name), tuple(sorted(requirement.extras)))
        if key in found:
            continue
        found.add(key)
        for text in metadata.distribution(requirement.name).requires or []:
            required = Requirement(text)
            extras = ["", *requirement.extras]
            marker = required.marker
            if marker is None or any(marker.evaluate({**LAMBDA_MARKERS, "extra": e}) for e in extras):
                pending.append(required)
    return {name for name, _ in found}


def test_every_third_party_module_the_layer_imports_comes_with_its_dependencies():
    # Given the distributions the layer installs (pyproject's runtime list and what they require)
    import sys
    from importlib import metadata

    from packaging.utils import canonicalize_name

    installed = _runtime_closure()
    providers = metadata.packages_distributions()
    # When every import of the package the layer ships is read (function-level imports included)
    missing: dict[str, set[str]] = {}
    for relative in layer.package_files():
        if relative.suffix != ".py":
            continue
        for module in imported_modules(layer.PACKAGE_DIR / relative):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in ("keyframe", "__future__"):
                continue
            if not {canonicalize_name(d) for d in providers.get(top, [])} & installed:
                missing.setdefault(top, set()).add(str(relative))
    # Then each comes from a distribution the layer installs (the dev environment's extras, such as
    # moto's cryptography, would hide a gap until a deployed function failed at its init)
    assert {top: sorted(files) for top, files in missing.items() if top not in OPTIONAL_IN_THE_LAYER} == {}
    assert set(OPTIONAL_IN_THE_LAYER) <= set(missing), "an optional module is now installed: drop it above"
