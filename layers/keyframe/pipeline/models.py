"""The pipeline record: one item per upload in the UPLOADS table, holding the current run's steps.

Keys (the uploads domain's own items use ``…#UPLOAD#…``):

=======  =====================================================  ==============================
pk       ``STUDIO#{studioId}#PIPELINE#{uploadId}``               one record per upload
sk       ``PIPELINE``
gsi1pk   ``STUDIO#{studioId}#ASSET#{assetId}#VERSION#{n:08d}``   find the pipeline of a version
gsi1sk   ``PIPELINE``                                            (set once published)
=======  =====================================================  ==============================

``steps`` maps a step name (:data:`STEPS`) to ``{status, startedAt?, endedAt?, attempts?, error?}``.
A reprocess run (``run`` > 1) resets the record's steps; the pipeline keeps one record per upload. The
version of a READY upload stays READY during a reprocess: the rerun's progress and any failure live
here (``status``, ``steps``, ``error``), and the version only changes when the rerun's Finalize succeeds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pynamodb.attributes import JSONAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.schemas import Identifier
from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import UPLOADS

STEPS: tuple[str, ...] = ("validate", "publish", "derive", "finalize")
"""The pipeline's steps, in order (what ``GET …/pipeline`` lists)."""

PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED"
ACTIVE_STATUSES = frozenset({PENDING, RUNNING})
RECORD_SK = "PIPELINE"


def record_pk(studio_id: str, upload_id: str) -> str:
    """``STUDIO#{studioId}#PIPELINE#{uploadId}``."""
    return f"STUDIO#{studio_id}#PIPELINE#{upload_id}"


def version_key(studio_id: str, asset_id: str, version: int) -> str:
    """``STUDIO#{studioId}#ASSET#{assetId}#VERSION#{version:08d}`` (gsi1pk of a published upload)."""
    return f"STUDIO#{studio_id}#ASSET#{asset_id}#VERSION#{int(version):08d}"


class PipelineRecord(Model):
    """One upload's pipeline. Table: UPLOADS."""

    Meta = table_meta(UPLOADS)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=RECORD_SK)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(UPLOADS, 1)()

    studio_id = UnicodeAttribute(attr_name="studioId")
    asset_id = UnicodeAttribute(attr_name="assetId")
    upload_id = UnicodeAttribute(attr_name="uploadId")
    bucket = UnicodeAttribute()
    key = UnicodeAttribute()
    size = NumberAttribute()
    file_name = UnicodeAttribute(attr_name="fileName")
    declared_content_type = UnicodeAttribute(attr_name="declaredContentType", null=True)
    sha256 = UnicodeAttribute(null=True)
    change_note = UnicodeAttribute(attr_name="changeNote", null=True)
    created_by = UnicodeAttribute(attr_name="createdBy")
    requested_by = UnicodeAttribute(attr_name="requestedBy", null=True)
    """Who asked for the current reprocess run (``None`` for the first run: ``created_by`` uploaded)."""

    status = UnicodeAttribute(default=PENDING)
    run = NumberAttribute(default=1)
    execution_arn = UnicodeAttribute(attr_name="executionArn", null=True)
    started_at = UnicodeAttribute(attr_name="startedAt")
    ended_at = UnicodeAttribute(attr_name="endedAt", null=True)
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    steps: MapAttribute = MapAttribute(default=dict)
    error = JSONAttribute(null=True)
    revision = NumberAttribute(null=True)
    """1 at the create, + 1 with every write (the ``revision`` of ``pipeline:update``); ``None`` on a
    record stored before revisions were counted (its next write makes it 1)."""

    version = NumberAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    format = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute(attr_name="contentType", null=True)
    media = JSONAttribute(null=True)
    derived = JSONAttribute(null=True)

    def step(self, name: str) -> dict:
        """The raw state of step ``name`` (``{"status": "PENDING"}`` when never touched)."""
        raw = self.steps.as_dict() if hasattr(self.steps, "as_dict") else dict(self.steps or {})
        return dict(raw.get(name) or {"status": PENDING})


class PipelineInput(BaseModel):
    """A completed upload, as the uploads domain hands it to the pipeline.

    Attributes
    ----------
    studio_id, asset_id, upload_id:
        Whose upload, for which asset; ``upload_id`` names the execution.
    bucket, key:
        Where the original is (``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}``).
    size:
        Bytes, as completed.
    file_name, declared_content_type:
        What the client claimed (checked against the bytes by Validate).
    sha256:
        The whole file's SHA-256 the client declared (hex), checked by Validate; ``None`` to skip.
    change_note, created_by:
        Carried to the published version.
    """

    model_config = ConfigDict(frozen=True)

    studio_id: str = Field(min_length=1)
    asset_id: str = Field(min_length=1)
    upload_id: Identifier
    bucket: str = Field(min_length=3)
    key: str = Field(min_length=1)
    size: int = Field(ge=0)
    file_name: str = Field(min_length=1)
    declared_content_type: str | None = None
    sha256: str | None = None
    change_note: str | None = None
    created_by: str = Field(min_length=1)
