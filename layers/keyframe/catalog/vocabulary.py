"""The catalog's vocabularies: what an asset is, where it and its versions stand, how lists sort.

Plain enums (no pydantic): other domains (renders, the pipeline, reviews) name these values without
loading the catalog's request and response models.
"""

from __future__ import annotations

from enum import StrEnum


class AssetType(StrEnum):
    """What an asset is."""

    CHARACTER = "CHARACTER"
    PROP = "PROP"
    ENVIRONMENT = "ENVIRONMENT"
    SHOT = "SHOT"
    RIG = "RIG"
    TEXTURE = "TEXTURE"
    AUDIO = "AUDIO"
    OTHER = "OTHER"


class Relationship(StrEnum):
    """What the dependency is *to* the asset that uses it: "B is the ``RIG_OF`` A" for the edge A uses B.

    ``REFERENCES`` (the default, and what edges made before relationships existed read as) says only
    that A uses B.
    """

    REFERENCES = "REFERENCES"
    RIG_OF = "RIG_OF"
    MODEL_OF = "MODEL_OF"
    TEXTURE_OF = "TEXTURE_OF"
    LAYOUT_OF = "LAYOUT_OF"
    ANIMATION_OF = "ANIMATION_OF"
    AUDIO_OF = "AUDIO_OF"
    CACHE_OF = "CACHE_OF"


class AssetStatus(StrEnum):
    """Where an asset stands in review."""

    IN_PROGRESS = "IN_PROGRESS"
    PENDING_REVIEW = "PENDING_REVIEW"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    APPROVED = "APPROVED"


class VersionStatus(StrEnum):
    """Where a version stands in the asset pipeline."""

    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


class ReviewStatus(StrEnum):
    """The review decision on one version."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"


class SortKey(StrEnum):
    """Sort orders of the asset list."""

    CREATED_AT = "createdAt"
    UPDATED_AT = "updatedAt"
    NAME = "name"


class SortOrder(StrEnum):
    """Ascending or descending."""

    ASC = "asc"
    DESC = "desc"
