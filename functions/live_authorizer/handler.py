"""WebSocket ``$connect`` REQUEST authorizer: consume the single-use ticket (keyframe.live.sockets)."""

from keyframe.live.sockets import authorize_connect
from keyframe.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Allow with the ticket's studio, user and role in the context, or raise ``Unauthorized``."""
    return authorize_connect(event)
