"""Step Functions task of the render state machine: the Batch job succeeded -> SUCCEEDED (or FAILED
when the container stored no outputs); for a scene render also its plan step (the chunk count). Logic in
keyframe.renders.tasks.finalize and plan_chunks."""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.renders import tasks

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """``{studioId, renderJobId, attempt, batch}`` -> ``{"status"}``; a scene render's plan step
    ``{task: "planChunks", studioId, renderJobId, attempt}`` -> ``{"size"}`` (the chunk count)."""
    return tasks.finalize_or_plan(event)
