"""Keep the generated parts of README.md true: ``python -m keyframe.readme`` rewrites them.

Sections between ``<!-- NAME -->`` and ``<!-- /NAME -->`` markers are generated from code:

- ``ROLES``: the permission table (:mod:`keyframe.identity.permissions`);
- ``ENDPOINTS``: every REST route with its summary and whether it needs a token
  (:func:`keyframe.registry.endpoints` + the committed OpenAPI document);
- ``ENVIRONMENT``: every variable of the pydantic settings models, the tables, the local stack.

``tests/unit/core/test_readme.py`` fails when the README drifts from the code.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import keyframe
from keyframe import registry
from keyframe.http import openapi
from keyframe.identity.permissions import role_table_markdown
from keyframe.local import defaults as local_defaults
from keyframe.storage.tables import TABLES

README = registry.REPO_ROOT / "README.md"


def endpoints_markdown() -> str:
    """A table of every REST route: method, path, what it does, auth, and the function serving it."""
    document = openapi.committed()
    lines = ["| method | path | what it does | auth | function |", "|---|---|---|---|---|"]
    for endpoint in registry.endpoints():
        operation = document["paths"].get(endpoint.path, {}).get(endpoint.method.lower(), {})
        summary = (operation.get("summary") or "").replace("|", "\\|")
        auth = "public" if endpoint.public else "token"
        function = endpoint.function
        lines.append(f"| {endpoint.method} | `{endpoint.path}` | {summary} | {auth} | `{function}` |")
    return "\n".join(lines)


LOCAL_AND_TOOLING_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("MOTO_PORT", "4566", "`make dev`: the AWS emulator's port (0 = any free port)"),
    ("KEYFRAME_HTTP_PORT", "3000", "`make dev`: the REST API's port (0 = any free port)"),
    ("KEYFRAME_WS_PORT", "3001", "`make dev`: the WebSocket and `@connections` port (0 = any free port)"),
    ("KEYFRAME_HOST", "127.0.0.1", "`make dev`: the address every server binds"),
    ("KEYFRAME_STATE_DIR", "`.keyframe/`", "`make dev`: saved data, Batch logs, `local-stack.json`"),
    ("KEYFRAME_BATCH_CONCURRENCY", "2", "`make dev`: Batch jobs run at once as local subprocesses"),
    ("KEYFRAME_LAMBDA_ENVIRONMENTS", "4", "`make dev`: execution environments per function (0 = in-process)"),
    ("KEYFRAME_LAMBDA_IDLE_SECONDS", "300", "`make dev`: an idle execution environment is stopped after"),
    ("KEYFRAME_LAMBDA_TIMEOUT_FACTOR", "3", "`make dev`: multiplies each function's Lambda timeout"),
    ("KEYFRAME_SNAPSHOT_SECONDS", "60", "`make dev`: seconds between data snapshots (0 = only at stop)"),
    ("AWS_ENDPOINT_URL", "unset", "`make dev`: use a running LocalStack instead of the embedded emulator"),
    ("KEYFRAME_API", "see the CLI section", "`keyframe` command: the API base URL (after `--api`)"),
    ("KEYFRAME_TOKEN", "from `keyframe login`", "`keyframe` command: an access token"),
    ("KEYFRAME_HOME", "`~/.keyframe/`", "`keyframe` command: credentials (0600) and upload resume state"),
    ("KEYFRAME_PASSWORD", "asked", "`keyframe login` / `studios use`: the password, for scripts"),
    ("POWERTOOLS_SERVICE_NAME", "keyframe", "Powertools: service name in logs, traces, metrics"),
    ("POWERTOOLS_METRICS_NAMESPACE", "Keyframe", "Powertools: CloudWatch metrics namespace"),
    ("POWERTOOLS_LOG_LEVEL", "INFO", "Powertools: log level"),
    ("POWERTOOLS_TRACE_DISABLED", "false", "Powertools: turn X-Ray tracing off (the local stack does)"),
    (
        "PYDANTIC_DISABLE_PLUGINS",
        "`__all__` (deployed)",
        "pydantic looks for no plugins: no scan of the installed packages at a cold start",
    ),
)
"""Variables read outside the pydantic settings models (the local stack, the CLI, Powertools)."""


def _settings_models() -> list[Any]:
    models: list[Any] = []
    for info in pkgutil.walk_packages(keyframe.__path__, "keyframe."):
        if info.name.startswith(("keyframe.local", "keyframe.cli", "keyframe.readme")):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and value.model_fields
                and all(name.isupper() for name in value.model_fields)
            ):
                models.append(value)
    return sorted(models, key=lambda m: (m.__module__, m.__name__))


def environment_markdown() -> str:
    """Every environment variable: the settings models' fields (validated at cold start), the table
    names of ``keyframe.storage.tables``, and the local stack's / tooling's variables."""
    rows: dict[str, tuple[str, str]] = {}
    for spec in TABLES:
        rows[spec.env_var] = ("required", f"physical name of the `{spec.key}` table")
    for model in _settings_models():
        for name, field in model.model_fields.items():
            if field.is_required():
                default = "required"
            else:
                default = f"`{field.default}`" if field.default != "" else "empty"
            if name in local_defaults.SETTINGS_DEFAULTS:
                default += f"; `make dev`: `{local_defaults.SETTINGS_DEFAULTS[name]}`"
            where = f"`{model.__module__}.{model.__name__}`"
            if name in rows:
                rows[name] = (rows[name][0], rows[name][1] + f", {where}")
            else:
                rows[name] = (default, (field.description or "read by") + f" {where}")
    lines = ["| variable | default | used by |", "|---|---|---|"]
    lines += [f"| `{name}` | {default} | {used} |" for name, (default, used) in sorted(rows.items())]
    lines += [f"| `{name}` | {default} | {used} |" for name, default, used in LOCAL_AND_TOOLING_VARIABLES]
    return "\n".join(lines)


SECTIONS = {
    "ROLES": role_table_markdown,
    "ENDPOINTS": endpoints_markdown,
    "ENVIRONMENT": environment_markdown,
}


def render(text: str) -> str:
    """``text`` with every generated section replaced by what the code says now."""
    for name, build in SECTIONS.items():
        block = f"<!-- {name} -->\n{build()}\n<!-- /{name} -->"
        pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->|<!-- {name} -->", re.S)
        text = pattern.sub(lambda _match, b=block: b, text, count=1)  # type: ignore[misc]
    return text


def main() -> None:
    """Rewrite README.md in place."""
    path = Path(README)
    path.write_text(render(path.read_text()))
    print(f"updated {path}")


if __name__ == "__main__":
    main()
