"""The outbox's stream consumer (DynamoDB Streams of the catalog table; logic in keyframe.outbox.stream).

Delivers every stored domain event to the rooms (socket fan-out), queues its webhook deliveries and
the renders it causes (render policies, re-render on change: keyframe.renders.triggers), and records
the analytics server events (uploads, finished renders, review decisions: keyframe.analytics).
Returns Lambda's ``batchItemFailures`` so a failed event and those after it come again.
"""

from keyframe.analytics import consumer as analytics
from keyframe.events import publisher
from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.outbox import stream
from keyframe.renders import triggers
from keyframe.webhooks import dispatch

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start
stream.register("rooms", publisher.publish)
stream.register("webhooks", dispatch.consume)
stream.register("renders", triggers.consume)  # render policies and re-render on change
stream.register("analytics", analytics.consume)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Consume a batch of stream records; returns ``{"batchItemFailures": [...]}``."""
    return stream.handle(event)
