"""WebSocket ``$disconnect``: drop the connection and its rooms, announce presence:leave (keyframe.live)."""

from keyframe.live import hooks
from keyframe.live.sockets import on_disconnect
from keyframe.observability import logger, metrics, tracer

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Answer ``{"statusCode": 200}`` (also when the connection was already gone)."""
    return on_disconnect(event)
