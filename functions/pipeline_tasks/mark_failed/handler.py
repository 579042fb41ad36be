"""Asset pipeline task MarkFailed (Step Functions Lambda task), also the target of the safety-net
EventBridge rule (an execution that ended FAILED, TIMED_OUT or ABORTED outside its Catch).

Logic in keyframe.pipeline.tasks.mark_failed.
"""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.pipeline import tasks

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Fail the pipeline (and a published version) with a code and message; also takes a "Step
    Functions Execution Status Change" event (the safety net).

    Returns ``{code, message, failedStep}``.
    """
    return tasks.mark_failed(event)
