"""One synth of the CDK app for the whole infrastructure suite: a dev stack and a prod stack.

The layer is staged without its pip dependencies (``KEYFRAME_LAYER_BUNDLING=skip``) to keep the
suite fast; ``test_layer.py`` does the real bundling once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

DEV_ORIGIN = "http://localhost:5173"
DEV_ORIGINS = (DEV_ORIGIN, "http://127.0.0.1:5173")
"""The dev stack allows several origins (gateway responses reflect the request's), prod exactly one."""
PROD_ORIGIN = "https://app.keyframe.example"


@dataclass(frozen=True)
class Synth:
    """A synthesized stack: its config, stack, ``assertions.Template`` and template JSON (read once)."""

    config: object
    stack: object
    template: object
    outdir: Path
    json: dict

    @property
    def resources(self) -> dict:
        """``Resources`` of the template (logical id -> resource)."""
        return self.json["Resources"]

    @property
    def outputs(self) -> dict:
        """``Outputs`` of the template."""
        return self.json.get("Outputs", {})


def _synth(config, stack, outdir: Path) -> Synth:
    from aws_cdk.assertions import Template

    template = Template.from_stack(stack)
    return Synth(config, stack, template, outdir, flatten_nested(stack, template.to_json()))


def flatten_nested(stack, parent: dict) -> dict:
    """``parent`` with the resources of the monitoring nested stack inlined, as if it were one template.

    CloudFormation's 500-resource limit puts the alarms, the dashboard and the alarm topic in a nested
    stack (``KeyframeStack.monitoring_stack``); the tests read the stack by meaning, so its resources
    join the parent's: a nested ``Ref`` to a parameter becomes the parent's value for it, and a parent's
    ``Fn::GetAtt [<nested>, Outputs.X]`` becomes the nested output's value. Other nested stacks (the
    outbox consumer's) are read by their own tests and stay apart.
    """
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    nested = stack.monitoring_stack
    nested_id = Stack.of(stack).get_logical_id(nested.nested_stack_resource)
    child = Template.from_stack(nested).to_json()
    parameters = parent["Resources"][nested_id]["Properties"].get("Parameters", {})

    def inline_parameters(value):
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value["Ref"] in parameters:
                return parameters[value["Ref"]]
            return {key: inline_parameters(item) for key, item in value.items()}
        if isinstance(value, list):
            return [inline_parameters(item) for item in value]
        return value

    child = inline_parameters(child)
    outputs = {name: output["Value"] for name, output in child.get("Outputs", {}).items()}

    def inline_outputs(value):
        if isinstance(value, dict):
            attribute = value.get("Fn::GetAtt")
            if set(value) == {"Fn::GetAtt"} and attribute[0] == nested_id:
                return outputs[attribute[1].removeprefix("Outputs.")]
            return {key: inline_outputs(item) for key, item in value.items()}
        if isinstance(value, list):
            return [inline_outputs(item) for item in value]
        return value

    flat = inline_outputs({key: value for key, value in parent.items() if key != "Resources"})
    flat["Resources"] = {
        **inline_outputs({lid: res for lid, res in parent["Resources"].items() if lid != nested_id}),
        **child["Resources"],
    }
    return flat


@dataclass(frozen=True)
class Synthesis:
    """Both stages from one app synth."""

    dev: Synth
    prod: Synth


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesis]:
    """Synthesize ``Keyframe-dev-test`` and ``Keyframe-prod`` once (with cdk-nag) into a temp dir."""
    import aws_cdk as cdk

    from infra.application import add_checks, cdk_json_context
    from infra.config import StageConfig
    from infra.stack import KeyframeStack

    outdir = tmp_path_factory.mktemp("cdk.out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEYFRAME_LAYER_BUNDLING", "skip")
        app = cdk.App(outdir=str(outdir), context=cdk_json_context())
        # The dev stack is the one that creates the account's API Gateway logging role; prod relies on it.
        dev_config = StageConfig.for_stage(
            "dev", suffix="test", cors_origins=DEV_ORIGINS, api_gateway_account_role=True
        )
        prod_config = StageConfig.for_stage("prod", cors_origins=(PROD_ORIGIN,))
        dev = KeyframeStack(app, dev_config.stack_name, config=dev_config)
        prod = KeyframeStack(app, prod_config.stack_name, config=prod_config)
        add_checks(app)
        app.synth()
        yield Synthesis(dev=_synth(dev_config, dev, outdir), prod=_synth(prod_config, prod, outdir))


@pytest.fixture(scope="session")
def dev(synthesis: Synthesis) -> Synth:
    """The dev stack (``Keyframe-dev-test``)."""
    return synthesis.dev


@pytest.fixture(scope="session")
def prod(synthesis: Synthesis) -> Synth:
    """The prod stack (``Keyframe-prod``)."""
    return synthesis.prod
