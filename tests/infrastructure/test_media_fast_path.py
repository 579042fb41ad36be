"""The pipeline's Lambda derive: its FFmpeg layer ships bytecode like the shared layer."""

from __future__ import annotations

import pytest

from infra import layer, media_fast_path

# no xdist group: no synthesis (either worker may take it)
pytestmark = [pytest.mark.infra]

COMPILER = layer.bytecode_compiler()


@pytest.mark.skipif(COMPILER is None, reason="no CPython 3.13 on this machine (the synth then ships sources)")
def test_the_ffmpeg_layer_ships_cpython_313_bytecode_valid_whatever_the_files_times(tmp_path, monkeypatch):
    # Given the layer's wheels as pip installed them (PyAV's and imageio-ffmpeg's Python modules; this
    # machine's registry has no aarch64 PyAV wheel, so the installed tree is stood in for)
    site_packages = tmp_path / "site-packages"
    for module in ("av/__init__.py", "av/about.py", "imageio_ffmpeg/__init__.py", "imageio_ffmpeg/_utils.py"):
        (site_packages / module).parent.mkdir(parents=True, exist_ok=True)
        (site_packages / module).write_text("VALUE = 1\n")
    (site_packages / ".complete").write_text("done")
    installs: list[tuple[list[str], tuple[str, ...]]] = []

    def install(dependencies: list[str], *, target_args: tuple[str, ...]):
        installs.append((dependencies, target_args))
        return site_packages

    monkeypatch.setattr(media_fast_path, "install_dependencies", install)
    # When the layer is bundled on this machine
    bundler = media_fast_path.FfmpegLayerBundler(skip=False, compiler=COMPILER)
    assert bundler.try_bundle(str(tmp_path / "asset"))
    # Then pip was asked for the pinned aarch64 wheels
    assert installs == [(list(media_fast_path.FFMPEG_LAYER_REQUIREMENTS), media_fast_path.FFMPEG_TARGET_ARGS)]
    # And every module has CPython 3.13 bytecode, hash-based and unchecked, named as Lambda sees it
    python = tmp_path / "asset" / "python"
    for module in (python / "av" / "about.py", python / "imageio_ffmpeg" / "_utils.py"):
        (pyc,) = (module.parent / "__pycache__").glob(f"{module.stem}.cpython-313.pyc")
        data = pyc.read_bytes()
        assert int.from_bytes(data[4:8], "little") == 0b01
        assert b"/opt/python/" in data
    assert not (python / ".complete").exists()


def test_a_layer_with_bytecode_never_shares_its_asset_hash_with_one_without():
    # Given the FFmpeg layer's asset hash with and without bytecode, and when bundling is skipped
    with_bytecode = media_fast_path.ffmpeg_layer_hash(skip=False, bytecode=True)
    sources_only = media_fast_path.ffmpeg_layer_hash(skip=False, bytecode=False)
    skipped = media_fast_path.ffmpeg_layer_hash(skip=True, bytecode=False)
    # Then each is its own asset, and the same inputs give the same hash
    assert len({with_bytecode, sources_only, skipped}) == 3
    assert with_bytecode == media_fast_path.ffmpeg_layer_hash(skip=False, bytecode=True)
