"""The whole offline stack in one process: emulator, resources, HTTP API, WebSocket API.

:class:`LocalStack` binds every port first (so port 0 can pick free ones), sets the environment the
handlers read, creates the resources (:mod:`keyframe.local.bootstrap`), then serves. Configuration
comes from the environment (:meth:`StackConfig.from_env`):

==========================  ========================================================================
MOTO_PORT                   AWS emulator port (default 4566; 0 = a free port)
KEYFRAME_HTTP_PORT          HTTP API port (default 3000; 0 = a free port)
KEYFRAME_WS_PORT            WebSocket API + ``@connections`` port (default 3001; 0 = a free port)
KEYFRAME_HOST               interface to bind (default 127.0.0.1)
KEYFRAME_STATE_DIR          where logs and ``local-stack.json`` go (default ``<repo>/.keyframe``)
KEYFRAME_BATCH_CONCURRENCY  Batch jobs running at once (default 2)
KEYFRAME_LAMBDA_*           execution environments per function (:mod:`keyframe.local.environments`)
KEYFRAME_SNAPSHOT_SECONDS   seconds between snapshots of the data (default 60; 0 = only at stop)
CORS_ALLOW_ORIGINS          default ``http://localhost:5173,http://127.0.0.1:5173``
FRONTEND_URL                where e-mail links point (default ``http://localhost:5173``)
AWS_ENDPOINT_URL            if set (a running LocalStack), no emulator is started: resources are
                            created there and the gateways use it
==========================  ========================================================================

moto keeps everything in memory; :mod:`keyframe.local.persistence` saves it in ``<state>/data`` at stop
and every ``KEYFRAME_SNAPSHOT_SECONDS`` and restores it at start (``make dev-reset`` deletes it).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from localstack_client.session import Session as LocalStackSession

from keyframe import registry, settings
from keyframe.local import bootstrap, defaults, lambdas, persistence, snapshot_layout, snapshot_restore
from keyframe.local.batch_jobs import definition_lookup, queue_lookup
from keyframe.local.batch_queue import LocalBatch
from keyframe.local.emulator import EmulatorApp, EmulatorServer, enable_step_functions_execution, moto_app
from keyframe.local.environments import Environments, EnvironmentSettings
from keyframe.local.ffmpeg import ffmpeg_path, path_with_tools
from keyframe.local.mailbox import PATH as MAILBOX_PATH
from keyframe.local.mailbox import MailboxWatcher
from keyframe.local.queues import QueuePoller
from keyframe.local.restapi import RestApiApp, RestApiServer
from keyframe.local.streams import StreamPoller
from keyframe.local.websocket import WebSocketGateway
from keyframe.storage.tables import CATALOG

log = logging.getLogger("keyframe.local")

STAGE = "local"
WOKEN_POLL_SECONDS = 1.0
"""Idle interval of the outbox stream and webhook queue pollers when the in-process emulator wakes them
on every DynamoDB write and SQS send (a safety net: delayed messages, writes it did not see)."""
REGION = "us-east-1"
DEFAULT_CORS_ORIGINS = defaults.CORS_ORIGINS
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, "").strip()
    return int(value) if value else default


@dataclass
class StackConfig:
    """Where the local stack listens and keeps its files."""

    host: str = "127.0.0.1"
    moto_port: int = 4566
    http_port: int = 3000
    ws_port: int = 3001
    state_dir: Path = field(default_factory=lambda: registry.REPO_ROOT / ".keyframe")
    cors_origins: str = DEFAULT_CORS_ORIGINS
    external_endpoint: str | None = None
    batch_concurrency: int = 2
    snapshot_seconds: float = 60.0
    stage: str = STAGE
    region: str = REGION

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackConfig:
        """Read the variables of the module docstring."""
        env = os.environ if environ is None else environ
        state = env.get("KEYFRAME_STATE_DIR")
        return cls(
            host=env.get("KEYFRAME_HOST") or "127.0.0.1",
            moto_port=_port(env, "MOTO_PORT", 4566),
            http_port=_port(env, "KEYFRAME_HTTP_PORT", 3000),
            ws_port=_port(env, "KEYFRAME_WS_PORT", 3001),
            state_dir=Path(state).resolve() if state else registry.REPO_ROOT / ".keyframe",
            cors_origins=env.get("CORS_ALLOW_ORIGINS") or DEFAULT_CORS_ORIGINS,
            external_endpoint=(env.get("AWS_ENDPOINT_URL") or "").strip() or None,
            batch_concurrency=_port(env, "KEYFRAME_BATCH_CONCURRENCY", 2),
            snapshot_seconds=float(env.get("KEYFRAME_SNAPSHOT_SECONDS", "").strip() or 60),
        )


class LocalStack:
    """Start and stop everything ``make dev`` runs.

    Attributes (after :meth:`start`)
    --------------------------------
    env:
        Every variable set for the handlers (also written to ``local-stack.json``).
    urls:
        ``api``, ``docs``, ``websocket``, ``connections``, ``emulator``.
    """

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.env: dict[str, str] = {}
        self.urls: dict[str, str] = {}
        self.emulator: Any = None
        self._emulator_app: EmulatorApp | None = None
        self.batch: Any = None
        self.http: Any = None
        self.websocket: Any = None
        self.environments: Environments | None = None
        self.mailbox: MailboxWatcher | None = None
        self.snapshots: persistence.Snapshots | None = None
        self.streams: StreamPoller | None = None
        self.queues: QueuePoller | None = None
        self.restored: snapshot_restore.Restored | None = None
        self.started_seconds: float | None = None

    @property
    def info_file(self) -> Path:
        """``<state>/local-stack.json``: URLs and environment, for ``make demo`` and the CLI."""
        return self.config.state_dir / "local-stack.json"

    def start(self) -> None:
        """Bind, configure, bootstrap and serve. On failure, whatever started is stopped again."""
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_seconds = time.perf_counter() - started

    def _start(self) -> None:
        config = self.config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        endpoint = config.external_endpoint
        if endpoint is None:
            endpoint = self._start_emulator()
        self.websocket = WebSocketGateway(config.host, config.ws_port, stage=config.stage)
        self.http = RestApiServer(None, config.host, config.http_port)
        self.env = self._base_env(endpoint)
        os.environ.update(self.env)
        self._reset_caches()
        lambda_settings = EnvironmentSettings.from_env()
        if lambda_settings.max_per_function > 0:  # else every handler runs in this process
            self.environments = Environments(lambda: self.env, lambda_settings)
            lambdas.use_environments(self.environments)

        resources = bootstrap.bootstrap(self._session(endpoint), config.stage, region=config.region)
        self.env.update(resources)
        os.environ.update(resources)
        if self.emulator is not None:
            self._restore()

        # With the in-process emulator every write wakes the pollers at once, so their idle polls can be
        # rare (an idle stack then costs little CPU); against LocalStack they keep their short intervals.
        woken = self._emulator_app is not None
        idle = WOKEN_POLL_SECONDS if woken else None
        self.streams = StreamPoller(
            self._session(endpoint), self.env[CATALOG.env_var], lambdas.invoke, interval=idle
        )  # after the restore: restored items are not new events
        self.streams.start()
        self.queues = QueuePoller(
            self._session(endpoint), self.env["WEBHOOK_QUEUE_URL"], lambdas.invoke, interval=idle
        )
        self.queues.start()
        if self._emulator_app is not None:
            self._emulator_app.on_write.setdefault("DynamoDB_20120810", []).append(self.streams.wake)
            self._emulator_app.on_write.setdefault("AmazonSQS", []).append(self.queues.wake)
        # builds the route table: after the environment is set; the mailbox reads the in-process SES
        self.http.app = RestApiApp(mailbox=self.emulator is not None)
        self.websocket.start()
        self.http.start()
        if self.emulator is not None:
            self.mailbox = MailboxWatcher(self.http.url)
            self.mailbox.start()
        self.urls = {
            "api": self.http.url,
            "docs": f"{self.http.url}/docs",
            "openapi": f"{self.http.url}/openapi.json",
            "mailbox": f"{self.http.url}{MAILBOX_PATH}",
            "websocket": self.websocket.url,
            "connections": self.websocket.connections_url,
            "emulator": endpoint,
        }
        self._write_info()

    def _restore(self) -> None:
        """Put the last snapshot back, fail what was running at stop, then snapshot periodically."""
        started = time.perf_counter()
        data = snapshot_layout.data_dir(self.config.state_dir)
        restored = snapshot_restore.restore(data, self.config.region)
        self._reset_caches()  # the JWT secret may have its saved value now
        aborted = snapshot_restore.abort_interrupted(restored.interrupted, self.config.stage, lambdas.invoke)
        log.info(
            "restored %d items, %d objects and %d parts of %d multipart uploads in progress (%.1f MiB), "
            "%d secrets, %d executions (%d were running at stop and are FAILED now) from %s in %.1f s",
            restored.items, restored.objects, restored.parts, restored.multipart_uploads,
            restored.object_bytes / 2**20, restored.secrets, restored.executions, aborted, data,
            time.perf_counter() - started,
        )  # fmt: skip
        self.restored = restored
        self.snapshots = persistence.Snapshots(data, self.config.region, self.config.snapshot_seconds)
        self.snapshots.start()

    def _start_emulator(self) -> str:

        enable_step_functions_execution()
        app = self._emulator_app = EmulatorApp(moto_app(), stage=self.config.stage)
        self.emulator = EmulatorServer(app, self.config.host, self.config.moto_port)
        # moto's Step Functions interpreter calls Lambda/Batch back on localhost:$MOTO_PORT
        os.environ["MOTO_PORT"] = str(self.emulator.port)
        endpoint = self.emulator.url
        client = self._session(endpoint).client("batch")
        self.batch = LocalBatch(
            definitions=definition_lookup(client),
            queues=queue_lookup(client),
            environment=lambda: dict(os.environ),
            log_dir=self.config.state_dir / "batch-logs",
            cwd=registry.REPO_ROOT,
            region=self.config.region,
            max_concurrent=self.config.batch_concurrency,
        )
        app.batch = self.batch
        self.emulator.start()
        return endpoint

    def _session(self, endpoint: str) -> Any:
        if self.config.external_endpoint:
            return LocalStackSession(
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                region_name=self.config.region,
            )
        return EndpointSession(endpoint, self.config.region)

    def _base_env(self, endpoint: str) -> dict[str, str]:
        config = self.config
        assert self.websocket is not None and self.http is not None
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "STAGE": config.stage,
            "JWT_ISSUER": self.http.url,
            "JWT_AUDIENCE": "keyframe-api",
            "CORS_ALLOW_ORIGINS": config.cors_origins,
            "FRONTEND_URL": os.environ.get("FRONTEND_URL") or defaults.FRONTEND_URL,
            "LIVE_CONNECTIONS_ENDPOINT": self.websocket.connections_url,
            "LIVE_WEBSOCKET_URL": self.websocket.url,
            "POWERTOOLS_SERVICE_NAME": "keyframe-local",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "KeyframeLocal",
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"),
            "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
            "KEYFRAME_STATE_DIR": str(config.state_dir),
            # analytics records as JSON lines, studio=<id>/date=<yyyy-mm-dd>/events.jsonl (the cloud:
            # Firehose to S3 in the same layout)
            "ANALYTICS_DIRECTORY": str(config.state_dir / "analytics"),
            # webhooks to a receiver on this machine (http://127.0.0.1:…); never set in the cloud
            "WEBHOOK_ALLOW_LOCAL_HTTP": "true",
            # retries come quickly on a developer's machine (the cloud's first pause is 30 s)
            "WEBHOOK_RETRY_BASE_SECONDS": os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "2"),
            "WEBHOOK_RETRY_MAX_SECONDS": os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", "60"),
            "KEYFRAME_FFMPEG": ffmpeg_path(),
            "PATH": path_with_tools(config.state_dir),
        }

    @staticmethod
    def _reset_caches() -> None:
        settings.reset()
        parameters.clear_caches()

    def _write_info(self) -> None:
        info = {
            "pid": os.getpid(),
            "startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "stage": self.config.stage,
            "urls": self.urls,
            "env": {k: v for k, v in self.env.items() if k != "PATH"},
        }
        tmp = self.info_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.replace(self.info_file)

    def banner(self) -> str:
        """The lines printed at start: every URL, the state folder, what a restart means."""
        lines = [
            "",
            "Keyframe local stack is up"
            + (f" ({self.started_seconds:.1f} s)" if self.started_seconds else ""),
            f"  HTTP API        {self.urls.get('api')}",
            f"  API docs        {self.urls.get('docs')}  (OpenAPI: {self.urls.get('openapi')})",
            f"  WebSocket       {self.urls.get('websocket')}",
            f"  Mailbox         {self.urls.get('mailbox')}  (e-mails the functions sent; each is logged too)"
            if self.emulator is not None
            else "  Mailbox         LocalStack lists captured e-mails at its /_aws/ses",
            f"  @connections    {self.urls.get('connections')}",
            f"  AWS emulator    {self.urls.get('emulator')}"
            + (
                "  (LocalStack)"
                if self.config.external_endpoint
                else "  (moto; data kept in <state>/data across restarts, `make dev-reset` empties it)"
            ),
            f"  State & logs    {self.config.state_dir}  (stack info: {self.info_file.name})",
        ]
        machines = sorted(k for k in self.env if k.endswith("_STATE_MACHINE_ARN"))
        lines += [f"  {name:<15} {self.env[name]}" for name in machines]
        lines += ["Press Ctrl-C to stop.", ""]
        return "\n".join(lines)

    def stop(self) -> None:
        """Stop everything that started (jobs, gateways, emulator, execution environments) and remove
        ``local-stack.json``."""
        for name in (
            "mailbox",
            "http",
            "websocket",
            "streams",
            "batch",
            "snapshots",
            "emulator",
            "environments",
        ):
            part = getattr(self, name)
            if part is None:
                continue
            try:
                if name == "batch":
                    part.shutdown(timeout=8)
                elif name == "environments":
                    lambdas.use_environments(None)
                    part.close()
                else:
                    part.stop()
            except Exception:  # keep stopping the others
                log.exception("stopping %s failed", name)
            setattr(self, name, None)
        try:
            info = json.loads(self.info_file.read_text())
            if info.get("pid") == os.getpid():
                self.info_file.unlink()
        except (OSError, ValueError):
            pass


class EndpointSession:
    """boto3 clients for one endpoint (``session.client("s3")``) with the stack's fake credentials."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self._session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 client of ``service_name`` for the endpoint."""
        return self._session.client(service_name, endpoint_url=self.endpoint, **kwargs)  # type: ignore[call-overload]
