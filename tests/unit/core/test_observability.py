"""The lazy X-Ray tracer: no SDK at import, real Powertools tracing once a request is sampled."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from keyframe.observability import LazyTracer, tracer


def test_untraced_handler_returns_and_raises_unchanged_without_loading_the_tracer() -> None:
    lazy = LazyTracer(service="test")

    @lazy.capture_lambda_handler(capture_response=False)
    def handler(event, context):
        """Doc."""
        if event.get("fail"):
            raise ValueError("boom")
        return {"statusCode": 200, "body": event["body"]}

    assert handler({"body": "x"}, None) == {"statusCode": 200, "body": "x"}
    with pytest.raises(ValueError, match="boom"):
        handler({"fail": True}, None)
    assert handler.__doc__ == "Doc."
    assert not lazy.built


def test_the_shared_tracer_is_not_built_at_import() -> None:
    assert not tracer.built


_IN_LAMBDA = """
import json, sys
from keyframe.observability import tracer
sent = []
class Emitter:
    def send_entity(self, entity):
        sent.append(entity.name)
    def set_daemon_address(self, address):
        pass
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    return {"statusCode": 200}
import os
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
first = lambda_handler({}, None)
unsampled = {"built": tracer.built, "xray": "aws_xray_sdk.core.recorder" in sys.modules}
tracer.get().provider.configure(emitter=Emitter())
os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=1"
second = lambda_handler({}, None)
from aws_xray_sdk.core import patcher
print(json.dumps({"unsampled": unsampled, "results": [first, second], "built": tracer.built,
                  "sent": sent, "patched": sorted(patcher._PATCHED_MODULES)}))
"""


def test_in_lambda_a_sampled_invocation_builds_the_tracer_and_patches_only_botocore(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.update(LAMBDA_TASK_ROOT=str(tmp_path), AWS_LAMBDA_FUNCTION_NAME="keyframe-test-x")
    code = _IN_LAMBDA
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["unsampled"] == {"built": False, "xray": False}
    assert seen["results"] == [{"statusCode": 200}, {"statusCode": 200}]
    assert seen["built"] is True
    assert "## lambda_handler" in seen["sent"]
    assert seen["patched"] == ["botocore"]
