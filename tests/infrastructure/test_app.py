"""``python app.py`` synthesizes with no AWS credentials, no AWS environment and an empty home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# no xdist group: it synthesizes its own app, not the shared one (either worker may take it)
pytestmark = [pytest.mark.infra, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_app_synthesizes_into_cdk_out_without_any_aws_configuration(tmp_path):
    # Given an environment with no AWS variables, no CDK variables and an empty home directory
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(HOME=str(tmp_path / "home"), KEYFRAME_LAYER_BUNDLING="skip")
    (tmp_path / "home").mkdir()
    # When the app runs from a fresh directory
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    # Then it succeeds and writes the dev stack's template into ./cdk.out
    assert result.returncode == 0, result.stderr[-4000:]
    template = json.loads((tmp_path / "cdk.out" / "Keyframe-dev.template.json").read_text())
    assert any(r["Type"] == "AWS::ApiGateway::RestApi" for r in template["Resources"].values())
    # And cdk-nag ran (an unsuppressed finding would have failed the synth's validation)
    assert list((tmp_path / "cdk.out").glob("AwsSolutions-*Keyframe-dev-NagReport.csv"))
