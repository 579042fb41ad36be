"""REST: /health, /ready, /openapi.json, /docs (routes in keyframe.http.meta)."""

from keyframe.observability import logger, metrics, tracer
from keyframe.registry import build_api

app = build_api("meta-api")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Resolve an API Gateway REST proxy event."""
    return app.resolve(event, context)
