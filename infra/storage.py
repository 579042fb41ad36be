"""The media bucket (every studio's uploads, versions, renditions and renders) and its access logs.

Private (all public access blocked), TLS-only, encrypted with a customer-managed KMS key (rotated
yearly, S3 Bucket Key on to keep KMS calls cheap), versioned. Browsers talk to it with presigned URLs,
so CORS allows, from the configured origins:

- PUT of upload parts, exposing ``ETag`` (the client needs each part's ETag to complete the upload),
  and POST of a profile picture (a presigned POST, ``keyframe.identity.avatars``);
- GET and HEAD with a ``Range`` header (hls.js and ``<video>`` fetch render playlists, segments and
  review copies by range), exposing ``Content-Range``, ``Accept-Ranges`` and ``Content-Length``.

Both are one CORS rule: S3 answers with the *first* rule matching the origin and method, so a second
GET rule behind a rule that also allowed GET would never expose its headers.

Lifecycle: incomplete multipart uploads are aborted after 7 days; objects tagged
``keyframe-ephemeral=playback`` (the rewritten playlists of a render playback,
``keyframe.renders.playback``) expire after 1 day, their noncurrent versions one day later. Profile
pictures (``avatars/``, outside every studio's keys) are a person's data, not a studio's work: an upload
never used expires after a day (``avatars/uploads/``), a replaced or removed picture's noncurrent version
a day after it was replaced. Nothing else expires, and every noncurrent version is kept, only cheaper:
Standard-IA after :data:`NONCURRENT_TO_IA_DAYS` days, Glacier Instant Retrieval (milliseconds to read,
like IA) after :data:`NONCURRENT_TO_GLACIER_IR_DAYS`. The bytes of an original are sacred (an overwrite
or delete of ``studios/{id}/assets/{id}/uploads/...`` must stay recoverable for ever), and S3 lifecycle
filters are prefix- or tag-based while the studio id varies, so no prefix rule could expire only derived
and render files. Derived files are not overwritten anyway (a reprocess run writes under
``derived/run-{n}/``, ``keyframe.media.derive.derived_key``). Server access logs go to a separate logs
bucket (SSE-S3: log delivery cannot use KMS).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from keyframe.identity.avatars import UPLOADS_PREFIX as AVATAR_UPLOADS_PREFIX

NONCURRENT_TO_IA_DAYS = 30
"""Days a replaced or deleted version stays in S3 Standard before moving to Standard-IA."""
NONCURRENT_TO_GLACIER_IR_DAYS = 90
"""Days before a noncurrent version moves to Glacier Instant Retrieval (never expired)."""
ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7
UPLOAD_CORS_MAX_AGE_SECONDS = 3000
EPHEMERAL_TAG_KEY = "keyframe-ephemeral"
PLAYBACK_TAG_VALUE = "playback"
"""``keyframe-ephemeral=playback`` (``keyframe.renders.playback.EPHEMERAL_TAG``)."""
AVATARS_PREFIX = "avatars/"
"""Every profile picture and picture upload (``keyframe.identity.avatars``)."""
AVATAR_CLEANUP_DAYS = 1
"""An unused picture upload, and a replaced or removed picture's old version, go after this many days."""
PLAYBACK_EXPIRATION_DAYS = 1
"""Playback playlists are presigned for at most 12 h (``RENDER_PLAYBACK_TTL_SECONDS``); a day is ample."""
CORS_EXPOSED_HEADERS: tuple[str, ...] = ("ETag", "Content-Range", "Accept-Ranges", "Content-Length")


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    config: StageConfig,
    auto_delete_objects: bool,
    encryption: s3.BucketEncryption = s3.BucketEncryption.S3_MANAGED,
    **settings: Any,
) -> s3.Bucket:
    """A Keyframe bucket: all public access blocked, TLS 1.2+ only (``enforce_ssl``), objects owned by
    the bucket owner (ACLs off), encrypted (SSE-S3 unless ``encryption`` says otherwise), removed as the
    stage's ``removal_policy`` says.

    ``auto_delete_objects`` empties it when the stack is deleted (a custom resource): only on a disposable
    stage, and never for a bucket whose objects outlive the stack. ``settings`` are the rest of
    ``s3.Bucket``'s (key, versioning, lifecycle rules, CORS, access logs).
    """
    return s3.Bucket(
        scope,
        construct_id,
        encryption=encryption,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=config.removal_policy,
        auto_delete_objects=auto_delete_objects,
        **settings,
    )


class MediaStorage(Construct):
    """The media bucket, its KMS key and its access-log bucket.

    Attributes
    ----------
    bucket:
        The media bucket (``MEDIA_BUCKET``); every key is under ``studios/{studioId}/``.
    key:
        Its customer-managed KMS key.
    logs_bucket:
        Destination of the media bucket's server access logs.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.logs_bucket = secure_bucket(
            self,
            "AccessLogs",
            config=config,
            auto_delete_objects=config.is_disposable,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(config.defaults.access_log_retention_days),
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.logs_bucket,
            [
                {
                    "id": "AwsSolutions-S1",
                    "reason": "This is the access-log destination of the media bucket; logging it into "
                    "itself would loop and another bucket would only move the problem.",
                }
            ],
        )
        self.key = kms.Key(
            self,
            "MediaKey",
            description=f"{config.name}: encrypts the media bucket",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        self.bucket = secure_bucket(
            self,
            "Media",
            config=config,
            auto_delete_objects=config.is_disposable,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix="media/",
            cors=_upload_cors(config),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(
                        ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS
                    ),
                ),
                s3.LifecycleRule(
                    id="noncurrent-versions-to-cheaper-storage",
                    noncurrent_version_transitions=[
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(NONCURRENT_TO_IA_DAYS),
                        ),
                        s3.NoncurrentVersionTransition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(NONCURRENT_TO_GLACIER_IR_DAYS),
                        ),
                    ],
                ),
                # profile pictures (keyframe.identity.avatars): an upload never used goes after a
                # day; a replaced or removed picture is not kept (personal data, not a studio's work)
                s3.LifecycleRule(
                    id="expire-avatar-uploads",
                    prefix=AVATAR_UPLOADS_PREFIX,
                    expiration=Duration.days(AVATAR_CLEANUP_DAYS),
                ),
                s3.LifecycleRule(
                    id="purge-replaced-avatars",
                    prefix=AVATARS_PREFIX,
                    noncurrent_version_expiration=Duration.days(AVATAR_CLEANUP_DAYS),
                    expired_object_delete_marker=True,
                ),
                s3.LifecycleRule(
                    id="expire-playback-playlists",
                    tag_filters={EPHEMERAL_TAG_KEY: PLAYBACK_TAG_VALUE},
                    expiration=Duration.days(PLAYBACK_EXPIRATION_DAYS),
                    noncurrent_version_expiration=Duration.days(PLAYBACK_EXPIRATION_DAYS),
                ),
            ],
        )


def _upload_cors(config: StageConfig) -> list[s3.CorsRule] | None:
    """Uploads (PUT, ``ETag``) and playback (GET/HEAD with ``Range``), in one rule (see the module)."""
    if not config.cors_origins:
        return None
    return [
        s3.CorsRule(
            id="browser-uploads-and-playback",
            allowed_origins=list(config.cors_origins),
            allowed_methods=[
                s3.HttpMethods.PUT,
                s3.HttpMethods.POST,
                s3.HttpMethods.GET,
                s3.HttpMethods.HEAD,
            ],
            allowed_headers=["*"],
            exposed_headers=list(CORS_EXPOSED_HEADERS),
            max_age=UPLOAD_CORS_MAX_AGE_SECONDS,
        )
    ]
