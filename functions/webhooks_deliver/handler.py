"""Webhook deliveries (SQS messages of the delivery queue; logic in keyframe.webhooks.dispatch).

Each message is one attempt: sign, POST within 10 s, record it, schedule the retry or give up.
Returns Lambda's ``batchItemFailures`` for messages whose handling failed (DynamoDB or SQS errors).
"""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.webhooks import dispatch

hooks.install()  # disabling an endpoint announces webhook:disabled to the studio room


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Attempt each delivery message; returns ``{"batchItemFailures": [...]}``."""
    return dispatch.handle_queue(event)
