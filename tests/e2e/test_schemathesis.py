"""Property-based API tests: schemathesis generates requests from the served document and runs them
against the local stack as a signed-in ADMIN, with every check on except those listed below.

Bounded in time (``--max-examples`` per operation, ``--max-time`` overall): a regression is caught
on most runs, not proved absent. What must hold: no 5xx, every answer matches its documented
schema, status, content type and headers, and a request that breaks the schema is refused.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e")]

EXCLUDED_CHECKS: dict[str, str] = {
    "positive_data_acceptance": (
        "the API refuses, on purpose and with a documented 400/409 code, values that no JSON Schema "
        "can tell apart from good ones: opaque cursors and tokens that do not verify (INVALID_CURSOR, "
        "INVITATION_INVALID, refresh tokens), an asset that would depend on itself (SELF_DEPENDENCY), "
        "a room id of no studio room (INVALID_ROOM), a frame rate off the list, control characters "
        "in text (the request models' own validators). Each answer is still checked against its "
        "documented status, schema and code by the other checks."
    ),
}
"""Checks left out, each with its reason (every other schemathesis check runs)."""

MAX_EXAMPLES = 6
MAX_SECONDS = 50


def test_the_api_keeps_its_documented_contract_under_generated_requests(
    local_stack: LocalStackProcess, http: BaseUrlSession
) -> None:
    # Given a studio and its ADMIN's token
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    registered = http.post(
        "/auth/register",
        json={"studioName": "Fuzz", "email": email, "password": "correct horse battery", "displayName": "F"},
    )
    assert registered.status_code == 201, registered.text
    token = registered.json()["accessToken"]
    # When schemathesis runs every operation of the served document against the stack
    api = local_stack.http_url
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{api}/openapi.json",
            "--url",
            api,
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--exclude-checks",
            ",".join(EXCLUDED_CHECKS),
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--max-time",
            str(MAX_SECONDS),
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--suppress-health-check",
            "all",
            "--seed",
            "20261204",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS + 120,
        check=False,
    )
    # Then nothing failed: no server error, no answer outside its documented status, schema or type
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary + result.stderr[-2000:]
    tested = re.search(r"Tested:\s+(\d+)", result.stdout)
    assert tested and int(tested.group(1)) >= 50, summary  # every operation of the document ran
