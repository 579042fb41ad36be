"""Load and call the real Lambda handlers of ``functions/`` in-process (local stack and tests).

Two entry points:

- :func:`invoke` calls a handler and returns its result (exceptions propagate): what the REST and
  WebSocket gateways use, as API Gateway's Lambda proxy integration does.
- :func:`invoke_as_lambda` answers the Lambda ``Invoke`` API: it never raises for a handler error but
  returns the ``{"errorMessage", "errorType", "stackTrace"}`` payload that Lambda returns with
  ``X-Amz-Function-Error: Unhandled``, so Step Functions ``Retry``/``Catch`` see what they see in AWS.

Where a handler runs: in this process (tests, and ``KEYFRAME_LAMBDA_ENVIRONMENTS=0``), or, once the
local stack calls :func:`use_environments`, in one of its function's execution environments
(:mod:`keyframe.local.environments`: one request at a time per process, as Lambda). A handler's
exception then arrives as :class:`~keyframe.local.environments.HandlerError` carrying the original
``errorType``.

In this process, handlers run one at a time (a re-entrant lock; a handler may invoke another from
its own thread): Powertools' resolvers keep the current event and route on shared objects
(``BaseRouter.current_event``, the resolver's ``context``), as Lambda can, since an execution
environment serves one request at a time. Requests sent from several threads (tests racing a
change) therefore reach the handlers one after another, and their storage writes still race those
of other processes.

Tests can put a plain callable in :data:`OVERRIDES` (``monkeypatch.setitem(lambdas.OVERRIDES, name, fn)``)
to stand in for a function that is not in the registry; overrides always run in this process.
"""

from __future__ import annotations

import json
import os
import threading
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from keyframe import registry
from keyframe.local.environments import Environments, HandlerError
from keyframe.local.handlers import LocalLambdaContext, handler_module, physical_name

OVERRIDES: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
"""Test hook: function name -> handler callable used instead of ``functions/<dir>/handler.py``."""


def known(name: str) -> bool:
    """True if ``name`` is a registry function or a test override."""
    if name in OVERRIDES:
        return True
    try:
        registry.function(name)
    except KeyError:
        return False
    return True


def resolve(function_name: str, stage: str | None = None) -> str | None:
    """The registry name behind a Lambda ``FunctionName`` as callers pass it, or ``None``.

    Accepts the bare registry name (``authorizer``), the physical name (``keyframe-local-authorizer``),
    a full or partial ARN ending with either (``arn:aws:lambda:us-east-1:123456789012:function:...``),
    optionally followed by a qualifier (``:$LATEST``, an alias or a version).
    """
    name = function_name
    if ":" in name:
        parts = name.split(":")
        if "function" in parts:
            parts = parts[parts.index("function") + 1 :]
        name = parts[0]
    prefix = f"keyframe-{stage or os.environ.get('STAGE', 'local')}-"
    for candidate in (name, name.removeprefix(prefix)):
        if known(candidate):
            return candidate
    return None


_environments: dict[str, Environments | None] = {"pools": None}
_in_process = threading.RLock()
"""Held while a registry handler runs in this process (one invocation at a time, see above)."""


def use_environments(environments: Environments | None) -> None:
    """Run registry functions in ``environments`` from now on (``None``: in this process again)."""
    _environments["pools"] = environments


def invoke(name: str, event: dict[str, Any]) -> Any:
    """Call the handler of function ``name`` with ``event`` and a local context; return its result.

    Raises
    ------
    KeyError
        ``name`` is neither a registry function nor an override.
    HandlerError
        The handler raised in its execution environment (when :func:`use_environments` is on).
    Exception
        Whatever the handler raises (in this process).
    """
    override = OVERRIDES.get(name)
    if override is not None:
        return override(event, LocalLambdaContext(function_name=physical_name(name)))
    spec = registry.function(name)
    pools = _environments["pools"]
    if pools is not None:
        return pools.invoke(name, event)
    module = handler_module(name)
    entry = getattr(module, spec.handler.split(".")[1])
    context = LocalLambdaContext(function_name=physical_name(name), memory_limit_in_mb=spec.memory_mb)
    with _in_process:
        return entry(event, context)


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The body Lambda returns for an unhandled exception (Python runtime format)."""
    if isinstance(exc, HandlerError):
        error_type, stack_trace = exc.error_type, exc.stack_trace
    else:
        error_type, stack_trace = type(exc).__name__, traceback.format_tb(exc.__traceback__)
    return {
        "errorMessage": str(exc),
        "errorType": error_type,
        "requestId": str(uuid.uuid4()),
        "stackTrace": stack_trace,
    }


def invoke_as_lambda(name: str, payload: bytes) -> tuple[bytes, str | None]:
    """Run function ``name`` as the Lambda ``Invoke`` API does.

    Parameters
    ----------
    name:
        Registry name (already resolved, see :func:`resolve`).
    payload:
        The JSON request payload (empty means ``{}``).

    Returns
    -------
    tuple
        ``(response_payload_bytes, function_error)``; ``function_error`` is ``"Unhandled"`` when the
        handler raised (the payload then holds ``errorMessage``/``errorType``/``stackTrace``), else None.
    """
    try:
        event = json.loads(payload or b"{}")
    except ValueError as exc:
        return json.dumps(error_payload(exc)).encode(), "Unhandled"
    try:
        result = invoke(name, event)
    except Exception as exc:
        return json.dumps(error_payload(exc)).encode(), "Unhandled"
    return json.dumps(result, default=str).encode(), None
