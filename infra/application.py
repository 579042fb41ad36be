"""Build the CDK app the same way for ``python app.py``, the CDK CLI and the tests.

- Context: the ``context`` of ``cdk.json`` (feature flags) as defaults, then whatever the CDK CLI passes
  (``-c stage=prod``), then ``extra_context`` (``python app.py -c stage=prod``, tests).
- Output: ``CDK_OUTDIR`` when the CLI runs the app, else ``outdir`` or ``./cdk.out``.
- cdk-nag's AWS Solutions checks run on every synth; a finding without a written suppression is an
  error annotation (``cdk synth`` prints it; the infrastructure tests fail on it) and lands in
  ``<outdir>/AwsSolutions-<stack>-NagReport.csv``.
- No credentials and no lookups: the stack is environment-agnostic, so synth never calls AWS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import StageConfig
from infra.stack import KeyframeStack

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"
CONTEXT_KEYS = ("stage", "suffix", "corsOrigins", "alarmEmail", "jwtIssuer", "apiGatewayAccountRole")


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` object of ``cdk.json`` (feature flags), or ``{}``."""
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("context", {}))


def parse_context_args(argv: Sequence[str]) -> dict[str, str]:
    """``["-c", "stage=prod", "--context", "suffix=al"]`` -> ``{"stage": "prod", "suffix": "al"}``.

    Raises
    ------
    ValueError
        An argument that is not ``-c key=value``.
    """
    context: dict[str, str] = {}
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag not in ("-c", "--context") or not args or "=" not in args[0]:
            raise ValueError(f"Unexpected argument {flag!r}: usage: app.py [-c key=value ...]")
        key, value = args.pop(0).split("=", 1)
        context[key] = value
    return context


def create_app(
    extra_context: Mapping[str, Any] | None = None, *, outdir: str | None = None
) -> tuple[cdk.App, KeyframeStack]:
    """The app with its one ``KeyframeStack`` (named ``config.stack_name``) and the nag checks.

    Raises
    ------
    ValueError
        Invalid stage context (see :mod:`infra.config`).
    """
    if outdir is None and not os.environ.get("CDK_OUTDIR"):
        outdir = "cdk.out"
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **(extra_context or {})})
    config = StageConfig.from_context({key: app.node.try_get_context(key) for key in CONTEXT_KEYS})
    stack = KeyframeStack(app, config.stack_name, config=config)
    add_checks(app)
    return app, stack


def add_checks(scope: cdk.App | cdk.Stage) -> None:
    """Run cdk-nag's AWS Solutions pack on everything in ``scope`` at synth (with a CSV report)."""
    cdk.Aspects.of(scope).add(AwsSolutionsChecks(verbose=True, reports=True))
