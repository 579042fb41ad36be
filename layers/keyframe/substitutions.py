"""The names state machine definitions and functions use for resources, shared by CDK and the local stack.

An ASL file refers to resources as ``${Name}`` (CloudFormation's ``DefinitionSubstitutions``
syntax); functions find state machines and job definitions through environment variables. Both the
CDK app (``infra/``) and the local stack (:mod:`keyframe.local.bootstrap`) build those names here,
so the production app needs nothing from the emulator.
"""

from __future__ import annotations

import re


def camel(name: str) -> str:
    """``pipeline-probe`` / ``asset_pipeline`` -> ``PipelineProbe`` / ``AssetPipeline``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_\s]+", name) if part)


def function_placeholder(name: str) -> str:
    """The placeholder of registry function ``name``: ``pipeline-probe`` -> ``PipelineProbeFunctionArn``."""
    return f"{camel(name)}FunctionArn"


def state_machine_env_var(stem: str) -> str:
    """``asset_pipeline`` -> ``ASSET_PIPELINE_STATE_MACHINE_ARN``."""
    return f"{stem.upper().replace('-', '_')}_STATE_MACHINE_ARN"


def job_definition_env_var(name: str) -> str:
    """``render`` -> ``RENDER_JOB_DEFINITION_ARN``."""
    return f"{name.upper().replace('-', '_')}_JOB_DEFINITION_ARN"
