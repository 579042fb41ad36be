"""The signing secret's rotation function: Secrets Manager's four steps, on moto (Secrets Manager, KMS).

moto runs a rotation Lambda only in Docker, so each test plays Secrets Manager's part itself: it stages
a version ``AWSPENDING`` with no value (what ``RotateSecret`` does before invoking the function, and
what moto's own ``rotate_secret`` does) and calls the function's handler once per step, in order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from keyframe import keys as secret_keys
from keyframe.identity import token_keys
from keyframe.identity.secret_rotation import STEPS, RotationError, SecretRotation
from keyframe.local import lambdas

STAGE = "keyframe-rotation-test"
GRACE = 905
NOW = 1_800_000_000


class Clock:
    """A settable clock (epoch seconds)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture
def aws() -> Iterator[tuple[object, object, str, str]]:
    """moto's Secrets Manager and KMS, a secret shaped like the stack's first version, rotation on."""
    with mock_aws():
        sm, kms = boto3.client("secretsmanager"), boto3.client("kms")
        first_key = token_keys.create_kms_key(kms, STAGE)
        arn = sm.create_secret(
            Name="signing",
            SecretString=json.dumps(
                {"kid": "k1", "secret": "s" * 64, "tokenKeys": [{"kid": first_key, "activeFrom": 0}]}
            ),
        )["ARN"]
        # Rotation on (as the stack's rotation schedule does), without rotating now
        sm.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
        yield sm, kms, arn, first_key


def _stage_pending(sm, arn: str) -> str:
    """What RotateSecret does before invoking the function: a version ``AWSPENDING`` with no value."""
    token = str(uuid.uuid4())
    region = sm.meta.region_name
    secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID][region].secrets[arn]
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[token] = {"createdate": NOW, "version_id": token, "version_stages": ["AWSPENDING"]}
    return token


def _rotate(sm, kms, arn: str, clock: Clock, steps=STEPS) -> str:
    token = _stage_pending(sm, arn)
    rotation = SecretRotation(secretsmanager=sm, kms=kms, clock=clock, grace=GRACE)
    for step in steps:
        rotation.handle({"Step": step, "SecretId": arn, "ClientRequestToken": token})
    return token


def _current(sm, arn: str) -> dict:
    # by its label: moto's default version does not follow update_secret_version_stage (AWS's does)
    return json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


def test_a_rotation_adds_a_token_key_and_a_cursor_key_and_keeps_the_old_ones_verifying(aws):
    sm, kms, arn, first_key = aws
    # Given the stack's first version: cursor key k1, one token key signing since 0
    clock = Clock(NOW)
    # When Secrets Manager runs the four steps
    token = _rotate(sm, kms, arn, clock)
    # Then the new version is current
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["VersionId"] == token
    document = _current(sm, arn)
    # And a new cursor key signs while k1 still verifies (cursors handed out before stay valid)
    cursor_keys = secret_keys.KeySet.from_document(document)
    assert cursor_keys.current.kid != "k1" and len(cursor_keys.current.secret) == 64
    assert cursor_keys.find("k1") is not None
    # And a new token key, tagged for the stage, signs after the publish-ahead; the old one meanwhile
    keyring = token_keys.Keyring.from_document(document)
    (old, new) = keyring.entries
    assert old.kid == first_key and new.active_from == NOW + token_keys.PUBLISH_AHEAD_SECONDS
    assert keyring.current(NOW).kid == first_key
    assert keyring.current(new.active_from).kid == new.kid
    assert token_keys.key_tag(kms, new.kid) == STAGE
    # And the old key verifies for one token lifetime after the new one signs, then no more
    assert keyring.verifies(first_key, new.active_from + GRACE, GRACE)
    assert not keyring.verifies(first_key, new.active_from + GRACE + 1, GRACE)


def test_the_next_rotation_drops_the_oldest_keys_and_schedules_the_retired_token_key_for_deletion(aws):
    sm, kms, arn, first_key = aws
    clock = Clock(NOW)
    _rotate(sm, kms, arn, clock)
    middle = _current(sm, arn)
    # When the schedule rotates again, 30 days later
    clock.now = NOW + 30 * 86400
    _rotate(sm, kms, arn, clock)
    document = _current(sm, arn)
    # Then k1 is gone; the previous cursor key is the one kept to verify
    assert [k["kid"] for k in document["previous"]] == [middle["kid"]]
    assert secret_keys.KeySet.from_document(document).find("k1") is None
    # And the first token key, whose window is over, is unlisted and pending deletion in KMS
    listed = [e.kid for e in token_keys.Keyring.from_document(document).entries]
    assert first_key not in listed and len(listed) == 2
    assert kms.describe_key(KeyId=first_key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_create_again_for_the_same_version_changes_nothing(aws):
    sm, kms, arn, _ = aws
    # Given a createSecret that ran (Secrets Manager retries a step whose answer it did not get)
    token = _stage_pending(sm, arn)
    rotation = SecretRotation(secretsmanager=sm, kms=kms, clock=Clock(NOW), grace=GRACE)
    event = {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": token}
    rotation.handle(event)
    pending = sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"]
    keys_before = len(kms.list_keys()["Keys"])
    # When it runs again
    rotation.handle(event)
    # Then the pending version is the same and no second KMS key was made
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"] == pending
    assert len(kms.list_keys()["Keys"]) == keys_before


def test_a_pending_version_that_fails_its_test_never_becomes_current(aws):
    sm, kms, arn, _ = aws
    before = sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["VersionId"]
    token = _stage_pending(sm, arn)
    rotation = SecretRotation(secretsmanager=sm, kms=kms, clock=Clock(NOW), grace=GRACE)
    rotation.handle({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": token})
    # Given the new token key was disabled meanwhile
    pending = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"])
    kms.disable_key(KeyId=pending["tokenKeys"][-1]["kid"])
    # When Secrets Manager tests the pending version
    with pytest.raises(RotationError, match="not an enabled"):
        rotation.handle({"Step": "testSecret", "SecretId": arn, "ClientRequestToken": token})
    # Then (it stops there) the old version stays current
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["VersionId"] == before


def test_testing_the_configuration_passes_on_a_copy_of_the_current_version(aws):
    sm, kms, arn, _ = aws
    # Given the check Secrets Manager runs when rotation is configured without rotating now: it
    # stages a copy of the current value as AWSPENDING and runs testSecret alone
    token = _stage_pending(sm, arn)
    region = sm.meta.region_name
    secret = secretsmanager_backends[DEFAULT_ACCOUNT_ID][region].secrets[arn]
    secret.versions[token]["secret_string"] = json.dumps(_current(sm, arn))
    rotation = SecretRotation(secretsmanager=sm, kms=kms, clock=Clock(NOW), grace=GRACE)
    # Then the test step passes
    rotation.handle({"Step": "testSecret", "SecretId": arn, "ClientRequestToken": token})


@pytest.mark.parametrize(
    "event",
    [
        {"Step": "createSecret", "SecretId": "signing", "ClientRequestToken": "not-a-staged-version"},
        {"Step": "rotateEverything", "SecretId": "signing", "ClientRequestToken": "x"},
        {"SecretId": "signing"},
    ],
)
def test_an_event_for_no_staged_version_or_no_step_is_refused(aws, event):
    sm, kms, _, _ = aws
    rotation = SecretRotation(secretsmanager=sm, kms=kms, clock=Clock(NOW), grace=GRACE)
    with pytest.raises(RotationError):
        rotation.handle(event)


def test_a_secret_without_rotation_enabled_is_not_rotated():
    with mock_aws():
        sm = boto3.client("secretsmanager")
        arn = sm.create_secret(Name="plain", SecretString="{}")["ARN"]
        rotation = SecretRotation(secretsmanager=sm, kms=boto3.client("kms"), grace=GRACE)
        with pytest.raises(RotationError, match="not enabled"):
            rotation.handle({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": "t"})


def test_the_deployed_handler_runs_the_four_steps(aws):
    # Given the function Secrets Manager invokes (functions/secret_rotation/handler.py)
    sm, _, arn, first_key = aws
    token = _stage_pending(sm, arn)
    # When each step's event reaches it, in order
    for step in STEPS:
        assert (
            lambdas.invoke("secret-rotation", {"Step": step, "SecretId": arn, "ClientRequestToken": token})
            is None
        )
    # Then the new version is current and lists the first key and a new one
    current = sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    assert current["VersionId"] == token
    kids = [e["kid"] for e in json.loads(current["SecretString"])["tokenKeys"]]
    assert kids[0] == first_key and len(kids) == 2
