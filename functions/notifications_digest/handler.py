"""Sends the daily notification digests (logic in keyframe.notifications.emails.send_digests).

An EventBridge rule invokes it every hour (``infra/digest.py``) with ``{}``: every member's digest
that is due (07:00 local time the morning after their day) and not yet sent, over the last week;
``{"day": "yyyy-mm-dd"}`` sends that day's queue whether due or not (a run by hand). Running it twice
sends nothing twice (one marker per member and day).
"""

from keyframe.notifications.emails import send_digests
from keyframe.observability import logger, tracer


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Send the digests; returns ``{"digests": <e-mails SES accepted>}``."""
    day = event.get("day") if isinstance(event, dict) else None
    return {"digests": send_digests(day)}
