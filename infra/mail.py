"""E-mail: the SES domain identity Keyframe sends from (``keyframe.mail``).

One ``AWS::SES::EmailIdentity`` for the stage's ``mailDomain`` (Easy DKIM): after the first deploy,
publish the three DKIM CNAME records SES shows for it, and ask AWS to move the account out of the SES
sandbox before inviting people outside the team. Functions that send (:class:`infra.grants.SendMail`)
may send only from that identity and only with ``no-reply@<domain>`` as the From address.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra.config import StageConfig


class Mail(Construct):
    """The SES identity and what the functions are told about it.

    Attributes
    ----------
    domain / sender:
        ``mailDomain`` and the ``MAIL_FROM`` of the functions.
    frontend_url:
        ``FRONTEND_URL`` of the functions (e-mail links).
    identity / identity_arn:
        The SES email identity and its ARN (``arn:…:ses:{region}:{account}:identity/{domain}``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.domain = config.mail_domain
        self.sender = config.mail_from
        self.from_address = f"no-reply@{config.mail_domain}"
        self.frontend_url = config.frontend_url
        self.identity = ses.EmailIdentity(self, "Identity", identity=ses.Identity.domain(self.domain))
        self.identity_arn = Stack.of(self).format_arn(
            service="ses",
            resource="identity",
            resource_name=self.domain,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
