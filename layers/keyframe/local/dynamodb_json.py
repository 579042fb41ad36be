"""Answer moto's DynamoDB item requests with their JSON as it stands, without the generic serializer.

moto 5.2 turns every response into its wire form by walking the operation's output shape from
botocore's model, trying several spellings of each member name on the way (``XFormedAttributePicker``).
DynamoDB's item operations already build their result in wire form (``{"Item": {"name": {"S": "..."}}}``),
so that walk changes nothing but costs time in proportion to the items returned: it was about a
third of the emulator's time in a request that returns a whole asset (``UpdateItem`` with
``ReturnValues=ALL_NEW``, ``Query`` pages, ``TransactWriteItems``), in the local stack and in every
integration test alike.

:func:`answer_items_as_json` makes the item operations of :data:`OPERATIONS` answer ``json.dumps`` of
their result, with ``None`` members left out as the serializer leaves them out. Anything else
(table operations, errors, a result holding a value JSON cannot carry such as a ``datetime``) still
goes through moto's serializer; binary values are written in base64, as the serializer writes them.
``tests/integration/local/test_dynamodb_json.py`` checks that both give the same document for every
item operation Keyframe sends.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler

OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
"""The operations whose results moto builds in wire form already."""

CONTENT_TYPE = "application/x-amz-json-1.0"
_NOT_IN_THE_OUTPUT = frozenset({"ConsumedCapacityUnits"})
"""Members moto puts in a result that the operation's output shape has not (the serializer drops them)."""
_state: dict[str, Any] = {"applied": False, "original": None}


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _blob(value: object) -> str:
    """A binary attribute value (``B``, or a member of ``BS``) as the wire carries it: base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def wire_json(result: object) -> str | None:
    """The JSON body for an item operation's ``result`` (a dict in wire form), or ``None`` when the
    result is not a plain JSON document (an error, a ``datetime``) and the serializer must answer.
    Binary values (``bytes``: an item's ``B`` and ``BS`` values, the only ones item operations
    return) are written in base64, as the serializer writes them."""
    if not isinstance(result, dict):
        return None
    result = {key: value for key, value in result.items() if key not in _NOT_IN_THE_OUTPUT}
    try:
        return json.dumps(_without_none(result), separators=(",", ":"), allow_nan=False, default=_blob)
    except (TypeError, ValueError):
        return None


def answer_items_as_json() -> None:
    """Patch ``DynamoHandler.serialized`` so the item operations answer their JSON directly
    (idempotent, process-wide; moto's serializer answers everything else)."""
    if _state["applied"]:
        return
    original = DynamoHandler.serialized

    @functools.wraps(original)
    def serialized(self: DynamoHandler, action_result: ActionResult) -> Any:
        if self._get_action() in OPERATIONS:
            body = wire_json(action_result.result)
            if body is not None:
                headers = {"Content-Type": CONTENT_TYPE}
                headers.update(self.response_headers)
                return 200, headers, body
        return original(self, action_result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign,assignment]
    _state.update(applied=True, original=original)


def serializer_answer(handler: DynamoHandler, action_result: ActionResult) -> Any:
    """What moto's own serializer answers for ``action_result`` (``(status, headers, body)``), also
    once :func:`answer_items_as_json` is applied: the reference the direct answers are checked against."""
    original = _state["original"] or DynamoHandler.serialized
    return original(handler, action_result)
