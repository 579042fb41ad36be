"""How MarkFailed turns a Catch's ``{Error, Cause}`` into a code and a sentence; declared checksums."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from keyframe.media.errors import InvalidMediaError
from keyframe.pipeline.tasks import describe_failure
from keyframe.pipeline.validation import normalise_sha256


def test_a_lambda_error_keeps_its_type_as_code_and_its_message() -> None:
    cause = json.dumps(
        {
            "errorType": "TypeMismatchError",
            "errorMessage": "The file's bytes are archive (zip)…",
            "stackTrace": [],
        }
    )
    assert describe_failure({"Error": "TypeMismatchError", "Cause": cause}, "validate") == (
        "TYPE_MISMATCH",
        "The file's bytes are archive (zip)…",
    )


def test_an_unknown_lambda_error_is_a_pipeline_error() -> None:
    cause = json.dumps({"errorType": "KeyError", "errorMessage": "'x'"})
    assert describe_failure({"Error": "KeyError", "Cause": cause}, "publish") == ("PIPELINE_ERROR", "'x'")


def test_a_batch_job_that_refused_the_file_is_invalid_media() -> None:
    job = {
        "jobId": "j-1",
        "status": "FAILED",
        "statusReason": "Essential container in task exited",
        "container": {"exitCode": 3},
    }
    code, message = describe_failure({"Error": "States.TaskFailed", "Cause": json.dumps(job)}, "derive")
    assert code == "INVALID_MEDIA"
    assert "FFmpeg" in message


def test_a_batch_job_lost_to_infrastructure_says_why() -> None:
    job = {
        "JobId": "j-2",
        "Status": "FAILED",
        "StatusReason": "Host EC2 (instance i-1) terminated.",
        "Container": {"ExitCode": 1},
    }
    code, message = describe_failure({"Error": "States.TaskFailed", "Cause": json.dumps(job)}, "derive")
    assert code == "DERIVE_FAILED"
    assert "Host EC2" in message


def test_timeouts_and_runtime_errors() -> None:
    assert describe_failure({"Error": "States.Timeout", "Cause": ""}, "derive")[0] == "TIMEOUT"
    code, message = describe_failure(
        {"Error": "States.Runtime", "Cause": "JSONPath $.x not found"}, "publish"
    )
    assert code == "PIPELINE_ERROR"
    assert "publish step" in message and "JSONPath" in message


def test_declared_checksums_are_normalised_to_hex() -> None:
    digest = hashlib.sha256(b"frame").digest()
    assert normalise_sha256(digest.hex().upper()) == digest.hex()
    assert normalise_sha256(base64.b64encode(digest).decode()) == digest.hex()
    with pytest.raises(InvalidMediaError) as raised:
        normalise_sha256("not-a-digest")
    assert raised.value.code == "INVALID_CHECKSUM"
