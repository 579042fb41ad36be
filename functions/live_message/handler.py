"""WebSocket messages (``$default``; every action): validate, act, reply (keyframe.live.socket_messages)."""

from keyframe.live import hooks
from keyframe.live.socket_messages import on_message
from keyframe.observability import logger, metrics, tracer

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Answer ``{"statusCode": 200, "body": <one reply frame>}``; bad input gives an ``error`` frame."""
    return on_message(event)
