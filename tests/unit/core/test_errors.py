"""Exceptions map to statuses by class, never by text, and the body has the one shape."""

import json

import pytest

from keyframe import errors
from keyframe.http.errors import error_response, status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidInput("x"), 400),
        (errors.Unauthenticated("x"), 401),
        (errors.Forbidden("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.Conflict("x"), 409),
        (errors.PreconditionFailed("x"), 412),
        (errors.PayloadTooLarge("x"), 413),
        (errors.TooManyRequests("x", retry_after=3), 429),
        (errors.ServiceUnavailable("x"), 503),
        (errors.KeyframeError("x"), 500),
    ],
)
def test_status_by_class(error: errors.KeyframeError, status: int) -> None:
    assert status_for(error) == status


def test_subclasses_inherit_their_parents_status() -> None:
    class CycleDetected(errors.Conflict):
        default_code = "CYCLE"

    assert status_for(CycleDetected("loop")) == 409
    assert CycleDetected("loop").code == "CYCLE"


def test_error_body_shape() -> None:
    response = error_response(404, "NOT_FOUND", "Asset not found", {"assetId": "a1"})
    body = json.loads(response.body)
    assert set(body) == {"error"}
    assert body["error"]["code"] == "NOT_FOUND"
    assert body["error"]["message"] == "Asset not found"
    assert body["error"]["details"] == {"assetId": "a1"}
    assert "correlationId" in body["error"]


def test_retry_after_is_at_least_one_second() -> None:
    assert errors.TooManyRequests("slow down", retry_after=0).retry_after == 1
