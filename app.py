#!/usr/bin/env python3
"""The Keyframe CDK app.

Synthesize (no AWS account, no Docker needed)::

    .venv/bin/python app.py                       # Keyframe-dev -> cdk.out/
    .venv/bin/python app.py -c stage=prod
    .venv/bin/python app.py -c stage=dev -c suffix=alice

Deploy (credentials of the target account in the environment; ``cdk bootstrap`` once per
account/region)::

    npx aws-cdk@2 deploy -c stage=dev -c suffix=alice      # reads "app" from cdk.json
"""

from __future__ import annotations

import os
import sys

# Node 20 makes jsii print a large end-of-life banner on every start; it says nothing about Keyframe.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

from infra.application import create_app, parse_context_args


def main(argv: list[str] | None = None) -> None:
    """Synthesize the stack of the stage named by ``-c stage=...`` (default ``dev``)."""
    app, _ = create_app(parse_context_args(sys.argv[1:] if argv is None else argv))
    app.synth()


if __name__ == "__main__":
    main()
