"""WebSocket ``$connect``: store the connection and join it to the studio room (keyframe.live.sockets)."""

from keyframe.live import hooks
from keyframe.live.sockets import on_connect
from keyframe.observability import logger, metrics, tracer

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Answer ``{"statusCode": 200}`` once the connection is stored."""
    return on_connect(event)
