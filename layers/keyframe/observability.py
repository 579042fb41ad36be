"""The process-wide Powertools Logger, Tracer and Metrics.

Service name and namespace come from ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``
when set (CDK sets them per function), else ``keyframe`` / ``Keyframe``. Every log line carries the
request's correlation id once :func:`keyframe.http.app.KeyframeResolver.resolve` has set it.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "keyframe")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Keyframe"), service=SERVICE)
