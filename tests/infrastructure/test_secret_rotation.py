"""The signing secret rotates itself: a rotation schedule, its function and nothing more than it needs."""

from __future__ import annotations

import csv

import pytest

from infra.grants import TOKEN_KEY_TAG
from infra.secret_rotation import ROTATION_DAYS
from keyframe import registry
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_signing_secret_rotates_on_a_schedule_through_the_rotation_function(request, stage):
    # Given the stack's only secret and its rotation schedule
    synth = request.getfixturevalue(stage)
    (secret_id,) = t.of_type(synth.resources, "AWS::SecretsManager::Secret")
    (schedule,) = t.of_type(synth.resources, "AWS::SecretsManager::RotationSchedule").values()
    props = schedule["Properties"]
    # Then the secret rotates every ROTATION_DAYS days, not at deploy time
    assert props["SecretId"] == {"Ref": secret_id}
    assert props["RotationRules"] == {"ScheduleExpression": f"rate({ROTATION_DAYS} days)"}
    assert props["RotateImmediatelyOnUpdate"] is False
    # And through the live alias of the rotation function, which Secrets Manager may invoke
    alias = t.alias_id(synth.resources, registry.SECRET_ROTATION.name)
    assert props["RotationLambdaARN"] == {"Ref": alias}
    invokers = [
        p["Properties"]
        for p in t.of_type(synth.resources, "AWS::Lambda::Permission").values()
        if alias in t.references(p["Properties"]["FunctionName"])
    ]
    assert [p["Principal"] for p in invokers] == ["secretsmanager.amazonaws.com"]
    # only for rotations of this secret, in this account
    assert invokers[0]["SourceArn"] == {"Ref": secret_id}
    assert invokers[0]["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_the_rotation_function_creates_only_tagged_rsa_signing_keys_and_never_signs(dev):
    # Given the statements of the rotation function's role
    statements = t.function_statements(dev.resources, registry.SECRET_ROTATION.name)
    actions = {a for s in statements if s["Effect"] == "Allow" for a in t.actions_of(s)}
    # Then it can write the secret's versions and labels, and manage token keys, but never sign
    assert {"secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"} <= actions
    assert "kms:Sign" not in actions and not any(a.endswith("*") for a in actions)
    # And it creates a key only with the stage's token-key tag and no other tag
    (create,) = [s for s in statements if s["Effect"] == "Allow" and "kms:CreateKey" in t.actions_of(s)]
    assert create["Condition"]["StringEquals"] == {f"aws:RequestTag/{TOKEN_KEY_TAG}": dev.config.name}
    assert create["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": [TOKEN_KEY_TAG]}
    # And never a key that is not an RSA 2048 signing key
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert t.actions_of(deny) == ["kms:CreateKey"]
    assert deny["Condition"]["StringNotEquals"] == {"kms:KeySpec": "RSA_2048", "kms:KeyUsage": "SIGN_VERIFY"}
    # And it reaches existing keys only through their stage tag
    for statement in statements:
        if any(a in t.actions_of(statement) for a in ("kms:ScheduleKeyDeletion", "kms:GetPublicKey")):
            assert statement["Condition"] == {
                "StringEquals": {f"aws:ResourceTag/{TOKEN_KEY_TAG}": dev.config.name}
            }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_secret_rotation_finding_is_suppressed(request, stage):
    # Given cdk-nag's report of the main stack (where the secret and its schedule are)
    synth = request.getfixturevalue(stage)
    (report,) = synth.outdir.glob(f"AwsSolutions-*{synth.stack.stack_name}-NagReport.csv")
    with report.open() as handle:
        rows = [row for row in csv.DictReader(handle) if row["Rule ID"] == "AwsSolutions-SMG4"]
    # Then the secret's rotation rule is met, not suppressed
    assert rows and {row["Compliance"] for row in rows} == {"Compliant"}


def test_a_failed_rotation_step_pages_with_its_runbook_line(dev):
    # Given the alarms of the stack
    function = t.function_id(dev.resources, registry.SECRET_ROTATION.name)
    alarms = [
        a["Properties"]
        for a in t.of_type(dev.resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors"
        and any(function in t.references(d["Value"]) for d in a["Properties"].get("Dimensions", []))
    ]
    # Then one watches the rotation function's failures and names its runbook line
    (alarm,) = alarms
    assert alarm["AlarmDescription"].endswith("Runbook: README.md#runbook secret-rotation")
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]
