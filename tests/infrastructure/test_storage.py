"""The media bucket, its access logs and the JWT signing secret."""

from __future__ import annotations

import json

import pytest

from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def _bucket(synth) -> dict:
    return synth.resources[t.media_bucket_id(synth.resources)]["Properties"]


def _bucket_policy(synth, bucket_id: str) -> list[dict]:
    for res in t.of_type(synth.resources, "AWS::S3::BucketPolicy").values():
        if res["Properties"]["Bucket"] == {"Ref": bucket_id}:
            return res["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no bucket policy on {bucket_id}")


def test_media_bucket_is_private_encrypted_and_versioned(dev, prod):
    for synth in (dev, prod):
        # Given the media bucket of each stage
        props = _bucket(synth)
        # Then public access is blocked four ways, objects are KMS-encrypted with a bucket key, versioned
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert t.references(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) <= set(
            t.of_type(synth.resources, "AWS::KMS::Key")
        )
        assert rule["BucketKeyEnabled"] is True
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}


def test_every_bucket_refuses_requests_without_tls(dev):
    for bucket_id in t.of_type(dev.resources, "AWS::S3::Bucket"):
        # Given the policy of each bucket (media and access logs)
        statements = _bucket_policy(dev, bucket_id)
        # Then plain-HTTP requests are denied to everyone
        denials = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert denials, bucket_id
        assert denials[0]["Principal"] == {"AWS": "*"}
        assert denials[0]["Action"] == "s3:*"


def test_incomplete_multipart_uploads_are_aborted_after_seven_days(dev):
    # Given the media bucket's lifecycle rules
    rules = _bucket(dev)["LifecycleConfiguration"]["Rules"]
    # Then an enabled rule aborts multipart uploads left incomplete for 7 days
    assert any(
        r["Status"] == "Enabled" and r.get("AbortIncompleteMultipartUpload") == {"DaysAfterInitiation": 7}
        for r in rules
    )


def test_only_ephemeral_playlists_expire_and_noncurrent_versions_of_originals_are_kept(dev, prod):
    for synth in (dev, prod):
        # Given the media bucket's lifecycle rules
        rules = _bucket(synth)["LifecycleConfiguration"]["Rules"]
        # Then every rule that expires objects or their noncurrent versions is limited to the tagged
        # playback playlists: an overwritten or deleted original stays recoverable
        expiring = [
            r
            for r in rules
            if {"ExpirationInDays", "NoncurrentVersionExpiration", "NoncurrentVersionExpirationInDays"}
            & set(r)
        ]
        assert expiring
        for rule in expiring:
            if rule.get("Prefix", "").startswith("avatars/"):  # profile pictures: a person's, not a studio's
                continue
            assert rule["TagFilters"] == [{"Key": "keyframe-ephemeral", "Value": "playback"}], rule
            assert not rule.get("Prefix")


def test_unused_avatar_uploads_expire_and_replaced_pictures_are_not_kept(dev):
    # Given the media bucket's lifecycle rules on profile pictures
    rules = {r["Id"]: r for r in _bucket(dev)["LifecycleConfiguration"]["Rules"]}
    uploads, replaced = rules["expire-avatar-uploads"], rules["purge-replaced-avatars"]
    # Then an upload never made a picture goes after a day
    assert (uploads["Prefix"], uploads["ExpirationInDays"], uploads["Status"]) == (
        "avatars/uploads/",
        1,
        "Enabled",
    )
    # And a replaced or removed picture's old version goes a day later, with its delete marker
    assert replaced["Prefix"] == "avatars/" and replaced["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 1
    }
    assert replaced["ExpiredObjectDeleteMarker"] is True
    # And browsers may POST the picture (the presigned POST of POST /me/avatar/uploads)
    (cors,) = _bucket(dev)["CorsConfiguration"]["CorsRules"]
    assert "POST" in cors["AllowedMethods"]


def test_browsers_can_put_parts_and_read_their_etags(dev):
    # Given the media bucket's CORS rules
    (rule,) = _bucket(dev)["CorsConfiguration"]["CorsRules"]
    # Then the configured origin may PUT, and the ETag header is exposed to the page
    assert rule["AllowedOrigins"] == list(dev.config.cors_origins)
    assert "PUT" in rule["AllowedMethods"]
    assert "ETag" in rule["ExposedHeaders"]


def test_media_access_is_logged_to_a_separate_bucket(dev):
    # Given the media bucket's logging configuration
    logging = _bucket(dev)["LoggingConfiguration"]
    target = logging["DestinationBucketName"]["Ref"]
    # Then logs go to another bucket, itself private and encrypted, that expires them
    assert target != t.media_bucket_id(dev.resources)
    logs_bucket = dev.resources[target]["Properties"]
    assert logs_bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert logs_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert any("ExpirationInDays" in r for r in logs_bucket["LifecycleConfiguration"]["Rules"])


def test_prod_keeps_its_data_and_dev_cleans_up(dev, prod):
    # Given the buckets, keys and secret of both stages
    for lid in t.of_type(prod.resources, "AWS::S3::Bucket"):
        # Then prod retains buckets when the stack goes
        assert prod.resources[lid]["DeletionPolicy"] == "Retain"
    for resource_type in ("AWS::KMS::Key", "AWS::SecretsManager::Secret"):
        for res in t.of_type(prod.resources, resource_type).values():
            assert res["DeletionPolicy"] == "Retain"
    assert not t.of_type(prod.resources, "Custom::S3AutoDeleteObjects")
    # And dev empties and deletes its buckets
    for lid in t.of_type(dev.resources, "AWS::S3::Bucket"):
        assert dev.resources[lid]["DeletionPolicy"] == "Delete"
    assert len(t.of_type(dev.resources, "Custom::S3AutoDeleteObjects")) == len(
        t.of_type(dev.resources, "AWS::S3::Bucket")
    )


def test_signing_secret_is_generated_by_secrets_manager_in_the_expected_shape(dev):
    # Given the JWT signing secret
    (secret,) = t.of_type(dev.resources, "AWS::SecretsManager::Secret").values()
    generator = secret["Properties"]["GenerateSecretString"]
    # Then Secrets Manager generates {"kid": "k1", "secret": <64 chars>, "tokenKeys": [the KMS token
    # key, active from the start]}; no key material is in the template
    (token_key,) = (
        lid for lid, res in t.of_type(dev.resources, "AWS::KMS::Key").items()
        if res["Properties"].get("KeySpec") == "RSA_2048"
    )  # fmt: skip
    parts = generator["SecretStringTemplate"]["Fn::Join"][1]
    template = "".join(p if isinstance(p, str) else "TOKEN_KEY" for p in parts)
    assert {"Ref": token_key} in parts
    assert json.loads(template) == {"kid": "k1", "tokenKeys": [{"kid": "TOKEN_KEY", "activeFrom": 0}]}
    assert generator["GenerateStringKey"] == "secret"
    assert generator["PasswordLength"] == 64
    assert "SecretString" not in secret["Properties"]


def test_noncurrent_versions_move_to_cheaper_storage_and_are_never_expired(dev, prod):
    for synth in (dev, prod):
        # Given the media bucket's lifecycle rules
        rules = _bucket(synth)["LifecycleConfiguration"]["Rules"]
        # Then one enabled, unfiltered rule moves every noncurrent version to IA at 30 days and to
        # Glacier Instant Retrieval at 90
        (rule,) = [r for r in rules if "NoncurrentVersionTransitions" in r]
        assert rule["Status"] == "Enabled"
        assert not {"Prefix", "TagFilters", "ObjectSizeGreaterThan"} & set(rule)
        assert rule["NoncurrentVersionTransitions"] == [
            {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
            {"StorageClass": "GLACIER_IR", "TransitionInDays": 90},
        ]
        # And it expires nothing (the tagged playlists' rule is the only one that does)
        assert not {"ExpirationInDays", "NoncurrentVersionExpiration"} & set(rule)


def test_prod_backs_up_every_table_and_the_media_bucket_daily_for_35_days(prod, dev):
    # Given the backup plan of prod
    (plan,) = t.of_type(prod.resources, "AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    # Then it runs daily and keeps each recovery point 35 days, in a KMS-encrypted, retained vault
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    ((vault_id, vault),) = t.of_type(prod.resources, "AWS::Backup::BackupVault").items()
    assert t.references(rule["TargetBackupVault"]) == {vault_id}
    assert vault["DeletionPolicy"] == "Retain"
    (key,) = t.references(vault["Properties"]["EncryptionKeyArn"])
    assert (
        prod.resources[key]["Type"] == "AWS::KMS::Key" and prod.resources[key]["DeletionPolicy"] == "Retain"
    )
    # And its selection names every table and the media bucket
    (selection,) = t.of_type(prod.resources, "AWS::Backup::BackupSelection").values()
    selected = t.references(selection["Properties"]["BackupSelection"]["Resources"])
    assert selected == set(t.table_ids(prod.resources).values()) | {t.media_bucket_id(prod.resources)}
    # And the role AWS Backup assumes may back up and restore S3 as well as DynamoDB
    role = prod.resources[t.references(selection["Properties"]["BackupSelection"]["IamRoleArn"]).pop()]
    policies = json.dumps(role["Properties"]["ManagedPolicyArns"])
    assert (
        "AWSBackupServiceRolePolicyForS3Backup" in policies
        and "AWSBackupServiceRolePolicyForBackup" in policies
    )
    # And a developer's dev stack has no backup plan
    assert not t.of_type(dev.resources, "AWS::Backup::BackupPlan")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_retained_log_groups_with_fixed_prefixes_can_be_created_again(request, stage):
    # Given every log group whose name the stack sets (the others get generated names)
    synth = request.getfixturevalue(stage)
    groups = t.of_type(synth.resources, "AWS::Logs::LogGroup").values()
    named = [g["Properties"]["LogGroupName"] for g in groups if "LogGroupName" in g["Properties"]]
    assert len(named) >= 3  # the WAF's and the two state machines'
    for name in named:
        # Then each ends with the stack's own id, new whenever the stack is created again
        assert isinstance(name, dict) and "AWS::StackId" in json.dumps(name), name
