"""The AsyncAPI document of the live API validates with the official AsyncAPI parser (pinned, npm)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from keyframe.live import asyncapi
from tests.js import npm

VALIDATOR = npm.HERE / "validate-asyncapi.mjs"


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    npm.node_modules()
    return subprocess.run(
        [npm.node(), str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_committed_document_is_valid_asyncapi_3() -> None:
    # When the parser reads the committed document (the one GET /asyncapi.json serves)
    result = _validate(asyncapi.COMMITTED)
    # Then it is valid AsyncAPI 3.0 with every action, event and reply
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout


def test_the_validator_refuses_a_broken_document(tmp_path: Path) -> None:
    # Given the document with a message payload that is not a schema
    document = asyncapi.generate()
    document["components"]["messages"]["AssetCommentedEvent"]["payload"] = {"type": 5}
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(document))
    # Then the check fails, naming the place
    result = _validate(broken)
    assert result.returncode == 1
    assert "AssetCommentedEvent" in result.stdout


def test_the_api_serves_the_committed_document_without_a_token(api) -> None:
    # When anyone asks the REST API for the socket's contract
    response = api.get("/asyncapi.json")
    # Then it is the committed document
    assert response.status == 200
    assert response.json() == asyncapi.committed()
    assert response.json()["asyncapi"] == "3.0.0"
