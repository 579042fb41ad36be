"""Errors of the asset pipeline's tasks, and the codes users see.

A Lambda task that raises reports the exception's class name as ``errorType``; Step Functions uses
it as the error name. So the state machine's ``Retry`` lists :class:`TransientError` (and the Lambda
service's own errors) and never the media errors, which fail at once through ``Catch`` -> MarkFailed.
"""

from __future__ import annotations

from keyframe.errors import ServiceUnavailable
from keyframe.media.errors import ChecksumMismatchError, InvalidMediaError, TypeMismatchError

__all__ = [
    "ERROR_CODES",
    "RETRYABLE_ERRORS",
    "ChecksumMismatchError",
    "InvalidMediaError",
    "TransientError",
    "TypeMismatchError",
]


class TransientError(ServiceUnavailable):
    """S3 or DynamoDB throttled or was unreachable: worth a retry with backoff."""

    default_code = "TRANSIENT_FAILURE"


ERROR_CODES: dict[str, str] = {
    "InvalidMediaError": InvalidMediaError.default_code,
    "TypeMismatchError": TypeMismatchError.default_code,
    "ChecksumMismatchError": ChecksumMismatchError.default_code,
    "TransientError": TransientError.default_code,
    "NotFound": "NOT_FOUND",
    "States.Timeout": "TIMEOUT",
    "Sandbox.Timedout": "TIMEOUT",
    "States.TaskFailed": "DERIVE_FAILED",
}
"""Step Functions error name (a task's ``errorType``) -> the code a user sees."""

RETRYABLE_ERRORS: tuple[str, ...] = (
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
"""Error names the Lambda tasks retry (with backoff and full jitter); the ASL test checks the file."""
