"""Step Functions task of the render state machine (the Catch): the attempt failed -> FAILED with the
reason; also the target of the safety-net EventBridge rule. Logic in keyframe.renders.tasks.mark_failed."""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.renders import tasks

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """``{studioId, renderJobId, attempt, error: {Error, Cause}}`` -> ``{"status"}``."""
    return tasks.mark_failed(event)
