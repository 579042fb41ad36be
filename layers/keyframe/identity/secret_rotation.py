"""Automatic rotation of the signing secret: Secrets Manager's four-step rotation contract.

Secrets Manager invokes the ``secret-rotation`` function (``functions/secret_rotation``) on the
stack's schedule with ``{"Step", "SecretId", "ClientRequestToken"}``, once per step, after it has
staged the version ``ClientRequestToken`` as ``AWSPENDING``:

- ``createSecret``: the next document, stored as that version (``AWSPENDING``), from ``AWSCURRENT``:
  a new cursor HMAC key signs (64 random characters, kid ``k<UTC yyyymmddHHMMSS>``), the previous one
  moves to ``previous`` and still verifies (older ones are dropped: a cursor lives one rotation
  period), and the token keyring gets a new KMS key that signs
  :data:`keyframe.identity.token_keys.PUBLISH_AHEAD_SECONDS` later, while the keys whose window is
  over are unlisted (:func:`keyframe.identity.token_keys.rotated_keyring`). Again for the same token:
  nothing (the pending version exists).
- ``setSecret``: nothing: no other system holds these keys; every reader takes them from this secret.
- ``testSecret``: the pending document is one Keyframe reads (cursor keys, keyring), the key that
  signs now still verifies under it, and every listed token key is an enabled RSA 2048 signing key
  carrying the stage's tag (``kms:DescribeKey``, ``kms:GetPublicKey``; no ``kms:Sign``: only the
  identity function signs).
- ``finishSecret``: ``AWSCURRENT`` moves to the pending version; then the KMS keys the old version
  listed and the new one does not are scheduled for deletion (they verify nothing any more).

A failure raises: Secrets Manager retries the step, and ``AWSCURRENT`` stays on the old version until
``finishSecret`` succeeds. A ``createSecret`` that created its KMS key and then failed to store the
version leaves that key unused (tagged, so findable, never listed).
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keyframe import keys as secret_keys
from keyframe.clock import epoch
from keyframe.identity import token_keys
from keyframe.observability import logger

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
"""The steps of Secrets Manager's rotation contract, in the order it calls them."""

CURSOR_SECRET_LENGTH = 64
"""Characters of a new cursor HMAC secret (letters and digits, like the stack's first one)."""

PENDING = "AWSPENDING"
CURRENT = "AWSCURRENT"


class RotationError(ValueError):
    """The rotation cannot go on (a version not staged for rotation, a pending document that fails
    its test); Secrets Manager records the failure and ``AWSCURRENT`` does not move."""


def new_cursor_key(now: int) -> dict[str, str]:
    """A new cursor HMAC key ``{"kid", "secret"}`` (``secrets`` module; 64 letters and digits)."""
    alphabet = string.ascii_letters + string.digits
    secret = "".join(secrets.choice(alphabet) for _ in range(CURSOR_SECRET_LENGTH))
    return {"kid": "k" + time.strftime("%Y%m%d%H%M%S", time.gmtime(now)), "secret": secret}


def next_document(
    document: dict[str, Any], *, new_token_kid: str, cursor_key: dict[str, str], now: int, grace: int
) -> tuple[dict[str, Any], token_keys.Rotation]:
    """The signing secret after one rotation (no I/O).

    Parameters
    ----------
    document:
        The current document (``kid``, ``secret``, ``previous``, ``tokenKeys``; other fields are kept).
    new_token_kid / cursor_key:
        The new KMS token key's id; the new cursor key (:func:`new_cursor_key`).
    now / grace:
        Epoch seconds; how long a rotated-out token key verifies (:func:`token_keys.grace_seconds`).

    Raises
    ------
    ValueError
        A malformed ``tokenKeys`` list, or a cursor key id equal to the current one.
    """
    if cursor_key["kid"] == document.get("kid"):
        raise ValueError(f"the new cursor key id {cursor_key['kid']} is the current one")
    keyring, rotation = token_keys.rotated_keyring(
        token_keys.Keyring.from_document(document), new_token_kid, now=now, grace=grace
    )
    previous = [{"kid": document["kid"], "secret": document["secret"]}] if "kid" in document else []
    return (
        {**document, **cursor_key, "previous": previous, "tokenKeys": keyring.to_document()},
        rotation,
    )


class SecretRotation:
    """The four steps on one secret, with boto3 clients (default: from the environment).

    Parameters
    ----------
    stage:
        The ``keyframe:token-key`` tag of new token keys (default: the newest listed key's).
    clock / grace:
        Epoch seconds source and rotated-out key grace (defaults: :func:`keyframe.clock.epoch`,
        :func:`token_keys.grace_seconds`).
    """

    def __init__(
        self,
        *,
        secretsmanager: Any = None,
        kms: Any = None,
        stage: str | None = None,
        clock: Any = None,
        grace: int | None = None,
    ) -> None:
        self.secretsmanager = secretsmanager or boto3.client("secretsmanager")
        self.kms = kms or boto3.client("kms")
        self.stage = stage
        self.clock = clock or epoch
        self.grace = grace

    def handle(self, event: dict[str, Any]) -> None:
        """Run the step of a Secrets Manager rotation event.

        Raises
        ------
        RotationError
            Unknown step, rotation not enabled, or the version is not staged for rotation.
        botocore.exceptions.ClientError
            Secrets Manager or KMS refused.
        """
        step, arn, token = event.get("Step"), event.get("SecretId"), event.get("ClientRequestToken")
        if step not in STEPS or not arn or not token:
            raise RotationError(f"not a rotation event: step {step!r}")
        metadata = self.secretsmanager.describe_secret(SecretId=arn)
        if not metadata.get("RotationEnabled"):
            raise RotationError(f"rotation is not enabled on {arn}")
        stages = metadata.get("VersionIdsToStages", {})
        if token not in stages:
            raise RotationError(f"version {token} of {arn} is not staged for rotation")
        if CURRENT in stages[token]:
            logger.info("rotation: version already current", extra={"step": step, "version": token})
            return
        if PENDING not in stages[token]:
            raise RotationError(f"version {token} of {arn} is not AWSPENDING")
        getattr(self, step.removesuffix("Secret") + "_secret")(arn, token)

    def _document(self, arn: str, **version: str) -> dict[str, Any]:
        answer = self.secretsmanager.get_secret_value(SecretId=arn, **version)
        return secret_keys.parse_secret_string(answer["SecretString"])

    def create_secret(self, arn: str, token: str) -> None:
        """Store the next document as version ``token`` (``AWSPENDING``), unless it exists."""
        try:
            self._document(arn, VersionId=token, VersionStage=PENDING)
            return
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        current = self._document(arn, VersionStage=CURRENT)
        keyring = token_keys.Keyring.from_document(current)
        stage = self.stage or (
            token_keys.key_tag(self.kms, keyring.entries[-1].kid) if keyring.entries else None
        )
        if not stage:
            raise RotationError(f"no stage: the newest token key carries no {token_keys.KMS_TAG} tag")
        now = int(self.clock())
        new_kid = token_keys.create_kms_key(self.kms, stage)
        document, rotation = next_document(
            current,
            new_token_kid=new_kid,
            cursor_key=new_cursor_key(now),
            now=now,
            grace=token_keys.grace_seconds() if self.grace is None else self.grace,
        )
        self.secretsmanager.put_secret_value(
            SecretId=arn,
            ClientRequestToken=token,
            SecretString=secret_keys.dump_secret(document),
            VersionStages=[PENDING],
        )
        logger.info(
            "rotation: pending version stored",
            extra={"version": token, "newTokenKey": new_kid, "signsFrom": rotation.active_from},
        )

    def set_secret(self, arn: str, token: str) -> None:
        """Nothing to set: no other system holds these keys (every reader reads this secret)."""

    def test_secret(self, arn: str, token: str) -> None:
        """Check the pending version before it becomes current.

        Raises
        ------
        RotationError
            Its cursor keys or keyring do not parse, the key signing now would stop verifying, or a
            listed token key is not an enabled RSA 2048 signing key tagged for the stage.
        """
        pending = self._document(arn, VersionId=token, VersionStage=PENDING)
        current = self._document(arn, VersionStage=CURRENT)
        now = int(self.clock())
        grace = token_keys.grace_seconds() if self.grace is None else self.grace
        try:
            secret_keys.KeySet.from_document(pending)
            keyring = token_keys.Keyring.from_document(pending)
        except ValueError as exc:
            raise RotationError(f"pending version {token}: {exc}") from None
        signing = token_keys.Keyring.from_document(current).current(now)
        if signing is not None and not keyring.verifies(signing.kid, now, grace):
            raise RotationError(f"pending version {token} would refuse tokens of the signing key")
        if keyring.current(now) is None:
            raise RotationError(f"pending version {token} lists no key that signs now")
        stage = self.stage or token_keys.key_tag(self.kms, keyring.entries[-1].kid)
        for entry in keyring.entries:
            self._check_token_key(entry.kid, stage)

    def _check_token_key(self, kid: str, stage: str | None) -> None:
        meta = self.kms.describe_key(KeyId=kid)["KeyMetadata"]
        usable = (
            meta.get("Enabled")
            and meta.get("KeyUsage") == "SIGN_VERIFY"
            and meta.get("KeySpec", meta.get("CustomerMasterKeySpec")) == token_keys.KMS_KEY_SPEC
        )
        if not usable:
            raise RotationError(f"token key {kid} is not an enabled {token_keys.KMS_KEY_SPEC} signing key")
        if stage is None or token_keys.key_tag(self.kms, kid) != stage:
            raise RotationError(f"token key {kid} does not carry {token_keys.KMS_TAG}={stage}")
        public = serialization.load_der_public_key(self.kms.get_public_key(KeyId=kid)["PublicKey"])
        if not isinstance(public, rsa.RSAPublicKey) or public.key_size < 2048:
            raise RotationError(f"token key {kid} has no RSA public key of 2048 bits")

    def finish_secret(self, arn: str, token: str) -> None:
        """Make version ``token`` current; schedule deletion of the token keys it no longer lists."""
        stages = self.secretsmanager.describe_secret(SecretId=arn)["VersionIdsToStages"]
        old = next((version for version, labels in stages.items() if CURRENT in labels), None)
        before = self._document(arn, VersionId=old) if old else {}
        moved: dict[str, Any] = {"MoveToVersionId": token}
        if old:
            moved["RemoveFromVersionId"] = old
        self.secretsmanager.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, **moved)
        after = self._document(arn, VersionStage=CURRENT)
        listed = {e.kid for e in token_keys.Keyring.from_document(after).entries}
        retired = tuple(
            e.kid for e in token_keys.Keyring.from_document(before).entries if e.kid not in listed
        )
        token_keys.schedule_deletion(self.kms, retired)
        logger.info("rotation: version current", extra={"version": token, "retiredTokenKeys": retired})
