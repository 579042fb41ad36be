"""A werkzeug threaded WSGI server bound at construction and served on a daemon thread.

The emulator (``keyframe.local.emulator``) and the REST API (``keyframe.local.restapi``) both run on
it; binding in the constructor lets port 0 pick a free port that is known before :meth:`start`.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


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
