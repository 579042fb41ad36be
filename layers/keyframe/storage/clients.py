"""boto3 clients, built once per process for each service and configuration.

Building a boto3 client costs about 10 ms of CPU (loading the service model, the endpoint rules,
the event hooks); a Lambda environment answers many requests and low-level boto3 clients are
thread-safe, so building one per request wastes that every time. :func:`client` keeps one per
service, options and ``AWS_*`` environment: a process whose environment changes (the test worlds
set their own endpoint and credentials) gets a new client rather than one for another
configuration.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from typing import Any

import boto3
from botocore.config import Config


def client(
    service: str,
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    **config: Any,
) -> Any:
    """A boto3 client for ``service`` (``"s3"``, ``"stepfunctions"``, ``"dynamodb"``, ...), shared
    by every caller in this process that asks for the same one.

    Parameters
    ----------
    service:
        The boto3 service name.
    region_name, endpoint_url:
        Passed to boto3 (``None``: from the environment, ``AWS_REGION`` / ``AWS_ENDPOINT_URL*``).
    config:
        Keyword arguments of ``botocore.config.Config`` (``signature_version``, ``s3``,
        ``retries``, ``request_checksum_calculation``...); values must be JSON (they make the key).

    Returns
    -------
    botocore.client.BaseClient
        The same client for the same arguments and ``AWS_*`` environment.
    """
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    options = json.dumps(config, sort_keys=True)
    with _building:  # one build at a time: boto3's default session is not thread-safe
        return _built(service, region_name, endpoint_url, options, environment)


_building = threading.Lock()


@functools.lru_cache(maxsize=64)
def _built(
    service: str,
    region_name: str | None,
    endpoint_url: str | None,
    options: str,
    environment: tuple[tuple[str, str], ...],  # part of the cache key only
) -> Any:
    config = Config(**json.loads(options)) if options != "{}" else None
    return boto3.client(service, region_name=region_name, endpoint_url=endpoint_url, config=config)
