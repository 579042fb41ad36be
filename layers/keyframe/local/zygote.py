"""What runs inside one local execution environment (a process, like a Lambda sandbox).

:mod:`keyframe.local.environments` starts each environment from multiprocessing's fork server, whose
process has imported :data:`PRELOAD` once (the zygote): a fork of it has boto3, pydantic and
Powertools in memory already, so a cold start only imports the function's own ``handler.py`` (its
"init phase") and builds the handler's module-level objects. The environment then answers one
invocation at a time over its pipe until the pipe closes, exactly as a Lambda sandbox serves one
request at a time: module state (resolvers, Powertools' logger context, caches) is never shared
between concurrent requests.

Messages on the pipe (pickled tuples):

- parent -> environment: ``(event, request_id)``; ``None`` asks it to exit.
- environment -> parent: ``("ok", result)`` or ``("error", errorType, errorMessage, stackTrace)``.
"""

from __future__ import annotations

import os
import pickle
import traceback
import warnings
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from keyframe import registry
from keyframe.local import handlers

PRELOAD = [
    "boto3",
    "botocore.session",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.event_handler",
    "keyframe.registry",
    "keyframe.local.lambdas",
]
"""Modules the fork server imports once, before any environment is forked from it."""


def _failure(exc: BaseException) -> tuple[str, str, str, list[str]]:
    return ("error", type(exc).__name__, str(exc), traceback.format_tb(exc.__traceback__))


def serve(connection: Connection, name: str, environment: Mapping[str, str]) -> None:
    """Run the execution environment of function ``name`` until its pipe closes.

    Parameters
    ----------
    connection:
        This environment's end of the pipe (messages in the module docstring).
    name:
        Registry name of the function (``functions/<dir>/handler.py`` is imported here: the cold start).
    environment:
        The function's environment variables (the local stack's, as Lambda sets a function's).
    """
    os.environ.update(environment)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    spec = registry.function(name)
    try:
        module = handlers.handler_module(name)
        entry = getattr(module, spec.handler.split(".")[1])
        init_error = None
    except Exception as exc:  # an init error: every invocation of this environment reports it
        init_error = _failure(exc)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        event, request_id = message
        if init_error is not None:
            connection.send(init_error)
            return
        context = handlers.LocalLambdaContext(
            function_name=handlers.physical_name(name),
            memory_limit_in_mb=spec.memory_mb,
            aws_request_id=request_id,
        )
        try:
            reply: tuple[Any, ...] = ("ok", entry(event, context))
        except Exception as exc:
            reply = _failure(exc)
        try:
            try:
                connection.send(reply)  # pickled whole before a byte is written
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                connection.send(_failure(exc))  # a result that cannot cross the pipe: the handler's error
        except OSError:
            return
