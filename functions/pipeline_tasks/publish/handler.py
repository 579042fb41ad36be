"""Asset pipeline task Publish (Step Functions Lambda task; logic in keyframe.pipeline.tasks.publish)."""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.pipeline import tasks

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Publish the upload as the asset's next version (PROCESSING); returns {version}."""
    return tasks.publish(event)
