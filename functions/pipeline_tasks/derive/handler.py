"""Asset pipeline task DeriveInLambda (Step Functions Lambda task; logic in
keyframe.pipeline.derive_step.derive_in_lambda): the fast path for sources up to 1 GiB."""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.pipeline import derive_step

hooks.install()  # pipeline:update events reach the uploader's sockets, as from the media container


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Probe the original and make its derivatives; returns {derivedIn: "lambda"}."""
    return derive_step.derive_in_lambda(event)
