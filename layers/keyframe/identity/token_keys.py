"""The keys of access tokens: RS256 with the private keys in AWS KMS, a keyring, JWKS and rotation.

Access tokens are signed with ``kms:Sign`` (``RSA_2048`` keys, ``RSASSA_PKCS1_V1_5_SHA_256``,
JOSE ``RS256``) and verified locally with the key's public half, read once per process with
``kms:GetPublicKey`` and kept (a KMS key's material never changes). Only the identity function
may call ``kms:Sign``; every verifier needs only ``kms:GetPublicKey``, and anyone can verify from
``GET /.well-known/jwks.json``.
RS256 rather than ES256: PKCS#1 v1.5 signatures are deterministic, so the refresh grace window
(:mod:`keyframe.identity.sessions`) signs the very same access token again for a second tab; an
ECDSA signature differs on every call.

The **keyring** says which KMS keys are token keys. It is the ``tokenKeys`` list of the signing
secret (``JWT_SECRET_NAME``, read through :func:`keyframe.keys.secret_document`, cached 5 minutes)::

    {"tokenKeys": [{"kid": "<KMS key id>", "activeFrom": 1764864000}, ...], ...}

sorted by ``activeFrom`` (epoch seconds). At time ``t`` the newest entry with ``activeFrom <= t``
signs; an entry verifies from the moment it is listed until :data:`GRACE_SECONDS` (the longest
access-token lifetime plus the clock leeway) after the next entry became active. A token naming a
``kid`` that is not listed, or whose verification window is over, is refused.

**Rotation** (:func:`rotate`) creates a new KMS key and lists it with ``activeFrom`` =
now + :data:`PUBLISH_AHEAD_SECONDS`, longer than any process caches the keyring: every verifier
knows the new key before the first token it signs exists. Keys whose window is over are unlisted
and scheduled for deletion (:data:`DELETION_WINDOW_DAYS`). ``python -m keyframe.identity.token_keys
rotate`` runs it by hand; the README's Deploy section gives the operator's steps.

Two implementations of one interface, :class:`TokenKeys`: :class:`KmsTokenKeys` (the stack, the
local stack against the emulator, integration tests on moto) and :class:`LocalTokenKeys` (unit
tests and tools: in-memory keys, no network).
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from keyframe import clock
from keyframe import keys as secret_keys
from keyframe.settings import AuthSettings, load

ALGORITHM = "RS256"
"""The JOSE algorithm of access tokens (RSASSA-PKCS1-v1_5 with SHA-256)."""

KMS_KEY_SPEC = "RSA_2048"
KMS_SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"
KMS_TAG = "keyframe:token-key"
"""Tag on every token key (value: the stage); IAM grants Sign/GetPublicKey on keys carrying it."""

LEEWAY_SECONDS = 5
"""Clock skew tolerated on ``exp``/``iat`` and on key windows (seconds)."""

PUBLISH_AHEAD_SECONDS = secret_keys.CACHE_SECONDS + 60
"""A rotated-in key is listed this long before it signs (> the keyring cache of every process)."""

DELETION_WINDOW_DAYS = 7
"""Pending window of ``kms:ScheduleKeyDeletion`` for a key rotated out (KMS's minimum)."""


def grace_seconds(settings: AuthSettings | None = None) -> int:
    """How long a rotated-out key still verifies: the access-token lifetime plus the leeway (s)."""
    settings = settings or load(AuthSettings)
    return settings.ACCESS_TOKEN_TTL_SECONDS + LEEWAY_SECONDS


class Signer(Protocol):
    """Signs a JWS signing input with one key."""

    @property
    def kid(self) -> str:
        """The key id written in the token header."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The RS256 signature of ``message`` (256 bytes for a 2048-bit key)."""
        ...


class TokenKeys(Protocol):
    """Which key signs now, which public keys verify, and the JWKS document."""

    def signer(self, now: int) -> Signer:
        """The key that signs at ``now`` (epoch seconds)."""
        ...

    def public_key(self, kid: str, now: int) -> rsa.RSAPublicKey | None:
        """The public key of ``kid`` if it verifies at ``now``, else ``None``."""
        ...

    def jwks(self, now: int) -> dict[str, Any]:
        """``{"keys": [JWK, ...]}`` of every key that verifies at ``now``."""
        ...


@dataclass(frozen=True)
class KeyringEntry:
    """One listed token key: ``kid`` (the KMS key id) signs from ``active_from`` (epoch seconds)."""

    kid: str
    active_from: int


@dataclass(frozen=True)
class Keyring:
    """The listed token keys, oldest first.

    Raises
    ------
    ValueError
        (from :meth:`from_document`) a malformed ``tokenKeys`` list.
    """

    entries: tuple[KeyringEntry, ...]

    @classmethod
    def from_document(cls, document: object) -> Keyring:
        """Parse the secret's ``tokenKeys`` list (missing: an empty keyring)."""
        raw = document.get("tokenKeys", []) if isinstance(document, dict) else None
        if not isinstance(raw, list):
            raise ValueError("the signing secret's tokenKeys is not a list")
        entries = []
        for item in raw:
            if not (isinstance(item, dict) and isinstance(item.get("kid"), str) and item["kid"]):
                raise ValueError("a tokenKeys entry has no kid")
            active_from = item.get("activeFrom", 0)
            if not isinstance(active_from, int) or isinstance(active_from, bool):
                raise ValueError("a tokenKeys entry's activeFrom is not an integer")
            entries.append(KeyringEntry(item["kid"], active_from))
        return cls(tuple(sorted(entries, key=lambda e: e.active_from)))

    def to_document(self) -> list[dict[str, Any]]:
        """The ``tokenKeys`` list to store."""
        return [{"kid": e.kid, "activeFrom": e.active_from} for e in self.entries]

    def current(self, now: int) -> KeyringEntry | None:
        """The entry that signs at ``now``: the newest active one (``None``: none is active)."""
        active = [e for e in self.entries if e.active_from <= now]
        return active[-1] if active else None

    def verify_until(self, entry: KeyringEntry, grace: int) -> int | None:
        """When ``entry`` stops verifying (epoch seconds; ``None``: not before a newer key signs)."""
        later = [e.active_from for e in self.entries if e.active_from > entry.active_from]
        return later[0] + grace if later else None

    def verifies(self, kid: str, now: int, grace: int) -> bool:
        """True when ``kid`` is listed and its window is not over at ``now``."""
        for entry in self.entries:
            if entry.kid == kid:
                until = self.verify_until(entry, grace)
                return until is None or now <= until
        return False


def jwk_of(kid: str, key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The public JWK of ``key`` (``kty`` RSA, ``n``, ``e``, ``kid``, ``alg``, ``use``)."""
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
    # "use" rather than pyjwt's "key_ops": RFC 7517 section 4.3 says not to send both
    return {"kty": jwk["kty"], "kid": kid, "alg": ALGORITHM, "use": "sig", "n": jwk["n"], "e": jwk["e"]}


# --- KMS ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KmsSigner:
    """Signs with ``kms:Sign`` (RAW message, ``RSASSA_PKCS1_V1_5_SHA_256``) on the KMS key ``kid``."""

    kid: str
    client: Any = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        """The JWS signature of ``message`` (one ``kms:Sign`` call).

        Raises
        ------
        botocore.exceptions.ClientError
            KMS refused (access denied, disabled key, throttling).
        """
        answer = self.client.sign(
            KeyId=self.kid, Message=message, MessageType="RAW", SigningAlgorithm=KMS_SIGNING_ALGORITHM
        )
        return bytes(answer["Signature"])


class KmsTokenKeys:
    """Token keys in KMS, listed by the signing secret's keyring (the stack's :class:`TokenKeys`).

    Reads the secret (Powertools cache, 5 minutes; one forced refetch, rate-limited, when a token
    names a ``kid`` this process does not list) and ``kms:GetPublicKey`` once per ``kid``.
    """

    def __init__(self, client: Any = None, settings: AuthSettings | None = None) -> None:
        self._client = client
        self._settings = settings
        self._public: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The KMS client (created on first use)."""
        if self._client is None:
            self._client = boto3.client("kms")
        return self._client

    def keyring(self, *, force_fetch: bool = False) -> Keyring:
        """The keyring from the signing secret (cached; ``force_fetch`` bypasses the cache)."""
        return Keyring.from_document(secret_keys.secret_document(force_fetch=force_fetch))

    def _grace(self) -> int:
        return grace_seconds(self._settings)

    def signer(self, now: int) -> Signer:
        """The KMS key that signs at ``now``.

        Raises
        ------
        RuntimeError
            The keyring lists no active key (the stack or the local bootstrap creates one).
        """
        current = self.keyring().current(now)
        if current is None:
            raise RuntimeError("no token signing key is active: the signing secret lists none")
        return KmsSigner(current.kid, self.client)

    def public_key(self, kid: str, now: int) -> rsa.RSAPublicKey | None:
        """The public key of a listed ``kid`` whose window is open, else ``None``."""
        keyring = self.keyring()
        if not any(e.kid == kid for e in keyring.entries) and secret_keys.refetch_allowed():
            keyring = self.keyring(force_fetch=True)
        if not keyring.verifies(kid, now, self._grace()):
            return None
        return self._fetch_public(kid)

    def _fetch_public(self, kid: str) -> rsa.RSAPublicKey:
        with self._lock:
            cached = self._public.get(kid)
        if cached is not None:
            return cached
        answer = self.client.get_public_key(KeyId=kid)
        key = serialization.load_der_public_key(answer["PublicKey"])
        usable = KMS_SIGNING_ALGORITHM in (answer.get("SigningAlgorithms") or [])
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048 or not usable:
            raise ValueError(f"token key {kid} is not an RSA signing key of 2048 bits or more")
        with self._lock:
            self._public[kid] = key
        return key

    def jwks(self, now: int) -> dict[str, Any]:
        """``{"keys": [...]}``: every listed key that verifies at ``now`` (upcoming ones included)."""
        keyring, grace = self.keyring(), self._grace()
        return {
            "keys": [
                jwk_of(e.kid, self._fetch_public(e.kid))
                for e in keyring.entries
                if keyring.verifies(e.kid, now, grace)
            ]
        }


# --- in memory (unit tests, tools) --------------------------------------------------------------


@dataclass(frozen=True)
class LocalSigner:
    """Signs with an in-memory private key (tests and tools; the stack signs with KMS)."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        """The JWS signature of ``message``."""
        return self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())


class LocalTokenKeys:
    """:class:`TokenKeys` with in-memory RSA keys and the same keyring rules as the stack."""

    def __init__(self, grace: int = 900 + LEEWAY_SECONDS) -> None:
        self.grace = grace
        self.keyring = Keyring(())
        self.private: dict[str, rsa.RSAPrivateKey] = {}

    def add(self, kid: str, active_from: int = 0) -> LocalSigner:
        """List a new key ``kid`` that signs from ``active_from``; returns its signer."""
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        entries = (*self.keyring.entries, KeyringEntry(kid, active_from))
        self.keyring = Keyring(tuple(sorted(entries, key=lambda e: e.active_from)))
        return LocalSigner(kid, self.private[kid])

    def signer(self, now: int) -> Signer:
        """The key that signs at ``now``.

        Raises
        ------
        RuntimeError
            No key is active.
        """
        current = self.keyring.current(now)
        if current is None:
            raise RuntimeError("no token signing key is active")
        return LocalSigner(current.kid, self.private[current.kid])

    def public_key(self, kid: str, now: int) -> rsa.RSAPublicKey | None:
        """The public key of ``kid`` if it verifies at ``now``."""
        if not self.keyring.verifies(kid, now, self.grace):
            return None
        return self.private[kid].public_key()

    def jwks(self, now: int) -> dict[str, Any]:
        """The JWKS document at ``now``."""
        return {
            "keys": [
                jwk_of(e.kid, self.private[e.kid].public_key())
                for e in self.keyring.entries
                if self.keyring.verifies(e.kid, now, self.grace)
            ]
        }


_default: KmsTokenKeys | None = None


def token_keys() -> KmsTokenKeys:
    """The process's :class:`KmsTokenKeys` (one KMS client and public-key cache per process)."""
    global _default  # noqa: PLW0603 - one per process, like a boto3 client
    if _default is None:
        _default = KmsTokenKeys()
    return _default


# --- creation and rotation ----------------------------------------------------------------------


def create_kms_key(kms: Any, stage: str) -> str:
    """Create one token key in KMS (``RSA_2048``, ``SIGN_VERIFY``, tagged); returns its id."""
    answer = kms.create_key(
        Description=f"Keyframe {stage}: signs access tokens (RS256)",
        KeyUsage="SIGN_VERIFY",
        KeySpec=KMS_KEY_SPEC,
        Tags=[{"TagKey": KMS_TAG, "TagValue": stage}],
    )
    return str(answer["KeyMetadata"]["KeyId"])


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate` did: the new key, when it signs, the keys unlisted and scheduled for deletion."""

    new_kid: str
    active_from: int
    retired: tuple[str, ...]


def key_tag(kms: Any, kid: str) -> str | None:
    """The :data:`KMS_TAG` value of the KMS key ``kid`` (``None`` when it has none)."""
    tags = kms.list_resource_tags(KeyId=kid).get("Tags", [])
    return next((t["TagValue"] for t in tags if t["TagKey"] == KMS_TAG), None)


def rotate(
    *,
    secret_name: str,
    stage: str | None = None,
    now: int | None = None,
    grace: int | None = None,
    kms: Any = None,
    secretsmanager: Any = None,
) -> Rotation:
    """Rotate the token keys: a new KMS key signs from now + :data:`PUBLISH_AHEAD_SECONDS`.

    The secret ``secret_name`` gets a new version with the new key listed and the keys whose
    window is over unlisted (its other fields, such as the cursor keys, are kept); those keys are
    then scheduled for deletion in KMS (:data:`DELETION_WINDOW_DAYS` days). Tokens signed with the
    previous key keep verifying for :func:`grace_seconds` after the new key becomes active.

    Parameters
    ----------
    stage:
        The :data:`KMS_TAG` value of the new key (default: the newest listed key's, so IAM's
        tag condition keeps matching).
    now / grace:
        Epoch seconds and the grace (default: the clock and :func:`grace_seconds`).
    kms / secretsmanager:
        boto3 clients (default: new ones from the environment).

    Raises
    ------
    botocore.exceptions.ClientError
        KMS or Secrets Manager refused (the secret is written before any key is scheduled for
        deletion, so a failure never leaves a listed key deleted).
    ValueError
        No ``stage`` given and the newest listed key carries no :data:`KMS_TAG`.
    """
    kms = kms or boto3.client("kms")
    secretsmanager = secretsmanager or boto3.client("secretsmanager")
    now = int(clock.epoch()) if now is None else now
    grace = grace_seconds() if grace is None else grace
    document = secret_keys.parse_secret_string(
        secretsmanager.get_secret_value(SecretId=secret_name)["SecretString"]
    )
    keyring = Keyring.from_document(document)
    if stage is None:
        stage = key_tag(kms, keyring.entries[-1].kid) if keyring.entries else None
        if not stage:
            raise ValueError(f"give the stage: the newest token key carries no {KMS_TAG} tag")
    new_kid = create_kms_key(kms, stage)
    kept, done = rotated_keyring(keyring, new_kid, now=now, grace=grace)
    document["tokenKeys"] = kept.to_document()
    secretsmanager.put_secret_value(SecretId=secret_name, SecretString=secret_keys.dump_secret(document))
    schedule_deletion(kms, done.retired)
    return done


def rotated_keyring(keyring: Keyring, new_kid: str, *, now: int, grace: int) -> tuple[Keyring, Rotation]:
    """``keyring`` with ``new_kid`` listed to sign from now + :data:`PUBLISH_AHEAD_SECONDS` and the keys
    whose window is over at ``now`` unlisted; and what changed (no I/O)."""
    active_from = now + PUBLISH_AHEAD_SECONDS
    rotated = Keyring((*keyring.entries, KeyringEntry(new_kid, active_from)))
    kept = tuple(e for e in rotated.entries if rotated.verifies(e.kid, now, grace))
    retired = tuple(e.kid for e in rotated.entries if e not in kept)
    return Keyring(kept), Rotation(new_kid, active_from, retired)


def schedule_deletion(kms: Any, kids: tuple[str, ...]) -> None:
    """Schedule the deletion of the KMS keys ``kids`` (:data:`DELETION_WINDOW_DAYS`); a key already
    pending deletion or gone is skipped.

    Raises
    ------
    botocore.exceptions.ClientError
        KMS refused for another reason (access denied, throttling).
    """
    for kid in kids:
        try:
            kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=DELETION_WINDOW_DAYS)
        except ClientError as exc:  # already pending or gone: nothing left to do
            if exc.response["Error"]["Code"] not in ("KMSInvalidStateException", "NotFoundException"):
                raise


def ensure_token_key(*, secret_name: str, stage: str, kms: Any, secretsmanager: Any) -> str:
    """List a first token key (active at once) when the secret lists none; returns the current kid.

    Used by the local bootstrap and the test fixtures; the deployed stack's first key comes from
    CDK (``infra/identity.py``).
    """
    document = secret_keys.parse_secret_string(
        secretsmanager.get_secret_value(SecretId=secret_name)["SecretString"]
    )
    keyring = Keyring.from_document(document)
    current = keyring.current(int(clock.epoch()))
    if current is not None:
        return current.kid
    kid = create_kms_key(kms, stage)
    document["tokenKeys"] = [*keyring.to_document(), {"kid": kid, "activeFrom": 0}]
    secretsmanager.put_secret_value(SecretId=secret_name, SecretString=secret_keys.dump_secret(document))
    return kid


def main(argv: list[str] | None = None) -> int:
    """``python -m keyframe.identity.token_keys rotate --secret NAME [--stage TAG]``: rotate now."""
    import argparse  # noqa: PLC0415 (the CLI's only; every API function loads this module at init)

    parser = argparse.ArgumentParser(prog="python -m keyframe.identity.token_keys")
    sub = parser.add_subparsers(dest="command", required=True)
    rot = sub.add_parser("rotate", help="a new KMS key signs access tokens after the keyring caches expire")
    rot.add_argument("--secret", required=True, help="the signing secret (stack output SigningSecretArn)")
    rot.add_argument("--stage", help=f"the new key's {KMS_TAG} tag (default: the current key's)")
    args = parser.parse_args(argv)
    done = rotate(secret_name=args.secret, stage=args.stage)
    retired = ", ".join(done.retired) or "none"
    print(f"new key {done.new_kid} signs from {done.active_from}; retired: {retired}")  # noqa: T201
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
