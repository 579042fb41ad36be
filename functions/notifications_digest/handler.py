"""Sends the daily notification digests (logic in keyframe.notifications.emails.send_digests).

An EventBridge rule invokes it once a day (``infra/digest.py``) with ``{}``: every day of the last
week not yet sent is sent, yesterday's included; ``{"day": "yyyy-mm-dd"}`` sends that day only (a run
by hand). Running it twice sends nothing twice (one marker per member and day).
"""

from keyframe.notifications.emails import send_digests
from keyframe.observability import logger, tracer


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Send the digests; returns ``{"digests": <e-mails SES accepted>}``."""
    day = event.get("day") if isinstance(event, dict) else None
    return {"digests": send_digests(day)}
