"""REST: /auth/*, /me, /me/studios, /studio/invitations, /studio/members (keyframe.identity.routes)."""

from keyframe.live import hooks
from keyframe.observability import logger, metrics, tracer
from keyframe.registry import build_api

hooks.install()  # live delivery (sockets) registers with the event publisher at the handler's start

app = build_api("identity-api")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Resolve an API Gateway REST proxy event."""
    return app.resolve(event, context)
