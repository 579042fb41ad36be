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
    children: dict
    """Nested stack logical id -> its template as read with the parent's parameter values."""

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
    parent = template.to_json()
    children = nested_templates(stack, parent)
    return Synth(config, stack, template, outdir, flatten_nested(parent, children), children)


def _substitute(value, replace):
    if isinstance(value, dict):
        found = replace(value)
        if found is not None:
            return found
        return {key: _substitute(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, replace) for item in value]
    return value


def nested_templates(stack, parent: dict) -> dict[str, dict]:
    """Logical id of each nested stack of :func:`nested_stacks` -> its template, where a ``Ref`` to one of
    its parameters is replaced by the value the parent passes."""
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    children: dict[str, dict] = {}
    for nested in nested_stacks(stack):
        nested_id = Stack.of(stack).get_logical_id(nested.nested_stack_resource)
        parameters = parent["Resources"][nested_id]["Properties"].get("Parameters", {})
        children[nested_id] = _substitute(
            Template.from_stack(nested).to_json(),
            lambda v, p=parameters: p[v["Ref"]] if set(v) == {"Ref"} and v["Ref"] in p else None,
        )
    return children


def flatten_nested(parent: dict, children: dict[str, dict]) -> dict:
    """``parent`` with the resources of its nested stacks (:func:`nested_templates`), as if one template.

    CloudFormation's 500-resource limit puts the alarms and the dashboard (``monitoring_stack``), the
    Batch network, compute and queues (``batch_stack``) and the REST API's route groups
    (``rest_api.route_stacks``) in nested stacks; the tests read the stack by meaning, so their
    resources join the parent's: a nested ``Ref`` to a parameter becomes the parent's value for it,
    and ``Fn::GetAtt [<nested>, Outputs.X]`` becomes that output's value. The outbox consumer's nested
    stack is read by its own tests and stays apart.
    """
    outputs = {
        (nested_id, f"Outputs.{name}"): output["Value"]
        for nested_id, child in children.items()
        for name, output in child.get("Outputs", {}).items()
    }

    def output_of(value):
        if set(value) == {"Fn::GetAtt"} and tuple(value["Fn::GetAtt"]) in outputs:
            return outputs[tuple(value["Fn::GetAtt"])]
        return None

    flat = {key: value for key, value in parent.items() if key != "Resources"}
    flat["Resources"] = {lid: res for lid, res in parent["Resources"].items() if lid not in children}
    for child in children.values():
        clash = set(flat["Resources"]) & set(child["Resources"])
        assert not clash, f"logical ids in two templates: {sorted(clash)}"
        flat["Resources"].update(child["Resources"])
    for _ in range(len(children) + 1):  # an output may name another nested stack's output
        flat = _substitute(flat, output_of)
    return flat


def nested_stacks(stack) -> list:
    """The nested stacks :func:`flatten_nested` inlines: monitoring, Batch and every REST route stack."""
    return [stack.monitoring_stack, stack.batch_stack, *stack.rest_api.route_stacks.values()]


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
