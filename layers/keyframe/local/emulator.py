"""The AWS emulator of the local stack: moto's server with Lambda Invoke and Batch jobs answered here.

One WSGI app on one port (``MOTO_PORT``, default 4566, LocalStack's) in front of
``moto.moto_server.werkzeug_app.DomainDispatcherApplication``:

- ``POST /2015-03-31/functions/<name or ARN>/invocations`` (Lambda ``Invoke``) runs the real handler
  in-process through :mod:`keyframe.local.lambdas` (moto would need Docker). ``RequestResponse``
  returns the JSON result; a handler exception returns 200 with ``X-Amz-Function-Error: Unhandled``
  and the ``{"errorMessage","errorType","stackTrace"}`` body, exactly as Lambda, so Step Functions
  ``Retry``/``Catch`` behave as in AWS; ``Event`` runs it on a background thread and returns 202.
- ``POST /v1/submitjob|describejobs|listjobs|terminatejob|canceljob`` go to
  :class:`keyframe.local.batch_queue.LocalBatch` (jobs run as local subprocesses); the other Batch calls
  (compute environments, queues, job definitions) are moto's.
- A ``PUT`` that declares ``x-amz-checksum-crc32`` (an object, or a part whose presigned URL signs it)
  is refused with S3's 400 ``BadDigest`` when its bytes do not match, as S3 does; moto stores such a
  part without checking it.
- Everything else is moto's, including Step Functions with ASL execution turned on: its interpreter
  calls Lambda and Batch back on ``http://localhost:$MOTO_PORT``, i.e. on this app, so
  ``lambda:invoke`` and ``batch:submitJob.sync`` tasks run the real code.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import botocore.session
from botocore import xform_name
from moto import backends as moto_backends
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
    JSONPATH_ROOT_PATH,
    StringJsonPath,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable, Variable
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError, extract_json
from werkzeug.wrappers import Request, Response

from keyframe.local import lambdas
from keyframe.local.atomic import make_dynamodb_atomic
from keyframe.local.batch_jobs import BatchError
from keyframe.local.batch_queue import LocalBatch
from keyframe.local.dynamodb_json import answer_items_as_json
from keyframe.local.dynamodb_queries import queries_read_what_they_match
from keyframe.local.moto_dispatch import remember_action_methods
from keyframe.local.servers import ThreadedServer

log = logging.getLogger("keyframe.local.emulator")

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_BATCH = re.compile(r"^/v1/(?P<action>submitjob|describejobs|listjobs|terminatejob|canceljob)/?$")

_WRITES = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "SendMessage",
        "SendMessageBatch",
    }
)
"""Actions after which :attr:`EmulatorApp.on_write` callbacks run (stream records or messages may be new)."""

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def enable_step_functions_execution() -> None:
    """Make moto's Step Functions run state machines (its ASL interpreter) in this process.

    Also restores the request/response casing of optimised service integrations: moto 5.2.5 ships
    LocalStack's interpreter with ``_normalise_parameters``/``_normalise_response`` stubbed out, so a
    task such as ``batch:submitJob.sync`` with ASL's ``"JobName"``/``"JobQueue"`` parameters fails
    (botocore's ``jobName`` expected) and its output lacks ``JobId``. The patch maps parameters to the
    botocore names of the operation's input shape and the response back to ASL's PascalCase, as
    LocalStack and AWS do. Integrations that override the two methods (API Gateway) are unaffected.

    Also makes a Choice rule's ``Variable`` that is absent from the input (what ``IsPresent`` tests)
    a plain "no such variable" instead of an error: moto evaluates the path as a component, which
    logs ``ERROR … NoSuchJsonPathError`` before the rule catches it, on every healthy execution
    whose input omits an optional field (``$.jobQueue`` of a render, ``$.mode`` of a pipeline).
    """
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    for target, name, value in interpreter_patches():
        setattr(target, name, value)


_original_choice_variable = Variable._eval_body


def _choice_variable(self: Any, env: Any) -> None:
    """``Variable._eval_body`` that reads a JSONPath of the input without raising when it is absent."""
    sampler = self.string_sampler
    if type(sampler) is not StringJsonPath or sampler.json_path == JSONPATH_ROOT_PATH:
        _original_choice_variable(self, env)
        return
    try:
        value: Any = extract_json(sampler.json_path, env.stack[-1])
    except NoSuchJsonPathError as missing:
        value = NoSuchVariable(f"{sampler.json_path}, {missing}")
    env.stack.append(value)


def interpreter_patches() -> list[tuple[type, str, Any]]:
    """``(class, method name, replacement)`` for each interpreter method that
    :func:`enable_step_functions_execution` replaces."""
    return [
        (StateTaskService, "_normalise_parameters", _normalise_parameters),
        (StateTaskService, "_normalise_response", _normalise_response),
        (Variable, "_eval_body", _choice_variable),
    ]


def _operation_model(task: Any, boto_service_name: str | None, service_action_name: str | None) -> Any:
    service = task._get_boto_service_name(boto_service_name=boto_service_name)
    action = task._get_boto_service_action(service_action_name=service_action_name)
    model = _service_model(service)
    for operation in model.operation_names:
        if xform_name(operation) == action:
            return model.operation_model(operation)
    return None


_models: dict[str, Any] = {}


def _service_model(service: str) -> Any:
    if service not in _models:
        _models[service] = botocore.session.get_session().get_service_model(service)
    return _models[service]


def _normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation_model(self, boto_service_name, service_action_name)
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    operation = _operation_model(self, boto_service_name, service_action_name)
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def moto_app() -> WSGIApp:
    """moto's server WSGI app (every service on one port, dispatched by the request signature).

    DynamoDB item operations are made atomic first (:mod:`keyframe.local.atomic`), as on AWS, and
    queries read their partition, not the whole table (:mod:`keyframe.local.dynamodb_queries`). moto's
    dispatcher lists its own package folder (``os.listdir`` and an ``isdir`` per service, about 150)
    on every request to find the service; the list is read once here instead (about 6 % of the
    emulator's CPU while a pipeline runs), as are each response class's action methods
    (:mod:`keyframe.local.moto_dispatch`).
    """
    make_dynamodb_atomic()
    answer_items_as_json()
    queries_read_what_they_match()
    remember_action_methods()
    modules = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules
    return DomainDispatcherApplication(create_backend_app)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def _aws_error(status: int, code: str, message: str) -> Response:
    return _json(status, {"__type": code, "message": message, "Type": "User"}, {"x-amzn-ErrorType": code})


def _crc32_refusal(environ: dict[str, Any]) -> Response | None:
    """S3's 400 ``BadDigest`` when a ``PUT`` body's CRC32 differs from its ``x-amz-checksum-crc32``
    header (base64 of the big-endian 4 bytes), else ``None`` with the body put back for moto.

    A body sent ``aws-chunked`` (checksums in a trailer) or without a length is left to moto.
    """
    length = environ.get("CONTENT_LENGTH")
    if not length or "aws-chunked" in environ.get("HTTP_CONTENT_ENCODING", ""):
        return None
    body = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    declared = environ["HTTP_X_AMZ_CHECKSUM_CRC32"]
    if base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode() == declared:
        return None
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>BadDigest</Code>'
        "<Message>The CRC32 you specified did not match the calculated checksum.</Message></Error>"
    )
    return Response(xml, status=400, content_type="application/xml")


class EmulatorApp:
    """The WSGI app: Lambda Invoke and Batch jobs answered locally, the rest by ``backend`` (moto).

    Parameters
    ----------
    backend:
        The WSGI app for every other request (:func:`moto_app`).
    batch:
        The local Batch runner; ``None`` passes the Batch job calls to ``backend`` as well.
    stage:
        Stage used to resolve ``keyframe-{stage}-{name}`` function names.
    """

    def __init__(self, backend: WSGIApp, batch: LocalBatch | None = None, stage: str = "local") -> None:
        self.backend = backend
        self.batch = batch
        self.stage = stage
        self.on_write: dict[str, list[Callable[[], None]]] = {}
        """``X-Amz-Target`` service prefix (``DynamoDB_20120810``, ``AmazonSQS``) -> callbacks run after
        each write request to that service was answered (the local pollers' :meth:`wake`)."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "POST":
            invoke = _INVOKE.match(path)
            if invoke:
                return self._invoke(Request(environ), invoke.group("name"))(environ, start_response)
            batch = _BATCH.match(path)
            if batch and self.batch is not None:
                return self._batch(Request(environ), batch.group("action"))(environ, start_response)
        if environ.get("REQUEST_METHOD") == "PUT" and environ.get("HTTP_X_AMZ_CHECKSUM_CRC32"):
            refused = _crc32_refusal(environ)
            if refused is not None:
                return refused(environ, start_response)
        answer = self.backend(environ, start_response)
        if self.on_write:
            service, _, action = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
            if action in _WRITES:
                for callback in self.on_write.get(service, ()):
                    callback()
        return answer

    def _invoke(self, request: Request, function_name: str) -> Response:
        name = lambdas.resolve(function_name, self.stage)
        if name is None:
            return _aws_error(404, "ResourceNotFoundException", f"Function not found: {function_name}")
        invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        payload = request.get_data()
        request_id = str(uuid.uuid4())
        if invocation_type == "DryRun":
            return Response(status=204, headers={"x-amzn-RequestId": request_id})
        if invocation_type == "Event":
            threading.Thread(
                target=self._run, args=(name, payload), daemon=True, name=f"lambda-{name}"
            ).start()
            return Response(status=202, headers={"x-amzn-RequestId": request_id})
        body, error = self._run(name, payload)
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": request_id}
        if error:
            headers["X-Amz-Function-Error"] = error
        return Response(body, status=200, headers=headers, content_type="application/json")

    @staticmethod
    def _run(name: str, payload: bytes) -> tuple[bytes, str | None]:
        started = time.perf_counter()
        body, error = lambdas.invoke_as_lambda(name, payload)
        elapsed = (time.perf_counter() - started) * 1000
        if error:
            log.warning("lambda %s failed in %.0f ms: %s", name, elapsed, body[:500].decode(errors="replace"))
        else:
            log.info("lambda %s %.0f ms", name, elapsed)
        return body, error

    def _batch(self, request: Request, action: str) -> Response:
        assert self.batch is not None
        try:
            body = json.loads(request.get_data() or b"{}")
            return _json(200, self.batch.handle(action, body))
        except BatchError as exc:
            return _aws_error(exc.status, exc.code, str(exc))
        except ValueError as exc:
            return _aws_error(400, "ClientException", f"Invalid JSON: {exc}")


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request (the emulator is chatty)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class EmulatorServer(ThreadedServer):
    """The emulator on ``host:port`` (port 0 picks a free one) served by werkzeug's threaded server.

    The socket is bound in the constructor, so :attr:`port` is known before :meth:`start`.
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 4566) -> None:
        super().__init__(app, host, port, name="emulator", request_handler=_QuietHandler)
