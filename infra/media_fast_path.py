"""The asset pipeline's Lambda fast path: the ``pipeline-derive`` function and its FFmpeg layer.

In the cloud the Batch media job waits for a Fargate task (tens of seconds) before FFmpeg starts, which
dominates the time to review of small files. Sources up to
:data:`keyframe.pipeline.derive_step.LAMBDA_DERIVE_MAX_BYTES` (1 GiB) are derived by this function
instead (state ``DeriveInLambda`` of ``statemachines/asset_pipeline.asl.json``); larger ones, and any
fast-path failure that is not the file's fault, go to Batch.

The FFmpeg layer holds the arm64 wheels of :data:`FFMPEG_LAYER_REQUIREMENTS`: ``imageio-ffmpeg`` (a
static ``ffmpeg`` with libx264; 0.7.0 because 0.8's aarch64 wheel unzips to 125 MiB) and PyAV
(``av``, the probe where there is no ``ffprobe``): 48 + 94 MiB unzipped; with the shared layer (about
60 MiB of dependencies, measured from the installed distributions) the function stays under Lambda's
250 MiB for a function and its layers, with about 50 MiB to spare. The wheel stores its ``ffmpeg``
(7.0.2, with libx264) as 0755, which pip and the asset zip keep (``/opt`` is read-only in Lambda). Not
yet checked by a deploy. Bundled at synth with pip, no Docker, cached as the shared
layer's dependencies are, and its Python modules compiled to CPython 3.13 bytecode as the shared
layer's are (:class:`FfmpegLayerBundler`); ``KEYFRAME_LAYER_BUNDLING=skip`` leaves it empty for the
infrastructure tests.

A nested stack: the main stack is near CloudFormation's 500 resources. Its function may do what the
Batch media job may (:data:`infra.grants.JOB_GRANTS` ``media``) and what a pipeline task may
(:data:`infra.grants.PIPELINE_STEP`: it publishes the version beside FFmpeg).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling, NestedStack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StageConfig
from infra.functions import Functions
from infra.grants import JOB_GRANTS, PIPELINE_STEP, Access
from infra.layer import (
    ARCHITECTURE,
    PIP_TARGET_ARGS,
    RUNTIME,
    RUNTIME_PYTHON,
    bytecode_compiler,
    compile_bytecode,
    compileall_args,
    dependencies_hash,
    install_dependencies,
    skip_dependencies,
)
from keyframe import registry
from keyframe.media.jobs import MEDIA_JOB

NAME = registry.MEDIA_DERIVE.name
FFMPEG_LAYER_REQUIREMENTS: tuple[str, ...] = ("imageio-ffmpeg==0.7.0", "av==18.1.0")
"""The FFmpeg layer's wheels (arm64, CPython 3.13)."""
FFMPEG_TARGET_ARGS: tuple[str, ...] = ("--platform", "manylinux_2_28_aarch64", *PIP_TARGET_ARGS)
"""PyAV ships manylinux_2_28 wheels (Lambda's Python 3.13 runtime has glibc 2.34)."""

FAST_PATH_GRANTS: Mapping[str, tuple[Access, ...]] = {NAME: (*JOB_GRANTS[MEDIA_JOB["name"]], *PIPELINE_STEP)}
"""The derive function does what the Batch media job does (pipeline record, events, S3) and what the
Publish task does (the version in the catalog table): it publishes the upload while FFmpeg runs."""


def ffmpeg_layer_hash(*, skip: bool, bytecode: bool) -> str:
    """The FFmpeg layer's asset hash: its wheels (or ``skip``) and whether it ships CPython 3.13 bytecode."""
    if skip:
        return "skip"
    wheels = dependencies_hash(list(FFMPEG_LAYER_REQUIREMENTS), FFMPEG_TARGET_ARGS)
    if not bytecode:
        return wheels
    marker = "{}:bytecode:cpython-{}{}".format(wheels, *RUNTIME_PYTHON)
    return hashlib.sha256(marker.encode()).hexdigest()


@jsii.implements(ILocalBundling)
class FfmpegLayerBundler:
    """Builds the FFmpeg layer's ``python/`` on this machine (pip's aarch64 wheels, no Docker) and, given
    a CPython 3.13 (:func:`infra.layer.bytecode_compiler`), compiles its Python modules as the shared
    layer's are (``unchecked-hash`` pycs under ``/opt/python``): ``/opt`` is read-only in Lambda, so a
    layer without bytecode compiles PyAV's and imageio-ffmpeg's modules at every cold start."""

    def __init__(self, *, skip: bool, compiler: str | None = None) -> None:
        self._skip = skip
        self._compiler = compiler

    def try_bundle(self, output_dir: str, *, image: Any = None, **kwargs: Any) -> bool:
        """Write ``<output_dir>/python`` (the :data:`FFMPEG_LAYER_REQUIREMENTS` wheels); True: no Docker."""
        python_dir = Path(output_dir) / "python"
        python_dir.mkdir(parents=True, exist_ok=True)
        if not self._skip:
            site_packages = install_dependencies(
                list(FFMPEG_LAYER_REQUIREMENTS), target_args=FFMPEG_TARGET_ARGS
            )
            shutil.copytree(
                site_packages, python_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete")
            )
            if self._compiler:
                complaints = compile_bytecode(python_dir, self._compiler)
                if complaints:  # those files stay sources; the rest has bytecode
                    sys.stderr.write(f"FFmpeg layer bytecode: some files did not compile:\n{complaints}\n")
        return True


class MediaFastPath(NestedStack):
    """The derive function (``live`` alias in :attr:`function`) and its FFmpeg layer (:attr:`layer`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id, description=f"{config.name}: the pipeline's Lambda derive")
        skip = skip_dependencies()
        compiler = None if skip else bytecode_compiler()
        self.layer = lambda_.LayerVersion(
            self,
            "FfmpegLayer",
            code=lambda_.Code.from_asset(
                str(Path(__file__).parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=ffmpeg_layer_hash(skip=skip, bytecode=compiler is not None),
                bundling=BundlingOptions(
                    image=RUNTIME.bundling_image,
                    platform="linux/arm64",
                    command=[
                        "bash",
                        "-c",
                        "pip install --no-compile --target /asset-output/python "
                        + " ".join(FFMPEG_LAYER_REQUIREMENTS)
                        + f" && (python {' '.join(compileall_args('/asset-output/python'))} || true)",
                    ],
                    local=FfmpegLayerBundler(skip=skip, compiler=compiler),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="FFmpeg (imageio-ffmpeg) and PyAV for the pipeline's Lambda derive",
        )
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            layer=layer,
            environment=environment,
            specs=(registry.MEDIA_DERIVE,),
            grants=FAST_PATH_GRANTS,
            extra_layers=[self.layer],
        )
        self.function = self.functions.alias(NAME)
