"""Identity resources: the access-token signing key (KMS) and the signing secret (Secrets Manager).

- **Token key**: an asymmetric KMS key (``RSA_2048``, ``SIGN_VERIFY``) tagged
  ``keyframe:token-key=<stack name>``; access tokens are RS256 signatures made by ``kms:Sign``
  (identity function only), verified with the public key (``kms:GetPublicKey``, or the JWKS at
  ``/.well-known/jwks.json``). Rotation (``keyframe.identity.token_keys.rotate``) creates the next
  keys at run time with the same tag, which is what the IAM grants name (``infra.grants``).
- **Signing secret**: ``{"kid": "k1", "secret": <64 random characters>, "tokenKeys": [{"kid":
  <token key id>, "activeFrom": 0}]}``; Secrets Manager generates the HMAC secret (pagination
  cursors, ``keyframe.keys``) at creation, so no key material passes through the template, the CDK
  app or a developer's machine; ``tokenKeys`` is the keyring of the token keys. It rotates every 30
  days (``infra/secret_rotation.py``).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack, Tags
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig
from infra.grants import TOKEN_KEY_TAG

SIGNING_KEY_ID = "k1"
SIGNING_SECRET_LENGTH = 64
TOKEN_KEY_PENDING_DAYS = 7


class Identity(Construct):
    """The token signing key, the signing secret and the token claims of this stage.

    Attributes
    ----------
    token_key:
        The first access-token KMS key (later ones come from rotations).
    signing_secret:
        The Secrets Manager secret; its ARN is given to functions as ``JWT_SECRET_NAME``.
    issuer / audience:
        ``JWT_ISSUER`` / ``JWT_AUDIENCE``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.issuer = config.jwt_issuer
        self.audience = config.jwt_audience
        self.token_key = kms.Key(
            self,
            "TokenSigningKey",
            description=f"{config.name}: signs Keyframe access tokens (RS256, kms:Sign)",
            key_spec=kms.KeySpec.RSA_2048,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            pending_window=Duration.days(TOKEN_KEY_PENDING_DAYS),
            removal_policy=config.removal_policy,
        )
        Tags.of(self.token_key).add(TOKEN_KEY_TAG, config.name)
        template = Stack.of(self).to_json_string(
            {"kid": SIGNING_KEY_ID, "tokenKeys": [{"kid": self.token_key.key_id, "activeFrom": 0}]}
        )
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description=f"{config.name}: Keyframe signing keys (JSON: kid, secret, tokenKeys)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=template,
                generate_string_key="secret",
                password_length=SIGNING_SECRET_LENGTH,
                exclude_punctuation=True,
            ),
            removal_policy=config.removal_policy,
        )
