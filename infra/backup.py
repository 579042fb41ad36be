"""AWS Backup of the data a studio cannot re-create: every table and the media bucket (prod).

One plan, one rule: a daily backup at 03:00 UTC, each recovery point kept
:data:`RETENTION_DAYS` days, in a vault encrypted with its own KMS key. The vault and its key are
retained when the stack is deleted (recovery points outlive the stack they protect). S3 backup needs
a versioned bucket (the media bucket is) and the S3 backup/restore policies on the selection's role.

This complements, not replaces: point-in-time recovery on the tables (35 days, second-precise) and the
bucket's kept noncurrent versions (:mod:`infra.storage`). A backup also survives a deleted table or
an emptied bucket.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig

RETENTION_DAYS = 35
"""Days each daily recovery point is kept."""
SCHEDULE = events.Schedule.cron(minute="0", hour="3")
"""Daily at 03:00 UTC (outside most studios' working hours)."""
MANAGED_POLICIES: tuple[str, ...] = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)
"""AWS's policies for the role AWS Backup assumes: DynamoDB and S3, backup and restore."""


class DataBackup(Construct):
    """The backup vault, plan and selection of ``tables`` and ``bucket``.

    Attributes
    ----------
    vault / plan / role:
        The vault (KMS-encrypted, retained), the daily plan and the role AWS Backup assumes.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        tables: Sequence[dynamodb.ITableV2],
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "VaultKey",
            description=f"{config.name}: encrypts the backup vault",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=f"{config.name}-backups",
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.plan = backup.BackupPlan(
            self, "Plan", backup_plan_name=f"{config.name}-daily", backup_vault=self.vault
        )
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="daily",
                schedule_expression=SCHEDULE,
                delete_after=Duration.days(RETENTION_DAYS),
            )
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description=f"{config.name}: AWS Backup of the tables and the media bucket",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in MANAGED_POLICIES
            ],
        )
        self.plan.add_selection(
            "TablesAndMedia",
            resources=[
                *(backup.BackupResource.from_arn(table.table_arn) for table in tables),
                backup.BackupResource.from_arn(bucket.bucket_arn),
            ],
            role=self.role,
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="AWS Backup's own service-role policies (backup and restore of DynamoDB and S3) "
                    "are what it documents for this role; AWS keeps them current with the services.",
                    applies_to=[
                        f"Policy::arn:<AWS::Partition>:iam::aws:policy/{name}" for name in MANAGED_POLICIES
                    ],
                )
            ],
        )
