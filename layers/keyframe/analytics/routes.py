"""REST route of client analytics events (served by ``reviews-api``: a review UI's telemetry, no
function of its own, so the main stack stays under CloudFormation's 500 resources).

``POST /analytics/events`` asks for ``analytics:send``, which every role holds (VIEWER included:
viewers are who plays renders). The studio and member of every record are the token's.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from keyframe.analytics.schemas import AcceptedEvents, ClientEventBatch
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.identity.permissions import Permission

router = Router()


@router.post(
    "/analytics/events",
    status_code=202,
    tags=["analytics"],
    summary="Record a batch of 1-100 client events (playback, views): fire-and-forget",
    operation_id="sendAnalyticsEvents",
    openapi_extensions=answers("SERVICE_UNAVAILABLE"),
)
def send_analytics_events(body: ClientEventBatch) -> Response[AcceptedEvents]:
    """202 ``{accepted, ids}``: the events will be recorded (nothing to poll).

    400 ``VALIDATION_ERROR`` naming the event's index (``events.3.type`` for an unknown type,
    ``events.100`` for a batch over 100); 429 ``TOO_MANY_REQUESTS`` over the member's events per
    minute (``Retry-After``); 503 ``SERVICE_UNAVAILABLE`` when the sink refused them (send again).
    """
    from keyframe.analytics import service

    principal = authorize(Permission.ANALYTICS_SEND)
    accepted = service.record_client_events(principal.studio_id, principal.user_id, body.events)
    return Response(status_code=202, content_type="application/json", body=accepted)
