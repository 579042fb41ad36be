"""Id parameters of the REST routes: one rule for every id a path, query string, body or socket
message carries.

An id is 1 to 64 letters, digits and ``-`` (:data:`keyframe.schemas.ID_PATTERN`, which bodies and
socket messages share as :data:`keyframe.schemas.Identifier`); anything else answers 400
``VALIDATION_ERROR`` before the route runs, and the OpenAPI document shows the rule on the
parameter. A route module names its ids with the ready aliases or with :func:`path_id`::

    AssetId  # the asset (catalog, versions, graph, renders, uploads, favorites, pipeline, reviews)
    PolicyId = Annotated[str, path_id("the render policy")]

    def get_render_policy(projectId: ProjectId, policyId: PolicyId) -> RenderPolicy: ...
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from keyframe.schemas import ID_MAX_LENGTH, ID_PATTERN


def path_id(description: str) -> Path:
    """The ``Path`` metadata of an id in a route's path, for ``Annotated[str, path_id(...)]``.

    ``description`` (what the id names, e.g. ``"the asset"``) goes on the parameter and on its
    schema in the OpenAPI document. A value of 0 or more than :data:`ID_MAX_LENGTH` characters, or
    one that breaks :data:`ID_PATTERN`, answers 400 ``VALIDATION_ERROR``.
    """
    return Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description=description)


def query_id() -> Query:
    """The ``Query`` metadata of an optional id filter, for ``Annotated[str | None, query_id()]``.

    Same rule as :func:`path_id` (400 ``VALIDATION_ERROR`` otherwise), no description.
    """
    return Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)


AssetId = Annotated[str, path_id("the asset")]
"""An asset's id in a path (``/assets/{assetId}/...``)."""

ProjectId = Annotated[str, path_id("the project")]
"""A project's id in a path (``/projects/{projectId}/...``)."""

RenderJobId = Annotated[str, path_id("the render job")]
"""A render job's id in a path (``/renders/{renderJobId}``, ``/me/playback/{renderJobId}``)."""
