"""The shared layer: what it ships, and one real bundling of arm64 wheels (no Docker)."""

from __future__ import annotations

import pytest

from infra import layer

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
