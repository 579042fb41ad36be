"""The local HTTP API: a threaded WSGI server that hands every request to :class:`RestGateway`.

Each request becomes an API Gateway REST proxy event (all headers, repeated query keys, binary
bodies base64-encoded) answered by the real authorizer and handler; one log line per request::

    POST /auth/login 200 41 ms cid=3f2c…

``GET /_local/mailbox`` lists the e-mails the functions sent (:mod:`keyframe.local.mailbox`) when
the emulator runs in this process; it is not an API route and exists only here.

A handler that crashes is answered 502 like API Gateway's ``Internal server error`` (with the
traceback in the stack's log), so one bad route never takes the server down.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from keyframe.http import cors
from keyframe.local import mailbox
from keyframe.local.apigateway import RestGateway, allowed_origins
from keyframe.local.servers import JsonErrorRequestHandler, ThreadedServer

log = logging.getLogger("keyframe.local.http")


class RestApiApp:
    """WSGI app: request -> :meth:`RestGateway.handle` -> response."""

    def __init__(self, gateway: RestGateway | None = None, *, mailbox: bool = False) -> None:
        self.gateway = gateway or RestGateway()
        self.mailbox = mailbox

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
        path = raw_uri.split("?", 1)[0] or "/"
        if self.mailbox and mailbox.is_mailbox_path(path):  # local-only, not an API route
            return mailbox.wsgi_app(environ, start_response)
        headers = {key: value for key, value in request.headers.items()}
        correlation_id = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        headers.setdefault("X-Correlation-Id", correlation_id)
        try:
            result = self.gateway.handle(
                request.method,
                path,
                query=request.args.to_dict(flat=False),
                headers=headers,
                body=request.get_data() or None,
                source_ip=request.remote_addr or "127.0.0.1",
            )
            response = Response(result.body, status=result.status, headers=list(result.headers.items()))
        except Exception:
            log.exception("%s %s crashed", request.method, path)
            body = {
                "error": {
                    "code": "INTERNAL_ERROR",
                    "message": "Internal server error",
                    "correlationId": correlation_id,
                }
            }
            response = Response(
                json.dumps(body),
                status=502,
                content_type="application/json",
                headers={
                    "X-Correlation-Id": correlation_id,
                    **cors.response_headers(request.headers.get("Origin"), allowed_origins()),
                },
            )
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s %d %.0f ms cid=%s",
            request.method,
            path,
            response.status_code,
            elapsed,
            response.headers.get("X-Correlation-Id", correlation_id),
        )
        return response(environ, start_response)


def _not_ready(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "application/json")])
    error = {
        "code": "NOT_READY",
        "message": "The local stack is starting",
        "correlationId": str(uuid.uuid4()),
    }
    body = {"error": error}
    return [json.dumps(body).encode()]


class _QuietHandler(JsonErrorRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None  # RestApiApp logs its own line


class RestApiServer(ThreadedServer):
    """The HTTP API on ``host:port`` (port 0 picks a free one; bound in the constructor).

    Until :attr:`app` is set it answers 503 ``NOT_READY`` in the error shape.
    """

    def __init__(self, app: RestApiApp | None, host: str = "127.0.0.1", port: int = 3000) -> None:
        super().__init__(app or _not_ready, host, port, name="http-api", request_handler=_QuietHandler)
