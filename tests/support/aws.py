"""Create Keyframe's AWS resources on moto (``mock_aws``) from the same definitions CDK uses."""

from __future__ import annotations

import json
import secrets

import boto3

from keyframe.identity.token_keys import ensure_token_key
from keyframe.local.atomic import make_dynamodb_atomic
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


def create_resources() -> None:
    """Tables from ``keyframe.storage.tables``, the media bucket, the signing secret and its first
    KMS token key (``keyframe.identity.token_keys``), the webhook delivery queue, the analytics Firehose
    delivery stream (to its own bucket, ``events/``), the SES identity of
    ``MAIL_FROM`` (moto's SES then keeps what :func:`keyframe.mail.send` sends).

    Every moto world (per test or per module) gets DynamoDB as the local stack has it: atomic
    requests and transactions that cost what they touch (:mod:`keyframe.local.atomic`).
    """
    make_dynamodb_atomic()
    create_tables(boto3.client("dynamodb"), TEST_STAGE)
    boto3.client("s3").create_bucket(Bucket=MEDIA_BUCKET)
    boto3.client("secretsmanager").create_secret(
        Name=JWT_SECRET_NAME,
        SecretString=json.dumps({"kid": "test-key-1", "secret": secrets.token_urlsafe(48)}),
    )
    boto3.client("sqs").create_queue(QueueName=WEBHOOK_QUEUE)
    boto3.client("s3").create_bucket(Bucket=ANALYTICS_BUCKET)
    boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName=ANALYTICS_STREAM,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/keyframe-test-analytics",
            "BucketARN": f"arn:aws:s3:::{ANALYTICS_BUCKET}",
            "Prefix": "events/",
        },
    )
    boto3.client("sesv2").create_email_identity(EmailIdentity=MAIL_FROM.rpartition("@")[2].rstrip(">"))
    ensure_token_key(
        secret_name=JWT_SECRET_NAME,
        stage=TEST_STAGE,
        kms=boto3.client("kms"),
        secretsmanager=boto3.client("secretsmanager"),
    )
