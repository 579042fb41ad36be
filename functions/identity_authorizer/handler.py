"""API Gateway REST TOKEN authorizer (logic in keyframe.identity.authorizer)."""

from keyframe.identity.authorizer import authorize_token
from keyframe.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Allow with the caller's studio, user and role in the context, or raise ``Unauthorized``."""
    return authorize_token(event)
