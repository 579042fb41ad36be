"""Check every direct DynamoDB answer (:mod:`keyframe.local.dynamodb_json`) against moto's serializer.

Used by ``tests/integration/local/test_dynamodb_json.py``, and as a plugin over any test selection:
``.venv/bin/pytest -p tests.support.dynamodb_json_check tests/integration`` fails a test whose
requests got an answer that differs from the serializer's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.dynamodb.responses import DynamoHandler

from keyframe.local import dynamodb_json


class Checker:
    """Wraps ``DynamoHandler.serialized``: answers as patched, and records each operation whose
    direct answer's document differs from the serializer's (``mismatches``) or that it compared
    (``compared``, by operation name; ``compared_binary``: how many of those held binary values)."""

    def __init__(self) -> None:
        self.compared: dict[str, int] = {}
        self.compared_binary = 0
        self.mismatches: list[tuple[str, Any, Any]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Compare from now on (undone with ``monkeypatch``)."""
        dynamodb_json.answer_items_as_json()
        patched = DynamoHandler.serialized

        def serialized(handler: DynamoHandler, action_result: Any) -> Any:
            answer = patched(handler, action_result)
            operation = handler._get_action()
            direct = dynamodb_json.wire_json(action_result.result)
            if operation in dynamodb_json.OPERATIONS and direct is not None:
                reference = dynamodb_json.serializer_answer(handler, action_result)
                self.compared[operation] = self.compared.get(operation, 0) + 1
                self.compared_binary += '{"B":' in direct or '{"BS":' in direct
                if json.loads(direct) != json.loads(reference[2] or "{}") or answer[0] != reference[0]:
                    self.mismatches.append((operation, json.loads(direct), reference))
            return answer

        monkeypatch.setattr(DynamoHandler, "serialized", serialized)


@pytest.fixture(autouse=True)
def _every_answer_checked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As a ``-p`` plugin: every test's direct answers are compared; a difference fails the test."""
    if request.config.pluginmanager.get_plugin("tests.support.dynamodb_json_check") is None:
        yield
        return
    checker = Checker()
    checker.install(monkeypatch)
    yield
    assert not checker.mismatches, checker.mismatches[:3]
