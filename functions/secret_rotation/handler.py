"""Rotates the signing secret on Secrets Manager's schedule (logic in keyframe.identity.secret_rotation).

Secrets Manager calls it once per step (createSecret, setSecret, testSecret, finishSecret) with
``{"Step", "SecretId", "ClientRequestToken"}``; a raised error fails that step and leaves the
current version in place.
"""

from keyframe.identity.secret_rotation import SecretRotation
from keyframe.observability import logger, tracer


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event, context):
    """Run one rotation step of the secret named in ``event``; returns nothing."""
    SecretRotation().handle(event)
