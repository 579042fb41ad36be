"""``Idempotency-Key`` on ``POST /assets/{assetId}/renders``, with Powertools Idempotency.

A request carrying ``Idempotency-Key: <value>`` (1-255 printable characters) is keyed by
``(studio, user, value)``; its body is the payload Powertools validates:

- the first request creates the job; Powertools stores ``{"renderJobId"}`` for
  ``RENDER_IDEMPOTENCY_TTL_SECONDS`` (default 24 h) in ``IDEMPOTENCY_TABLE``
  (``DynamoDBPersistenceLayer``: ``id`` + ``expiration``);
- a replay with the same body returns the SAME job (read fresh, so its current status) with
  ``Idempotency-Replayed: true``, and no second job, slot or execution;
- a replay with a DIFFERENT body answers **409** ``IDEMPOTENCY_KEY_REUSED`` (Powertools'
  ``IdempotencyValidationError``). 409 rather than 422: the key is already bound to another request,
  a conflict with stored state, and the API maps every such clash to 409;
- while the first request is still running, a concurrent replay answers 409
  ``IDEMPOTENCY_IN_PROGRESS`` (retry shortly);
- a first request that FAILS (400/404/409/429) stores nothing: the same key may be used again.

The same key from another user or studio is a different key (it never returns someone else's job).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from keyframe.errors import Conflict, InvalidInput
from keyframe.renders.config import IdempotencySettings
from keyframe.settings import load

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

_fresh: ContextVar[bool] = ContextVar("keyframe_render_idempotency_fresh", default=False)


def check_key(value: str) -> str:
    """The header value, validated.

    Raises
    ------
    InvalidInput
        ``INVALID_IDEMPOTENCY_KEY``: empty, longer than 255 characters, or not printable ASCII.
    """
    if not value or len(value) > MAX_KEY_LENGTH or not all(32 < ord(c) < 127 for c in value):
        raise InvalidInput(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters without spaces",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return value


def run_once(
    *,
    studio_id: str,
    user_id: str,
    key: str,
    body: dict[str, Any],
    create: Callable[[], str],
    lambda_context: Any = None,
) -> tuple[str, bool]:
    """Run ``create`` once per ``(studio_id, user_id, key)``.

    Parameters
    ----------
    body:
        The request body (JSON-ready); a replay must send the same.
    create:
        Creates the job and returns its id.
    lambda_context:
        The invocation's context (Powertools bounds an in-progress record by the remaining time).

    Returns
    -------
    tuple
        ``(renderJobId, replayed)``.

    Raises
    ------
    Conflict
        ``IDEMPOTENCY_KEY_REUSED`` (same key, different body) or ``IDEMPOTENCY_IN_PROGRESS``.
    """
    settings = load(IdempotencySettings)
    config = IdempotencyConfig(
        event_key_jmespath="[studioId, userId, key]",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.RENDER_IDEMPOTENCY_TTL_SECONDS,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    persistence = DynamoDBPersistenceLayer(table_name=settings.IDEMPOTENCY_TABLE)

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=persistence,
        config=config,
        key_prefix="render-request",
    )
    def create_once(request: dict[str, Any]) -> dict[str, str]:
        _fresh.set(True)
        return {"renderJobId": create()}

    token = _fresh.set(False)
    try:
        result = create_once(request={"studioId": studio_id, "userId": user_id, "key": key, "body": body})
        return str(result["renderJobId"]), not _fresh.get()
    except IdempotencyValidationError as exc:
        raise Conflict(
            f"This {HEADER} was already used for a different request; use a new key",
            code="IDEMPOTENCY_KEY_REUSED",
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict(
            f"A request with this {HEADER} is still being processed; try again in a moment",
            code="IDEMPOTENCY_IN_PROGRESS",
        ) from exc
    finally:
        _fresh.reset(token)
