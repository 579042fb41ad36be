"""Automatic rotation of the signing secret (issue 16.2): a rotation function on a Secrets Manager schedule.

Every :data:`ROTATION_DAYS` days Secrets Manager runs the ``secret-rotation`` function
(``keyframe.identity.secret_rotation``: ``createSecret``, ``setSecret``, ``testSecret``,
``finishSecret``): a new cursor key signs (the previous one verifies for one more period), a new KMS
token key is listed to sign after the keyring caches expire, the keys whose window is over are
unlisted and scheduled for deletion. The schedule does not rotate at deploy time (the first rotation
is one period after it is created); ``python -m keyframe.identity.token_keys rotate`` or "Rotate
secret immediately" in the console rotate at once.

The function's access: the schedule gives it the secret (read, put a version, move its labels;
``GetRandomPassword`` comes with it, unused) and Secrets Manager the right to invoke its ``live``
alias; :data:`ROTATION_GRANTS` adds the token keys: create one (RSA 2048, sign/verify, only with the
stage's tag), describe, read the public key and tags, schedule deletion (keys tagged for the stage).
The schedule stays in the main stack beside the secret (cdk-nag's SMG4 looks there); it and the
function add 9 resources (the alarm on a failed step, ``secret-rotation``, is in the monitoring stack).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import RegexAppliesTo
from constructs import Construct

from infra.config import StageConfig
from infra.functions import Functions
from infra.grants import TOKEN_KEY_TAG, Access, Resources, TokenKeyAccess, explain_wildcard
from infra.monitoring import PERIOD, Monitoring
from keyframe import registry

ROTATION_DAYS = 30
"""Days between two automatic rotations of the signing secret."""

NAME = registry.SECRET_ROTATION.name


class CreateTokenKeys:
    """``kms:CreateKey`` (and the ``kms:TagResource`` it needs to tag) for RSA 2048 sign/verify keys that
    carry the stage's token-key tag and no other tag: a key it could create is only ever a token key."""

    def apply(self, grantee: iam.IGrantable, resources: Resources) -> None:
        """Grant key creation on ``*`` (KMS names no key before it exists), limited by conditions."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:CreateKey", "kms:TagResource"],
                resources=["*"],
                conditions={
                    "StringEquals": {f"aws:RequestTag/{TOKEN_KEY_TAG}": resources.stage},
                    "ForAllValues:StringEquals": {"aws:TagKeys": [TOKEN_KEY_TAG]},
                },
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:CreateKey"],
                resources=["*"],
                conditions={
                    "StringNotEquals": {"kms:KeySpec": "RSA_2048", "kms:KeyUsage": "SIGN_VERIFY"},
                },
                effect=iam.Effect.DENY,
            )
        )
        explain_wildcard(
            grantee,
            "kms:CreateKey names no key (the key does not exist yet), so its resource is '*': the "
            f"conditions allow only RSA_2048 SIGN_VERIFY keys tagged {TOKEN_KEY_TAG}=<stage> and nothing "
            "else; GetRandomPassword (added by the rotation schedule) names no resource either.",
            RegexAppliesTo(regex="/^Resource::\\*$/g"),
        )


ROTATION_GRANTS: Mapping[str, tuple[Access, ...]] = {
    NAME: (
        CreateTokenKeys(),
        TokenKeyAccess(
            ("kms:DescribeKey", "kms:GetPublicKey", "kms:ListResourceTags", "kms:ScheduleKeyDeletion")
        ),
    ),
}
"""What the rotation function may do beyond the secret (which its rotation schedule grants)."""


class SigningSecretRotation(Construct):
    """The rotation function and the secret's rotation schedule.

    Attributes
    ----------
    function:
        The ``live`` alias of the rotation function (what Secrets Manager invokes).
    schedule:
        The secret's ``RotationSchedule``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        secret: secretsmanager.Secret,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        resources: Resources,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        functions = Functions(
            self,
            "Functions",
            config=config,
            layer=layer,
            environment=environment,
            specs=(registry.SECRET_ROTATION,),
            grants=ROTATION_GRANTS,
        )
        self.function = functions.alias(NAME)
        self.schedule = secret.add_rotation_schedule(
            "Rotation",
            rotation_lambda=self.function,
            automatically_after=Duration.days(ROTATION_DAYS),
            rotate_immediately_on_update=False,
        )
        # Only rotations of this secret may invoke it (no confused deputy through another secret).
        for child in self.function.node.find_all():
            if isinstance(child, lambda_.CfnPermission) and child.principal == "secretsmanager.amazonaws.com":
                child.source_arn = secret.secret_arn
                child.source_account = Stack.of(self).account
        functions.grant(resources)
        self.functions = functions
        # A failed step leaves the old version current: nothing breaks, but the keys stop rotating.
        self.alarm = monitoring.alarm_on(
            "SecretRotationErrors",
            functions[NAME].metric_errors(period=PERIOD, statistic="Sum"),
            description="the signing secret's rotation failed (its keys stay as they were)",
            runbook_key="secret-rotation",
        )
