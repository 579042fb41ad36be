"""A werkzeug threaded WSGI server bound at construction and served on a daemon thread.

The emulator (``keyframe.local.emulator``) and the REST API (``keyframe.local.restapi``) both run on
it; binding in the constructor lets port 0 pick a free port that is known before :meth:`start`.
:class:`JsonErrorRequestHandler` makes the server's own answers (a request it cannot parse: header
lines too long or too many, 431; a request line too long, 414; a malformed request, 400) use
Keyframe's one error shape, and sends no ``Server`` header naming the software.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger("keyframe.local.http")

SERVER_ERROR_CODES = {
    400: ("BAD_REQUEST", "The request could not be read"),
    408: ("REQUEST_TIMEOUT", "The request was not received in time"),
    414: ("URI_TOO_LONG", "The request line is too long"),
    431: ("HEADERS_TOO_LARGE", "The request headers are too large"),
    501: ("NOT_IMPLEMENTED", "The method is not supported"),
    505: ("HTTP_VERSION_NOT_SUPPORTED", "The HTTP version is not supported"),
}
"""The ``error.code`` and message of each status the HTTP server answers by itself."""


class JsonErrorRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler without a ``Server`` header and with JSON-shaped server errors.

    Errors the server answers before the app sees the request are logged at WARNING with the
    server's own reason, and answered ``{"error": {"code", "message", "correlationId"}}``.
    """

    def send_response(self, code: int, message: str | None = None) -> None:
        """The status line and ``Date`` (``http.server`` adds ``Server: Werkzeug/… Python/…`` too)."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer ``code`` in the error shape and close the connection."""
        error_code, text = SERVER_ERROR_CODES.get(code, ("BAD_REQUEST", "The request could not be read"))
        correlation_id = str(uuid.uuid4())
        log.warning("%d %s (%s) cid=%s", code, error_code, explain or message or "", correlation_id)
        body = json.dumps({"error": {"code": error_code, "message": text, "correlationId": correlation_id}})
        payload = body.encode()
        if self.request_version == "HTTP/0.9":  # an unreadable request line: answer with a status line
            self.request_version = "HTTP/1.0"
        self.send_response(code)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Correlation-Id", correlation_id)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_error(self, format: str, *args: Any) -> None:
        """At DEBUG: :meth:`send_error` logs the errors a client sees already."""
        log.debug(format, *args)


class ThreadedServer:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one) from a daemon thread named ``name``."""

    def __init__(
        self, app: Any, host: str, port: int, *, name: str, request_handler: type[WSGIRequestHandler]
    ) -> None:
        self.host = host
        self.name = name
        self.server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=request_handler
        )
        self._thread: threading.Thread | None = None

    @property
    def app(self) -> Any:
        """The WSGI app served (settable until :meth:`start`, so the port can be bound first)."""
        return self.server.app

    @app.setter
    def app(self, value: Any) -> None:
        self.server.app = value

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server.server_port)

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Serve on a daemon thread."""
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()
