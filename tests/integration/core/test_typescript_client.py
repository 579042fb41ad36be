"""A TypeScript front end can generate its client from the served document and compile against it.

openapi-typescript (pinned in ``tests/contract/typescript/package.json``) turns ``GET /openapi.json``
into types; ``tsc --strict`` (TypeScript 5, pinned) type-checks ``client.ts``, which signs in,
makes a conditional PATCH with ``If-Match``, uploads, requests a render with ``Idempotency-Key`` and
narrows a typed error, with openapi-fetch. ``make install`` runs ``npm ci`` there; without npm on
the machine these tests are skipped, saying so.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from keyframe.http import openapi

PROJECT = Path(__file__).resolve().parents[2] / "contract" / "typescript"
TIMEOUT = 240


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The pinned npm packages, installed with ``npm ci`` when ``make install`` has not yet."""
    modules = PROJECT / "node_modules"
    if not (modules / "typescript").is_dir() or not (modules / "openapi-typescript").is_dir():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.skip("node/npm are not installed: the TypeScript client check needs Node 20+ and npm")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=PROJECT, check=True, capture_output=True, timeout=600
        )
    return modules


def _compile(document: dict[str, Any], work: Path, node_modules: Path) -> subprocess.CompletedProcess[str]:
    """Generate types from ``document`` into ``work`` and type-check client.ts against them."""
    node = shutil.which("node") or "node"
    (work / "generated").mkdir(parents=True)
    (work / "openapi.json").write_text(json.dumps(document))
    for name in ("client.ts", "tsconfig.json", "package.json"):
        shutil.copy(PROJECT / name, work / name)
    (work / "node_modules").symlink_to(node_modules)
    generate = subprocess.run(
        [
            node,
            str(node_modules / "openapi-typescript" / "bin" / "cli.js"),
            "openapi.json",
            "--default-non-nullable",
            "false",
            "-o",
            "generated/keyframe.ts",
        ],
        cwd=work,
        check=False,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if generate.returncode != 0:
        return generate
    return subprocess.run(
        [node, str(node_modules / "typescript" / "bin" / "tsc"), "--noEmit", "-p", "."],
        cwd=work,
        check=False,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_the_served_document_generates_a_typed_client_that_compiles(api, node_modules, tmp_path) -> None:
    # Given the document the API serves
    document = api.get("/openapi.json").json()
    # When a front end generates its types and compiles its client against them
    result = _compile(document, tmp_path, node_modules)
    # Then tsc --strict finds nothing
    assert result.returncode == 0, result.stdout + result.stderr
    generated = (tmp_path / "generated" / "keyframe.ts").read_text()
    assert '"If-Match"?:' in generated and '"Idempotency-Key"?:' in generated


@pytest.mark.slow  # checks the checker; tsc runs twice
def test_a_document_that_stops_telling_the_truth_fails_the_check(node_modules, tmp_path) -> None:
    # Given a copy where PATCH /assets/{assetId} no longer declares If-Match nor its 412
    broken = copy.deepcopy(openapi.committed())
    operation = broken["paths"]["/assets/{assetId}"]["patch"]
    operation["parameters"] = [
        p for p in operation["parameters"] if p.get("$ref") != "#/components/parameters/IfMatch"
    ]
    operation["responses"].pop("412")
    # When / Then: the client no longer compiles, and tsc says where
    result = _compile(broken, tmp_path, node_modules)
    assert result.returncode != 0
    assert "client.ts" in result.stdout and "If-Match" in result.stdout, result.stdout


@pytest.mark.slow  # checks the checker
def test_a_dangling_reference_fails_generation(node_modules, tmp_path) -> None:
    # Given a copy whose Asset schema is gone while operations still point at it
    broken = copy.deepcopy(openapi.committed())
    del broken["components"]["schemas"]["Asset"]
    # When / Then
    result = _compile(broken, tmp_path, node_modules)
    assert result.returncode != 0
