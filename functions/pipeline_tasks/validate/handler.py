"""Asset pipeline task Validate (Step Functions Lambda task; logic in keyframe.pipeline.tasks.validate)."""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.pipeline import tasks

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Check the upload's real type, structure and SHA-256; returns {kind, format, contentType, size}."""
    return tasks.validate(event)
