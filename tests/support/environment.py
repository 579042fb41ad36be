"""The environment every test process runs with: fake AWS credentials and Keyframe's settings."""

from __future__ import annotations

import os

from keyframe.storage.tables import TABLES

TEST_STAGE = "test"
MEDIA_BUCKET = "keyframe-test-media"
JWT_SECRET_NAME = "keyframe/test/jwt-signing-keys"
MAIL_FROM = "Keyframe <no-reply@keyframe.test>"
FRONTEND_URL = "https://app.keyframe.test"
WEBHOOK_QUEUE = "keyframe-test-webhook-deliveries"
"""The webhook delivery queue (``keyframe.webhooks.dispatch``), made by ``create_resources``."""
ANALYTICS_STREAM = "keyframe-test-analytics"
"""The analytics Firehose delivery stream (``keyframe.analytics.sink``), made by ``create_resources``."""
ANALYTICS_BUCKET = "keyframe-test-analytics"
"""Where moto's Firehose writes the analytics records (one object per put, under ``events/``)."""

BASE_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "STAGE": TEST_STAGE,
    "MEDIA_BUCKET": MEDIA_BUCKET,
    "JWT_SECRET_NAME": JWT_SECRET_NAME,
    "JWT_ISSUER": "https://keyframe.test",
    "JWT_AUDIENCE": "keyframe-api",
    "CORS_ALLOW_ORIGINS": "http://localhost:5173",
    "MAIL_FROM": MAIL_FROM,
    "PASSWORD_RESET_MIN_SECONDS": "0.2",
    "FRONTEND_URL": FRONTEND_URL,
    "WEBHOOK_QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/123456789012/{WEBHOOK_QUEUE}",
    "ANALYTICS_STREAM_NAME": ANALYTICS_STREAM,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "KeyframeTest",
    "POWERTOOLS_LOG_LEVEL": "INFO",  # exercise every log call (a reserved `extra` key crashes)
    "POWERTOOLS_DEV": "false",
    **{spec.env_var: spec.physical_name(TEST_STAGE) for spec in TABLES},
}


def apply() -> None:
    """Install :data:`BASE_ENV` into ``os.environ`` and drop any endpoint override."""
    os.environ.update(BASE_ENV)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(key, None)
