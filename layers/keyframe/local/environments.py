"""Lambda-faithful execution environments for the local stack: a bounded pool of processes per function.

In Lambda each execution environment serves one request at a time; a request that finds every
environment of its function busy gets a new one (a cold start), up to the function's concurrency.
:class:`Environments` does the same on ``make dev``: each function has a pool of processes
(:mod:`keyframe.local.zygote`, forked from multiprocessing's fork server so a cold start costs only
the handler's own imports), each serving one invocation at a time, so no module state is shared
between concurrent requests (the resolver's current event, Powertools' log context, caches).

Bounds (environment variables, read by :meth:`EnvironmentSettings.from_env`):

==================================  ================================================================
KEYFRAME_LAMBDA_ENVIRONMENTS        environments per function at most (default 4); a request that
                                    finds all of them busy waits for one; ``0`` runs every handler
                                    in the stack's own process, one at a time (to debug with breakpoints)
KEYFRAME_LAMBDA_IDLE_SECONDS        an environment idle that long is stopped (default 300)
KEYFRAME_LAMBDA_TIMEOUT_FACTOR      the function's Lambda timeout is multiplied by this (default 3: a
                                    laptop running everything at once is slower than Lambda); an
                                    invocation past it is stopped with ``Sandbox.Timedout``
==================================  ================================================================
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from keyframe import registry
from keyframe.local import zygote

log = logging.getLogger("keyframe.local.lambda")


class HandlerError(Exception):
    """A handler raised in its environment (or the environment failed): Lambda's error payload.

    Attributes
    ----------
    error_type:
        The exception's class name (``errorType``; Step Functions ``Catch`` matches on it).
    stack_trace:
        The traceback lines from the environment.
    """

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = list(stack_trace or [])


@dataclass(frozen=True)
class EnvironmentSettings:
    """The pool bounds (module docstring)."""

    max_per_function: int = 4
    idle_seconds: float = 300.0
    timeout_factor: float = 3.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EnvironmentSettings:
        """Read ``KEYFRAME_LAMBDA_*``; empty or unset variables keep the defaults."""
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            value = (env.get(name) or "").strip()
            return float(value) if value else default

        return cls(
            max_per_function=int(number("KEYFRAME_LAMBDA_ENVIRONMENTS", cls.max_per_function)),
            idle_seconds=number("KEYFRAME_LAMBDA_IDLE_SECONDS", cls.idle_seconds),
            timeout_factor=number("KEYFRAME_LAMBDA_TIMEOUT_FACTOR", cls.timeout_factor),
        )


@dataclass(eq=False)
class _Environment:
    process: Any
    connection: Connection
    last_used: float = field(default_factory=time.monotonic)
    invocations: int = 0

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.send(None)
        self.connection.close()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)


class FunctionPool:
    """The environments of one function: at most ``max_size``, each serving one invocation at a time.

    Parameters
    ----------
    name:
        Registry name of the function.
    start:
        Starts a new environment (a cold start) and returns it.
    max_size:
        Environments at most; invocations beyond wait for a free one.
    timeout_seconds:
        An invocation running longer is stopped (its environment is discarded).
    """

    def __init__(
        self, name: str, start: Callable[[str], _Environment], max_size: int, timeout_seconds: float
    ) -> None:
        self.name = name
        self._start = start
        self.max_size = max_size
        self.timeout_seconds = timeout_seconds
        self._idle: list[_Environment] = []
        self._size = 0
        self._closed = False
        self._changed = threading.Condition()
        self.cold_starts = 0
        self.invocations = 0

    @property
    def size(self) -> int:
        """Environments alive now (busy and idle)."""
        return self._size

    def invoke(self, event: Any, request_id: str) -> Any:
        """Run one invocation in a free environment (a new one if none is free and the bound allows).

        Raises
        ------
        HandlerError
            The handler raised, its environment died, or it ran past the timeout.
        """
        environment = self._acquire()
        try:
            environment.connection.send((event, request_id))
            if not environment.connection.poll(self.timeout_seconds):
                self._discard(environment)
                raise HandlerError(
                    "Sandbox.Timedout", f"Task timed out after {self.timeout_seconds:.2f} seconds"
                )
            reply = environment.connection.recv()
        except (EOFError, OSError) as exc:
            self._discard(environment)
            message = f"The execution environment of {self.name} ended"
            raise HandlerError("Runtime.ExitError", message) from exc
        except BaseException:
            self._discard(environment)
            raise
        self._release(environment)
        if reply[0] == "ok":
            return reply[1]
        _, error_type, message, stack_trace = reply
        raise HandlerError(error_type, message, stack_trace)

    def _acquire(self) -> _Environment:
        with self._changed:
            while True:
                if self._closed:
                    raise HandlerError("Runtime.Stopped", "The local stack is stopping")
                if self._idle:
                    environment = self._idle.pop()  # the most recently used: warm caches, as Lambda
                    environment.invocations += 1
                    self.invocations += 1
                    return environment
                if self._size < self.max_size:
                    self._size += 1
                    self.cold_starts += 1
                    self.invocations += 1
                    break
                self._changed.wait()
        try:
            environment = self._start(self.name)
        except BaseException:
            with self._changed:
                self._size -= 1
                self._changed.notify()
            raise
        environment.invocations = 1
        return environment

    def _release(self, environment: _Environment) -> None:
        environment.last_used = time.monotonic()
        with self._changed:
            if self._closed:
                self._size -= 1
            else:
                self._idle.append(environment)
            self._changed.notify()
        if self._closed:
            environment.stop()

    def _discard(self, environment: _Environment) -> None:
        with self._changed:
            self._size -= 1
            self._changed.notify()
        environment.process.kill()
        environment.connection.close()

    def reap(self, idle_seconds: float) -> int:
        """Stop environments idle for ``idle_seconds`` or more; how many were stopped."""
        cutoff = time.monotonic() - idle_seconds
        with self._changed:
            old = [e for e in self._idle if e.last_used <= cutoff]
            self._idle = [e for e in self._idle if e.last_used > cutoff]
            self._size -= len(old)
            self._changed.notify_all()
        for environment in old:
            environment.stop()
        return len(old)

    def close(self) -> None:
        """Stop the idle environments now and the busy ones when their invocation ends."""
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._size -= len(idle)
            self._changed.notify_all()
        for environment in idle:
            environment.stop()


class Environments:
    """Every function's pool; :meth:`invoke` is what :func:`keyframe.local.lambdas.invoke` calls.

    Parameters
    ----------
    environment:
        The variables each environment starts with (read when an environment starts, so variables
        set after construction, such as the resource names, are seen).
    settings:
        The pool bounds.
    """

    def __init__(
        self, environment: Callable[[], Mapping[str, str]], settings: EnvironmentSettings | None = None
    ) -> None:
        self.environment = environment
        self.settings = settings or EnvironmentSettings.from_env()
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(zygote.PRELOAD)
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="lambda-reaper", daemon=True)
        self._reaper.start()

    def pool(self, name: str) -> FunctionPool:
        """The pool of function ``name`` (created on first use)."""
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                spec = registry.function(name)
                pool = FunctionPool(
                    name,
                    self._start,
                    self.settings.max_per_function,
                    spec.timeout_seconds * self.settings.timeout_factor,
                )
                self._pools[name] = pool
        return pool

    def invoke(self, name: str, event: Any, request_id: str | None = None) -> Any:
        """Invoke function ``name`` with ``event`` in one of its environments; its result.

        Raises
        ------
        HandlerError
            The handler raised (``error_type`` is its class name), or its environment failed.
        """
        return self.pool(name).invoke(event, request_id or str(uuid.uuid4()))

    def _start(self, name: str) -> _Environment:
        started = time.perf_counter()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=zygote.serve,
            args=(child, name, dict(self.environment())),
            name=f"lambda-{name}",
            daemon=True,
        )
        process.start()
        child.close()
        log.info("lambda %s: new execution environment (pid %s) in %.0f ms", name, process.pid,
                 (time.perf_counter() - started) * 1000)  # fmt: skip
        return _Environment(process, parent)

    def stats(self) -> dict[str, dict[str, int]]:
        """Per function: ``environments`` alive, ``coldStarts`` and ``invocations`` so far."""
        with self._lock:
            pools = dict(self._pools)
        return {
            name: {"environments": p.size, "coldStarts": p.cold_starts, "invocations": p.invocations}
            for name, p in sorted(pools.items())
        }

    def _reap(self) -> None:
        while not self._stopping.wait(min(30.0, max(1.0, self.settings.idle_seconds / 2))):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap(self.settings.idle_seconds)

    def close(self) -> None:
        """Stop every environment (busy ones once their invocation ends)."""
        self._stopping.set()
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
