"""The process-wide Powertools Logger, Tracer and Metrics.

Service name and namespace come from ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``
when set (CDK sets them per function), else ``keyframe`` / ``Keyframe``. Every log line carries the
request's correlation id once :func:`keyframe.http.app.KeyframeResolver.resolve` has set it.

Tracing: :data:`tracer` is a :class:`LazyTracer`. Powertools' ``Tracer()`` imports the X-Ray SDK
(and, in Lambda, patches every library it knows: requests, sqlite3, httplib …) the moment it is
constructed, even when tracing is off. Measured with ``make bench ONLY=coldstart`` (CPU, paired runs)
that was about 70 ms of the ~215 ms a handler's init added to its libraries. Here the real Tracer is
built only when a request is traced: on the first invocation whose X-Ray header says
``Sampled=1`` (Lambda sets ``_X_AMZN_TRACE_ID`` per invocation under active tracing), and then it
patches only botocore, which carries every AWS call Keyframe makes (pynamodb included). Unsampled
requests record no subsegments with or without the SDK, and botocore itself forwards the trace header
(``X-Amzn-Trace-Id``) to AWS calls, so cold starts that are not sampled no longer pay for the SDK;
where tracing is off (``POWERTOOLS_TRACE_DISABLED``, outside Lambda: tests, the local stack) it is
never imported.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.tracing import tracer as _powertools_tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "keyframe")

PATCHED_MODULES: tuple[str, ...] = ("botocore",)
"""Libraries the X-Ray SDK instruments once tracing starts (every AWS call goes through botocore)."""

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
"""The variable Lambda sets per invocation to the X-Ray trace header (``Root=…;Sampled=1``)."""


def tracing_enabled() -> bool:
    """Powertools' own rule: off with ``POWERTOOLS_TRACE_DISABLED`` or outside Lambda (no
    ``LAMBDA_TASK_ROOT``, SAM local, Chalice local)."""
    return not _powertools_tracer.Tracer._is_tracer_disabled()


def sampled() -> bool:
    """True when the current invocation's X-Ray trace header (``_X_AMZN_TRACE_ID``) is sampled."""
    return "Sampled=1" in os.environ.get(TRACE_HEADER_ENV, "")


class LazyTracer:
    """A Powertools ``Tracer`` built on the first sampled invocation (see the module docstring).

    Parameters
    ----------
    service:
        The X-Ray service name (``POWERTOOLS_SERVICE_NAME``).
    patch_modules:
        Libraries the SDK patches when the Tracer is built.
    """

    def __init__(self, service: str, patch_modules: tuple[str, ...] = PATCHED_MODULES) -> None:
        self.service = service
        self.patch_modules = patch_modules
        self._tracer: _powertools_tracer.Tracer | None = None
        self._lock = threading.Lock()
        self._invoked = False

    @property
    def built(self) -> bool:
        """Whether the real Tracer (and the X-Ray SDK) has been loaded."""
        return self._tracer is not None

    def get(self) -> _powertools_tracer.Tracer:
        """The real Powertools Tracer, built (X-Ray SDK imported, botocore patched) on first call."""
        with self._lock:
            if self._tracer is None:
                if self._invoked:
                    # Powertools annotates its first traced invocation ColdStart=true; built late,
                    # this one is not the sandbox's first
                    _powertools_tracer.is_cold_start = False
                self._tracer = _powertools_tracer.Tracer(
                    service=self.service, patch_modules=list(self.patch_modules)
                )
            return self._tracer

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Any:
        """Like ``Tracer.capture_lambda_handler``: once a sampled invocation arrives, every invocation
        runs in Powertools' ``## handler`` subsegment; before that (and always when tracing is off)
        the handler runs as is. Results and exceptions pass through unchanged."""
        if lambda_handler is None:
            return functools.partial(
                self.capture_lambda_handler, capture_response=capture_response, capture_error=capture_error
            )
        handler = lambda_handler
        traced: list[Callable[..., Any]] = []

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            if not traced and tracing_enabled() and sampled():
                traced.append(
                    self.get().capture_lambda_handler(
                        handler, capture_response=capture_response, capture_error=capture_error
                    )
                )
            self._invoked = True
            if traced:
                return traced[0](event, context, *args, **kwargs)
            return handler(event, context, *args, **kwargs)

        return wrapper

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        # anything else (put_annotation, capture_method, provider …) is the real Tracer's
        return getattr(self.get(), name)


logger = Logger(service=SERVICE)
tracer = LazyTracer(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Keyframe"), service=SERVICE)
