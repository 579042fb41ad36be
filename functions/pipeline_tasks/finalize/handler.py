"""Asset pipeline task Finalize (Step Functions Lambda task; logic in keyframe.pipeline.tasks.finalize)."""

from keyframe.favorites import notices
from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.pipeline import tasks

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start
notices.install()  # a new READY version notifies the members who favourited its asset


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Mark the version READY with its media metadata and derived keys; returns {version, status}."""
    return tasks.finalize(event)
