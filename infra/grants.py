"""Least privilege: what each Lambda function may do, in one explicit table (:data:`GRANTS`).

Every function in ``keyframe.registry.FUNCTIONS`` must have an entry here, even an empty one; the
synth fails otherwise, so a new function gets no AWS access until someone writes down what it needs.
Each entry lists small, named accesses; the IAM actions behind them are spelled out below (no
``dynamodb:*``, no Scan). The containers' AWS Batch jobs have the same kind of table,
:data:`JOB_GRANTS`, keyed by job definition name (``infra.batch.BatchJobs.grant``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo

from infra.analytics import stream_name as analytics_stream_name
from infra.live import LiveApi
from infra.tables import Tables
from keyframe.live.models import connection_pk, ticket_pk
from keyframe.outbox.records import outbox_pk
from keyframe.storage.activity import activity_pk
from keyframe.storage.tables import (
    CATALOG,
    FAVORITES,
    IDEMPOTENCY,
    LIVE,
    RENDERS,
    TENANTS,
    UPLOADS,
    TableSpec,
)

TABLE_READ_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
"""Reads by key or query (a transaction's condition checks count as reads). No Scan."""

TABLE_WRITE_ACTIONS: tuple[str, ...] = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:DescribeTable",
)
"""Writes, including those inside ``TransactWriteItems`` (IAM checks each item's own action)."""


@dataclass(frozen=True)
class Resources:
    """The stack resources a grant can name.

    ``webhook_queue`` is the webhook delivery queue (``infra/outbox.py``).
    ``state_machines`` maps a state machine's stem (``asset_pipeline`` for
    ``statemachines/asset_pipeline.asl.json``) to the deployed state machine.
    """

    tables: Tables
    media_bucket: s3.IBucket
    signing_secret: secretsmanager.ISecret
    live: LiveApi
    stage: str = ""
    state_machines: Mapping[str, sfn.IStateMachine] = field(default_factory=dict)
    webhook_queue: sqs.IQueue | None = None
    mail_identity_arn: str | None = None
    mail_from_address: str | None = None

    def state_machine(self, stem: str) -> sfn.IStateMachine:
        """The state machine of ``statemachines/<stem>.asl.json``.

        Raises
        ------
        LookupError
            The stack has not registered it in :meth:`infra.stack.KeyframeStack.resources`.
        """
        try:
            return self.state_machines[stem]
        except KeyError:
            raise LookupError(
                f"No state machine {stem!r} in Resources.state_machines "
                f"(known: {sorted(self.state_machines)}); add it in KeyframeStack.resources()"
            ) from None


class Access(Protocol):
    """One named permission; ``apply`` adds it to ``grantee``'s policy."""

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant this access on ``resources`` to ``grantee``."""


@dataclass(frozen=True)
class TableAccess:
    """Actions on one table and its indexes."""

    table: TableSpec
    actions: tuple[str, ...]

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant :attr:`actions` on the table and ``<table>/index/*``."""
        resources.tables[self.table].grant(grantee, *self.actions)


def read(table: TableSpec) -> TableAccess:
    """Get/Query/BatchGet/ConditionCheck on ``table``."""
    return TableAccess(table, TABLE_READ_ACTIONS)


def write(table: TableSpec) -> TableAccess:
    """Put/Update/Delete/BatchWrite on ``table`` (no reads)."""
    return TableAccess(table, TABLE_WRITE_ACTIONS)


def read_write(table: TableSpec) -> TableAccess:
    """Reads and writes on ``table``."""
    return TableAccess(table, tuple(dict.fromkeys(TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS)))


@dataclass(frozen=True)
class DescribeTables:
    """``dynamodb:DescribeTable`` on every table (the readiness probe); no data access."""

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant DescribeTable on each table ARN."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:DescribeTable"],
                resources=[table.table_arn for _, table in resources.tables.items()],
            )
        )


@dataclass(frozen=True)
class HeadMediaBucket:
    """``HeadBucket`` on the media bucket (IAM action ``s3:ListBucket`` on the bucket ARN only)."""

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant s3:ListBucket on the bucket itself (no object access)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[resources.media_bucket.bucket_arn])
        )


@dataclass(frozen=True)
class TableItems:
    """Item actions on one table, limited to partitions whose key matches ``leading_keys``.

    IAM's ``dynamodb:LeadingKeys`` condition holds the partition key of each item a request touches
    (each item of a ``TransactWriteItems`` too), so ``TableItems(CATALOG, ("dynamodb:PutItem",),
    "STUDIO#*#ACTIVITY")`` may append activity entries but cannot overwrite an asset or a version.
    No index access: the actions here name items by key.
    """

    table: TableSpec
    actions: tuple[str, ...]
    leading_keys: str

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant :attr:`actions` on the table ARN when every partition key is like :attr:`leading_keys`."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(self.actions),
                resources=[resources.tables[self.table].table_arn],
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [self.leading_keys]}},
            )
        )


def append_activity() -> TableItems:
    """``keyframe.catalog.activity.record``: PutItem on the catalog's activity partitions only."""
    return TableItems(CATALOG, ("dynamodb:PutItem",), activity_pk("*"))


@dataclass(frozen=True)
class MediaObjects:
    """Object actions on the media bucket under ``prefix``, with the bucket key's encrypt/decrypt.

    A narrower ``prefix`` than ``studios/*`` brings its own cdk-nag explanation (the key shape is the
    limit: studio, asset and job ids exist only at run time).
    """

    actions: tuple[str, ...]
    prefix: str = "studios/*"

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant :attr:`actions` on ``<bucket>/<prefix>`` and Decrypt/GenerateDataKey on its KMS key."""
        bucket = resources.media_bucket
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(self.actions), resources=[bucket.arn_for_objects(self.prefix)])
        )
        if bucket.encryption_key is not None:
            bucket.encryption_key.grant(grantee, "kms:Decrypt", "kms:GenerateDataKey")
        if self.prefix != "studios/*":
            explain_wildcard(
                grantee,
                f"Media keys have the shape '{self.prefix}' with ids known only at run time (the studio "
                "comes from the verified caller or the job record); the grant names that shape, never "
                "the whole bucket.",
                RegexAppliesTo(regex=f"/^Resource::<.+\\.?Arn>\\/{_js_regex(self.prefix)}$/g"),
            )


@dataclass(frozen=True)
class ListMediaKeys:
    """``s3:ListBucket`` on the media bucket, only for listings under ``prefix`` (``s3:prefix``).

    Enough to list an attempt's outputs before deleting them; it does not make ``HeadObject`` of a
    missing key answer 404 (that is :class:`HeadMediaBucket`, which lists without a prefix).
    """

    prefix: str

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant ListBucket on the bucket ARN with ``StringLike s3:prefix``."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[resources.media_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [self.prefix]}},
            )
        )


@dataclass(frozen=True)
class TerminateBatchJobs:
    """``batch:TerminateJob`` on this account's Batch jobs in the stack's region (stop a render's container).

    ``TerminateJob`` authorizes on the job ARN (``job/{jobId}``); job ids exist only at run time and the
    action offers no queue or definition condition, so the grant names ``job/*``.
    """

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant TerminateJob on ``arn:<partition>:batch:<region>:<account>:job/*``."""
        jobs = Stack.of(resources.media_bucket).format_arn(
            service="batch", resource="job", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["batch:TerminateJob"], resources=[jobs])
        )
        explain_wildcard(
            grantee,
            "batch:TerminateJob authorizes on the job ARN only (no queue or definition condition) and "
            "job ids exist only at run time: 'job/*' of this account and region; the caller terminates "
            "the job id it recorded on the render job.",
            RegexAppliesTo(
                regex="/^Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job\\/\\*$/g"
            ),
        )


def _js_regex(text: str) -> str:
    """``text`` as a literal inside a ``/.../`` JavaScript regex (cdk-nag's ``RegexAppliesTo``)."""
    return re.sub(r"([\\^$.|?*+()\[\]{}/])", r"\\\1", text)


def explain_wildcard(grantee: iam.IGrantable, reason: str, applies_to: RegexAppliesTo) -> None:
    """Suppress cdk-nag's ``AwsSolutions-IAM5`` for the wildcard ``applies_to`` on ``grantee``'s policy.

    The grant and the reason for its wildcard stay together; the suppression lands on the grantee's
    default policy only (where the statement is), never on the whole stack.
    """
    principal = grantee.grant_principal
    node = getattr(principal, "node", None)
    policy = node.try_find_child("DefaultPolicy") if node is not None else None
    if policy is None:
        return
    NagSuppressions.add_resource_suppressions(
        policy,
        [NagPackSuppression(id="AwsSolutions-IAM5", reason=reason, applies_to=[applies_to])],
        apply_to_children=True,
    )


MULTIPART_UPLOAD_ACTIONS: tuple[str, ...] = (
    "s3:PutObject",  # CreateMultipartUpload, UploadPart (presigned), CompleteMultipartUpload
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:GetObject",  # HeadObject of the completed object
    "s3:DeleteObject",  # an upload whose size does not match its declaration
)


@dataclass(frozen=True)
class ReadSigningSecret:
    """GetSecretValue/DescribeSecret on the JWT signing secret."""

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant read on the signing secret (and its key, were it customer-managed)."""
        resources.signing_secret.grant_read(grantee)


TOKEN_KEY_TAG = "keyframe:token-key"
"""Tag of every access-token KMS key (value: the stage); ``keyframe.identity.token_keys.KMS_TAG``."""


@dataclass(frozen=True)
class TokenKeyAccess:
    """``actions`` on the stage's access-token KMS keys: the stack's first key and every key a
    rotation creates later (``keyframe.identity.token_keys.rotate``), found by their tag.

    ``kms:Sign`` for the identity function only (it alone issues tokens); ``kms:GetPublicKey`` for
    the functions that verify tokens or publish the JWKS.
    """

    actions: tuple[str, ...]

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant :attr:`actions` on ``key/*`` of this account and region, tagged with the stage."""
        stack = Stack.of(resources.media_bucket)
        keys = stack.format_arn(
            service="kms", resource="key", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(self.actions),
                resources=[keys],
                conditions={"StringEquals": {f"aws:ResourceTag/{TOKEN_KEY_TAG}": resources.stage}},
            )
        )
        explain_wildcard(
            grantee,
            f"{', '.join(self.actions)} on the access-token keys: a rotation creates new KMS keys at run "
            f"time, so 'key/*' of this account and region, limited by the condition to keys tagged "
            f"{TOKEN_KEY_TAG}=<stage> (only the stack and the rotation tag keys so).",
            RegexAppliesTo(
                regex="/^Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key\\/\\*$/g"
            ),
        )


SIGN_TOKENS = TokenKeyAccess(("kms:Sign", "kms:GetPublicKey"))
VERIFY_TOKENS = TokenKeyAccess(("kms:GetPublicKey",))

AUTHENTICATES: tuple[Access, ...] = (
    TableAccess(TENANTS, ("dynamodb:BatchGetItem",)),
    ReadSigningSecret(),
    VERIFY_TOKENS,
)
"""What ``keyframe.identity.authorizer.authenticate`` needs in every API function: the keyring
(signing secret), the token keys' public halves (KMS) and one consistent BatchGetItem of the
caller's membership and session (tenants table)."""


@dataclass(frozen=True)
class ManageLiveConnections:
    """``execute-api:ManageConnections`` on the live WebSocket stage, for ``methods`` of ``@connections``.

    ``POST`` is ``PostToConnection`` (every fan-out), ``DELETE`` is ``DeleteConnection`` (closing a
    removed member's sockets), ``GET`` is ``GetConnection`` (nobody uses it).
    """

    methods: Sequence[str] = ("POST",)

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant the ``@connections`` management API of the live stage for :attr:`methods` only."""
        resources.live.grant_manage_connections(grantee, methods=tuple(self.methods))


@dataclass(frozen=True)
class SendMail:
    """``ses:SendEmail``/``ses:SendRawEmail`` from the stage's SES identity, From ``no-reply@<domain>`` only.

    ``keyframe.mail.send`` (SES v2 ``SendEmail`` with raw content) is authorized on the identity ARN;
    the ``ses:FromAddress`` condition keeps a function from sending as anyone else of the domain.
    """

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant sending on :attr:`Resources.mail_identity_arn`.

        Raises
        ------
        LookupError
            The stack registered no mail identity in :meth:`infra.stack.KeyframeStack.resources`.
        """
        if not resources.mail_identity_arn or not resources.mail_from_address:
            raise LookupError("No mail identity in Resources; add it in KeyframeStack.resources()")
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[resources.mail_identity_arn],
                conditions={"StringEquals": {"ses:FromAddress": resources.mail_from_address}},
            )
        )


@dataclass(frozen=True)
class StartStateMachine:
    """``states:StartExecution`` on one state machine, ``execution_actions`` on its executions only.

    The function also gets the machine's ARN as ``<STEM>_STATE_MACHINE_ARN`` (the workflow construct
    sets it on every function whose entry lists this access: :func:`starters`).
    """

    stem: str
    execution_actions: tuple[str, ...] = ("states:DescribeExecution",)

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant StartExecution on the machine and the execution actions on ``execution:<name>:*``."""
        machine = resources.state_machine(self.stem)
        machine.grant_start_execution(grantee)
        if self.execution_actions:
            machine.grant_execution(grantee, *self.execution_actions)


def starters(stem: str, grants: Mapping[str, tuple[Access, ...]] | None = None) -> list[str]:
    """The functions whose GRANTS entry may start state machine ``stem`` (in table order)."""
    table = GRANTS if grants is None else grants
    return [
        name
        for name, accesses in table.items()
        if any(isinstance(access, StartStateMachine) and access.stem == stem for access in accesses)
    ]


def append_outbox() -> TableItems:
    """``keyframe.outbox.records``: PutItem on the catalog's outbox partitions only (the durable events)."""
    return TableItems(CATALOG, ("dynamodb:PutItem",), outbox_pk("*"))


WEBHOOK_ITEM_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
)
"""What the webhook routes do to endpoint and delivery items (no Scan, no other partitions)."""


def webhook_items(actions: tuple[str, ...]) -> TableItems:
    """``actions`` on the catalog's webhook partitions only: ``STUDIO#*#WEBHOOKS`` (endpoints) and
    ``STUDIO#*#WEBHOOK#*#DELIVERIES`` (deliveries), both matched by ``STUDIO#*#WEBHOOK*``."""
    return TableItems(CATALOG, actions, "STUDIO#*#WEBHOOK*")


@dataclass(frozen=True)
class SendWebhookDeliveries:
    """``sqs:SendMessage`` on the webhook delivery queue, and its URL as ``WEBHOOK_QUEUE_URL``."""

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant SendMessage on :attr:`Resources.webhook_queue` and set the function's variable.

        Raises
        ------
        LookupError
            The stack has not created the queue yet (``infra/outbox.py`` makes it).
        """
        queue = resources.webhook_queue
        if queue is None:
            raise LookupError("Resources.webhook_queue is not set: infra/outbox.py creates it")
        queue.grant_send_messages(grantee)
        if isinstance(grantee, lambda_.Function):
            grantee.add_environment("WEBHOOK_QUEUE_URL", queue.queue_url)


@dataclass(frozen=True)
class PutAnalyticsRecords:
    """``firehose:PutRecordBatch`` on the analytics stream, and its name as ``ANALYTICS_STREAM_NAME``.

    The stream (``infra/analytics.py``, a nested stack) has a fixed name, ``<stage name>-analytics``,
    so the grant names its ARN without a reference to the nested stack.
    """

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant PutRecordBatch on the stream's ARN and set the function's variable."""
        name = analytics_stream_name(resources.stage)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecordBatch"],
                resources=[
                    Stack.of(grantee.grant_principal).format_arn(
                        service="firehose", resource="deliverystream", resource_name=name
                    )
                ],
            )
        )
        if isinstance(grantee, lambda_.Function):
            grantee.add_environment("ANALYTICS_STREAM_NAME", name)


EMITS_EVENTS: tuple[Access, ...] = (append_outbox(), read_write(LIVE), ManageLiveConnections())
"""``keyframe.events.publisher.emit``: the event's outbox item (catalog), room counters, markers and
event log (live table), then the fan-out reads the room's connections, posts to each one
(``POST @connections``) and deletes the records of those that are gone."""

EMITS_MEMBER_EVENTS: tuple[Access, ...] = (
    append_outbox(),
    read_write(LIVE),
    ManageLiveConnections(("POST", "DELETE")),
)
""":data:`EMITS_EVENTS` plus ``DeleteConnection``: the fan-out of ``member:removed`` and
``member:role-changed`` (emitted by the identity domain only) first closes that member's sockets."""

PIPELINE_STEP: tuple[Access, ...] = (read_write(UPLOADS), read_write(CATALOG), *EMITS_EVENTS)
"""A Step Functions task of the asset pipeline: records its step (uploads), moves the version's
state (catalog) and reports ``pipeline:update``."""

ORIGINALS_PREFIX = "studios/*/assets/*/uploads/*"
"""Uploaded originals: ``studios/{studioId}/assets/{assetId}/uploads/{uploadId}/{fileName}``."""

DERIVED_PREFIX = "studios/*/assets/*/versions/*/derived/*"
"""Derivatives of a version: ``studios/{studioId}/assets/{assetId}/versions/{version}/derived/{file}``."""

AVATARS_PREFIX = "avatars/*"
"""Profile pictures and their uploads (``keyframe.identity.avatars``): a person's, outside every studio."""

AVATAR_UPLOADS_PREFIX = "avatars/uploads/*"
"""Picture uploads, ``avatars/uploads/{userId}/{uploadId}``: listed by key to learn their size."""

RENDER_STATE_MACHINE = "render"
"""Stem of ``statemachines/render.asl.json`` (``infra/renders.py``)."""

RENDERS_PREFIX = "studios/*/renders/*"
"""Render outputs: ``studios/{studioId}/renders/{renderJobId}/attempt-{n}/...``, and the rewritten
playlists of a playback under ``.../attempt-{n}/playback/{session}/``."""

RENDER_STEP: tuple[Access, ...] = (
    TableAccess(RENDERS, ("dynamodb:GetItem", "dynamodb:UpdateItem")),
    append_activity(),
    *EMITS_EVENTS,
)
"""A Step Functions task of the render workflow (``keyframe.renders.tasks``): reads the job and moves it
to a terminal status in one ``TransactWriteItems`` with its studio's slot counter (two UpdateItems:
IAM has no TransactWriteItems action, it checks each item's own), appends ``render:succeeded|failed``
to the activity log, emits ``render:status``."""

NOTIFIES: tuple[Access, ...] = (
    TableAccess(TENANTS, ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")),
    SendMail(),
)
"""``keyframe.notifications.service.notify``: the recipient's membership, e-mail address and the
studio's member names for @mentions (tenants reads), an immediate e-mail (SES); the inbox, the
digest queue and the ``user:{id}`` room are in the live table (:data:`EMITS_EVENTS`)."""

GRANTS: Mapping[str, tuple[Access, ...]] = {
    # /health, /ready (DescribeTable on every table, HeadBucket), /openapi.json, /docs: public only,
    # so it authenticates nobody and reads neither the tenants table nor the keys
    "meta-api": (DescribeTables(), HeadMediaBucket()),
    # studios, users, memberships, invitations, refresh tokens; signs tokens; emits studio events,
    # among them member:removed / member:role-changed, whose fan-out closes that member's sockets;
    # e-mails invitations and password resets (SES); member changes append activity entries;
    # kms:Sign on the token keys (the only function that can issue a token), publishes the JWKS
    "identity-api": (
        read_write(TENANTS),
        ReadSigningSecret(),
        SIGN_TOKENS,
        *EMITS_MEMBER_EVENTS,
        SendMail(),
        append_activity(),
        # /studio/webhooks (keyframe.webhooks.routes): endpoints and deliveries, test pings and
        # replays on the delivery queue
        webhook_items(WEBHOOK_ITEM_ACTIONS),
        SendWebhookDeliveries(),
        # the analytics record of each password sign-in (keyframe.analytics, member:signed-in)
        PutAnalyticsRecords(),
        # profile pictures (keyframe.identity.avatars): signs the upload's POST and the pictures'
        # GETs, lists (its size, or none) reads and deletes the upload, writes and deletes pictures;
        # nothing of a studio's keys
        MediaObjects(("s3:GetObject", "s3:PutObject", "s3:DeleteObject"), prefix=AVATARS_PREFIX),
        ListMediaKeys(AVATAR_UPLOADS_PREFIX),
    ),
    # projects, assets, versions, graph, activity; signed cursors (key derived from the signing
    # secret); presigned GETs of version files
    "catalog-api": (
        *AUTHENTICATES,
        read_write(CATALOG),
        MediaObjects(("s3:GetObject",)),
        *EMITS_EVENTS,
        # keyframe.favorites.routes: the caller's favorites and playback positions; a playback
        # position names a render job, read by key
        read_write(FAVORITES),
        TableAccess(RENDERS, ("dynamodb:GetItem",)),
    ),
    # reviews and comments (live table) move a version's review status and append activity (catalog);
    # signed cursors of comment pages; connect tickets (live table) and room catch-up
    # notifications: mentions, replies and decisions notify members (NOTIFIES); /me/notifications
    # POST /analytics/events (keyframe.analytics): a per-member counter in the live table (EMITS_EVENTS
    # has it) and the records to the analytics delivery stream
    # the authors' profile pictures in a page of comments: presigned GETs of avatars/ keys only
    "reviews-api": (
        *AUTHENTICATES,
        read_write(CATALOG),
        *EMITS_EVENTS,
        *NOTIFIES,
        PutAnalyticsRecords(),
        MediaObjects(("s3:GetObject",), prefix=AVATARS_PREFIX),
    ),
    # $connect authorizer (keyframe.live.sockets.authorize_connect): reads and deletes the single-use
    # ticket (TICKET# partitions only), reads the caller's membership (tenants)
    "live-authorizer": (
        TableItems(LIVE, ("dynamodb:GetItem", "dynamodb:DeleteItem"), ticket_pk("*")),
        TableAccess(TENANTS, ("dynamodb:GetItem",)),
    ),
    # $connect (on_connect): puts the connection record and its studio-room membership (CONN#
    # partitions only); the authorizer's context is the identity, no presence event is emitted
    "live-connect": (TableItems(LIVE, ("dynamodb:PutItem",), connection_pk("*")),),
    # $disconnect: reads/deletes the connection and its rooms (query + batch delete), presence:leave
    "live-disconnect": EMITS_EVENTS,
    # messages: throttle counters, rooms and presence (live), comments and decisions (live + catalog,
    # keyframe.reviews.service), subscribe checks the project/asset (catalog); the principal comes from
    # the connection record, so not the signing secret; comments notify members (NOTIFIES)
    "live-message": (read_write(CATALOG), *EMITS_EVENTS, *NOTIFIES),
    # upload sessions and quota; presigned multipart uploads under studios/; reads the asset and
    # appends activity (catalog); emits upload events. HeadBucket's ListBucket lets HeadObject of a
    # missing key answer 404 instead of 403. A completed upload starts its pipeline (execution named
    # after the upload; DescribeExecution when it already exists).
    "uploads-api": (
        *AUTHENTICATES,
        read_write(UPLOADS),
        read_write(CATALOG),
        MediaObjects(MULTIPART_UPLOAD_ACTIONS),
        HeadMediaBucket(),
        *EMITS_EVENTS,
        StartStateMachine("asset_pipeline"),
        *NOTIFIES,  # a pipeline that cannot start tells the uploader
    ),
    # pipeline status and reprocess (a new run of the asset pipeline, the version PROCESSING again)
    "pipeline-api": (*AUTHENTICATES, *PIPELINE_STEP, StartStateMachine("asset_pipeline"), *NOTIFIES),
    # reads the uploaded object's head and first bytes to detect and check the media
    "pipeline-validate": (*PIPELINE_STEP, MediaObjects(("s3:GetObject",)), HeadMediaBucket()),
    "pipeline-publish": PIPELINE_STEP,
    # version:ready notifies the members who favourited the asset (keyframe.favorites.notices)
    "pipeline-finalize": (*PIPELINE_STEP, read(FAVORITES), *NOTIFIES),
    "pipeline-mark-failed": (*PIPELINE_STEP, *NOTIFIES),  # the uploader hears their pipeline failed
    # keyframe.renders.routes/service/playback/idempotency:
    # - render jobs: get, query (gsi1/gsi2), put a new job and update jobs and slot counters (create,
    #   cancel and retry are TransactWriteItems of Put/Update), never delete;
    # - the source: asset and version (catalog read), HeadObject of the original for its S3 VersionId
    #   (the lineage), the requester's e-mail for the watermark (tenants GetItem); activity entries;
    # - Idempotency-Key records (Powertools: get/put/update/delete); signed cursors (signing secret);
    # - outputs: read playlists and presign GETs, write the rewritten playback playlists (tagged
    #   keyframe-ephemeral=playback: PutObjectTagging), delete an attempt's outputs on cancel (listed
    #   under studios/*/renders/ first);
    # - one execution of the render state machine per attempt, stopped on cancel (no Describe: an
    #   existing execution's ARN is derived from its name); the Batch job terminated on cancel.
    "renders-api": (
        *AUTHENTICATES,
        TableAccess(
            RENDERS, ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")
        ),
        read(CATALOG),
        append_activity(),
        TableAccess(TENANTS, ("dynamodb:GetItem",)),
        # GET /studio/quotas and /studio/usage (keyframe.usage): the storage counter beside the
        # uploads, and its day items (one Query)
        TableAccess(UPLOADS, ("dynamodb:GetItem", "dynamodb:Query")),
        TableAccess(
            IDEMPOTENCY,
            ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
        ),
        *EMITS_EVENTS,
        MediaObjects(("s3:GetObject",), prefix=ORIGINALS_PREFIX),
        MediaObjects(
            ("s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"), prefix=RENDERS_PREFIX
        ),
        ListMediaKeys(RENDERS_PREFIX),
        StartStateMachine(RENDER_STATE_MACHINE, ("states:StopExecution",)),
        TerminateBatchJobs(),
        *NOTIFIES,  # a render that cannot start is FAILED: its requester is told
    ),
    # the Batch job succeeded: SUCCEEDED (or FAILED NO_OUTPUTS)
    "render-finalize": (*RENDER_STEP, *NOTIFIES),  # the requester hears their render finished
    # the attempt failed: FAILED with the reason; a timed-out attempt's Batch job is terminated
    "render-mark-failed": (*RENDER_STEP, TerminateBatchJobs(), *NOTIFIES),
}
"""Function name (``keyframe.registry``) -> its accesses. Add a line with every new function."""


CONSUMER_GRANTS: Mapping[str, tuple[Access, ...]] = {
    # the outbox's stream consumer (keyframe.outbox.stream): numbers each stored event in its rooms and
    # fans it out (live table, @connections); reading the stream and sending to its dead-letter queue
    # are granted with its event source (infra/outbox.py)
    "outbox-stream": (
        *EMITS_EVENTS,
        # webhooks (keyframe.webhooks.dispatch.consume): reads the studio's endpoints, stores one
        # delivery per endpoint and queues it
        webhook_items(("dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem")),
        SendWebhookDeliveries(),
        # renders the events cause (keyframe.renders.triggers): reads policies, assets, versions and
        # the graph; queues a render as the API does (job, slot and vCPU counters, activity), reads the
        # source's S3 version id, starts the render execution (its ARN and the high-priority queue's
        # are set by infra/stack.py), notifies the requester when the start fails
        TableAccess(
            RENDERS, ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")
        ),
        read(CATALOG),
        append_activity(),
        MediaObjects(("s3:GetObject",), prefix=ORIGINALS_PREFIX),
        StartStateMachine(RENDER_STATE_MACHINE, ()),
        *NOTIFIES,
        # analytics (keyframe.analytics.consumer): server records of uploads, renders, decisions
        PutAnalyticsRecords(),
    ),
    # the delivery queue's consumer (keyframe.webhooks.dispatch.attempt): reads and updates deliveries
    # and endpoints, queues retries; disabling an endpoint appends activity and emits webhook:disabled
    "webhooks-deliver": (
        webhook_items(("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")),
        append_activity(),
        *EMITS_EVENTS,
        SendWebhookDeliveries(),
    ),
}
"""What each function of ``keyframe.registry.CONSUMERS`` may do (built in ``infra/outbox.py``)."""

JOB_GRANTS: Mapping[str, tuple[Access, ...]] = {
    # keyframe.media.worker derive (keyframe.pipeline.derive_step): reads and updates the pipeline
    # record (never creates or deletes one), reads the original through a presigned GET (ListBucket:
    # a missing key is 404, not 403), writes derived/ files in multipart chunks, reports
    # pipeline:update (live table + @connections).
    "media": (
        TableAccess(UPLOADS, ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DescribeTable")),
        *EMITS_EVENTS,
        MediaObjects(("s3:GetObject",), prefix=ORIGINALS_PREFIX),
        MediaObjects(("s3:PutObject", "s3:AbortMultipartUpload"), prefix=DERIVED_PREFIX),
        HeadMediaBucket(),
    ),
    # keyframe.renders.worker (one container try): reads the job and writes RUNNING, progress, try
    # errors and outputs (conditional UpdateItems; terminal statuses and the slot counter are the
    # state machine's tasks', so no transaction here), emits render:status/progress; reads the exact
    # original (GetObjectVersion: the lineage's S3 VersionId; a missing or unreadable source is an
    # input error either way, so no unconditional ListBucket), uploads outputs (multipart above 8 MiB)
    # and deletes the attempt's leftovers (listed under studios/*/renders/ first).
    # keyframe.renders.scene_worker runs in the same definition (command override): probe, chunk
    # children, assemble. It also lists and creates/replaces the job's chunk items (Query,
    # BatchWriteItem: Put/Delete), moves a chunk's frame count and the job's together (a
    # TransactWriteItems of two UpdateItems), reads the scene's dependencies' exact originals, writes
    # frames under studios/*/renders/{id}/frames/ and reads them back to assemble them.
    "render": (
        TableAccess(
            RENDERS,
            (
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
            ),
        ),
        *EMITS_EVENTS,
        MediaObjects(("s3:GetObject", "s3:GetObjectVersion"), prefix=ORIGINALS_PREFIX),
        MediaObjects(
            ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"),
            prefix=RENDERS_PREFIX,
        ),
        ListMediaKeys(RENDERS_PREFIX),
    ),
}
"""Batch job definition name (``MEDIA_JOB["name"]``, ``RENDER_JOB["name"]``) -> its job role's accesses."""


def grants_for_job(
    job_name: str, grants: Mapping[str, tuple[Access, ...]] = JOB_GRANTS
) -> tuple[Access, ...]:
    """The accesses of Batch job definition ``job_name``.

    Raises
    ------
    LookupError
        No entry: the synth stops and says where to add one.
    """
    try:
        return grants[job_name]
    except KeyError:
        raise LookupError(
            f"Batch job definition {job_name!r} has no entry in infra/grants.py JOB_GRANTS. Add one "
            f'listing what its container may access, e.g. "{job_name}": (read(RENDERS),).'
        ) from None


def grants_for(function_name: str, grants: Mapping[str, tuple[Access, ...]] = GRANTS) -> tuple[Access, ...]:
    """The accesses of ``function_name``.

    Raises
    ------
    LookupError
        The function has no entry: the synth stops and says where to add one.
    """
    try:
        return grants[function_name]
    except KeyError:
        raise LookupError(
            f"Lambda function {function_name!r} (keyframe.registry.FUNCTIONS) has no entry in "
            "infra/grants.py GRANTS. Add one listing what it may access, e.g. "
            f'"{function_name}": (read(CATALOG),), or () for nothing.'
        ) from None


def check_complete(function_names: list[str], grants: Mapping[str, tuple[Access, ...]] = GRANTS) -> None:
    """Fail when GRANTS names a function the registry does not know (a typo or a removed function).

    Raises
    ------
    LookupError
        Naming the stale entries.
    """
    stale = sorted(set(grants) - set(function_names))
    if stale:
        raise LookupError(
            f"infra/grants.py GRANTS names functions that keyframe.registry.FUNCTIONS does not list: {stale}"
        )
