"""Create Keyframe's AWS resources on moto (``mock_aws``) from the same definitions CDK uses."""

from __future__ import annotations

import copy
import json
import os
import secrets
from typing import Any

import boto3
import moto.kms.models as kms_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from keyframe.identity.token_keys import ensure_token_key
from keyframe.local.atomic import make_dynamodb_atomic
from keyframe.local.dynamodb_json import answer_items_as_json
from keyframe.local.dynamodb_queries import queries_read_what_they_match
from keyframe.local.moto_dispatch import remember_action_methods
from keyframe.storage.tables import create_tables
from tests.support.environment import (
    ANALYTICS_BUCKET,
    ANALYTICS_STREAM,
    JWT_SECRET_NAME,
    MAIL_FROM,
    MEDIA_BUCKET,
    TEST_STAGE,
    WEBHOOK_QUEUE,
)

_KEY_POOL: dict[str, list[Any]] = {}
_keys_handed_out: dict[str, int] = {}


def _pooled_private_key(key_spec: str) -> Any:
    """moto's KMS key material from a per-process pool: the first key of each spec a world creates is
    the pool's first, the second its second, and so on, each generated once per process. An RSA key
    takes ~80 ms of CPU to generate and every world creates one (the token key); keys within one
    world still differ."""
    index = _keys_handed_out.get(key_spec, 0)
    _keys_handed_out[key_spec] = index + 1
    pool = _KEY_POOL.setdefault(key_spec, [])
    while len(pool) <= index:
        pool.append(_generate_private_key(key_spec))
    return pool[index]


_generate_private_key = kms_models.generate_private_key
kms_models.generate_private_key = _pooled_private_key


_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    """A boto3 client per service for this process (building one costs ~10 ms of CPU; moto's stubber
    is a botocore handler for every client, so one made in an earlier world serves the next)."""
    if service not in _clients:
        if not _clients:
            _clients["__session__"] = boto3.session.Session()
        _clients[service] = _clients["__session__"].client(service)
    return _clients[service]


_empty_tables: dict[str, Any] = {}


def _create_tables() -> None:
    """Keyframe's tables in this moto world. The first world in a process creates them through
    ``create_tables`` (the definitions CDK deploys); later worlds get a deep copy of those empty moto
    tables (about 22 ms of CPU instead of ~45 requests' worth, once per world)."""
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    if _empty_tables:
        missing = {name: table for name, table in _empty_tables.items() if name not in backend.tables}
        backend.tables.update(copy.deepcopy(missing))
        return
    create_tables(_client("dynamodb"), TEST_STAGE)
    _empty_tables.update(copy.deepcopy(backend.tables))


def create_resources() -> None:
    """Tables from ``keyframe.storage.tables``, the media bucket, the signing secret and its first
    KMS token key (``keyframe.identity.token_keys``), the webhook delivery queue, the analytics Firehose
    delivery stream (to its own bucket, ``events/``), the SES identity of
    ``MAIL_FROM`` (moto's SES then keeps what :func:`keyframe.mail.send` sends).

    Every moto world (per test or per module) gets DynamoDB as the local stack has it: atomic
    requests and transactions that cost what they touch (:mod:`keyframe.local.atomic`), item
    operations answered as JSON directly (:mod:`keyframe.local.dynamodb_json`), queries that read
    their partition (:mod:`keyframe.local.dynamodb_queries`), moto's action lookup
    done once per class (:mod:`keyframe.local.moto_dispatch`).
    """
    make_dynamodb_atomic()
    answer_items_as_json()
    queries_read_what_they_match()
    remember_action_methods()
    _keys_handed_out.clear()
    _create_tables()
    _client("s3").create_bucket(Bucket=MEDIA_BUCKET)
    _client("secretsmanager").create_secret(
        Name=JWT_SECRET_NAME,
        SecretString=json.dumps({"kid": "test-key-1", "secret": secrets.token_urlsafe(48)}),
    )
    _client("sqs").create_queue(QueueName=WEBHOOK_QUEUE)
    _client("s3").create_bucket(Bucket=ANALYTICS_BUCKET)
    _client("firehose").create_delivery_stream(
        DeliveryStreamName=ANALYTICS_STREAM,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/keyframe-test-analytics",
            "BucketARN": f"arn:aws:s3:::{ANALYTICS_BUCKET}",
            "Prefix": "events/",
        },
    )
    _client("sesv2").create_email_identity(EmailIdentity=MAIL_FROM.rpartition("@")[2].rstrip(">"))
    ensure_token_key(
        secret_name=JWT_SECRET_NAME,
        stage=TEST_STAGE,
        kms=_client("kms"),
        secretsmanager=_client("secretsmanager"),
    )
