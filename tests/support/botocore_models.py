"""Parse botocore's service models once per test process, however many sessions the tests open.

botocore gives every new session its own data loader, and a loader re-reads and re-parses the JSON
service models (``endpoints.json``, ``service-2.json``, ...) the first time each session needs them:
about 0.15 s of CPU per session. moto's ``mock_aws`` replaces ``boto3.DEFAULT_SESSION`` on every
start, Powertools' ``SecretsProvider`` opens a ``boto3.Session`` after every cache reset and
``keyframe.storage.models`` opens one per thread, so a moto test opened several sessions and spent
most of its setup parsing the same files again. One shared loader serves them all.

The loader only reads the models botocore ships (read-only data, cached by argument exactly as one
session's loader caches them), so sharing it changes nothing a test can observe. Production code is
untouched; this is installed by ``tests/conftest.py`` for the test processes only.
"""

from __future__ import annotations

import os
from typing import Any

import botocore.loaders
import botocore.session
from aws_lambda_powertools.utilities.parameters import secrets

_shared: list[botocore.loaders.Loader] = []


def share_loader() -> None:
    """Make every ``botocore.session.Session`` created from now on use one process-wide loader.

    Idempotent. The loader honours ``AWS_DATA_PATH`` as set at the first call.
    """
    if _shared:
        return
    _shared.append(
        botocore.loaders.create_loader(botocore.session.Session().get_config_variable("data_path"))
    )
    loader = _shared[0]

    def _register_data_loader(session: botocore.session.Session) -> None:
        session._components.lazy_register_component("data_loader", lambda: loader)

    botocore.session.Session._register_data_loader = _register_data_loader  # type: ignore[method-assign]


_CLIENT_ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
_secrets_providers: dict[tuple[str | None, ...], Any] = {}


def share_secrets_provider() -> None:
    """Make Powertools' ``get_secret`` reuse one ``SecretsProvider`` (and so one boto3 session and
    Secrets Manager client) per client environment, with its value cache emptied each time.

    Every test resets Powertools' caches (``parameters.clear_caches()`` drops the provider), and the
    next ``get_secret`` built a new ``boto3.Session`` (~130 handler registrations) and a client:
    ~9 % of an integration module's CPU (catalog/test_access: 3.6 s of 39 s). The provider is made
    when ``get_secret`` first needs one, as before, and keyed by the environment a client reads at
    creation (endpoint, region, credentials), so a test that points elsewhere gets its own; a value
    is never carried from one test to the next (the cache is cleared on every hand-out). moto's
    stubber, a handler of every client made after ``moto.core.models`` is imported, serves each
    world. Idempotent; test processes only.
    """
    if getattr(secrets.SecretsProvider, "_keyframe_shared", False):
        return
    real = secrets.SecretsProvider

    def shared(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return real(*args, **kwargs)
        key = tuple(os.environ.get(name) for name in _CLIENT_ENVIRONMENT)
        provider = _secrets_providers.get(key)
        if provider is None:
            provider = _secrets_providers[key] = real()
        provider.clear_cache()
        return provider

    shared._keyframe_shared = True  # type: ignore[attr-defined]
    secrets.SecretsProvider = shared  # type: ignore[assignment,misc]
