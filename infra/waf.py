"""The web application firewall in front of the REST API stage: one regional web ACL.

Rules, in the order WAF evaluates them:

====  ===============================  =====================================================================
prio  rule                             what it does
====  ===============================  =====================================================================
0     ``auth-rate-per-ip``             more than ``waf_auth_requests_per_ip`` requests to ``/auth/*`` from one
                                       IP in 5 minutes: 429 with Keyframe's error body (password guessing,
                                       sign-up floods, refresh-token storms; these routes are public)
1     ``rate-per-ip``                  more than ``waf_requests_per_ip`` requests to any route from one IP in
                                       5 minutes: the same 429 (looser: a studio's artists share one NAT)
2     ``origin-gate``                  only when the stage allows browser origins: a request whose
                                       ``Origin`` header is present and is neither an allowed origin nor
                                       the API's own ``execute-api`` origin (``/docs`` calls the API from
                                       there) is blocked with 403 ``ORIGIN_NOT_ALLOWED``. Every request
                                       that reaches API Gateway with an ``Origin`` therefore has an
                                       allowed one, which lets the gateway responses reflect it
                                       (``infra/api.py``); clients that send no ``Origin`` pass
3     ``aws-ip-reputation``            AWS managed ``AmazonIpReputationList`` (bots, known attackers)
4     ``aws-known-bad-inputs``         AWS managed ``KnownBadInputsRuleSet`` (Log4j, exploit payloads)
5     ``aws-common``                   AWS managed ``CommonRuleSet`` (OWASP-style checks); its 8 KB body
                                       size rule only counts: API Gateway caps bodies and the handlers
                                       validate sizes, and media never goes through the API (presigned S3)
====  ===============================  =====================================================================

The limits are per stage (:class:`infra.config.StageDefaults`). ``/auth/*`` is matched both as
``/auth/...`` (a custom domain) and ``/{stage}/auth/...`` (the ``execute-api`` URL, whose path carries
the stage). The rate rules answer with the JSON error shape of every other Keyframe error; WAF cannot
insert the request id, so their ``correlationId`` is the fixed ``"waf"`` (the WAF log has the request).

Logs (every request that matched a blocking or counting rule; the ``Authorization`` header redacted) go
to a log group named ``aws-waf-logs-...`` (WAF's required prefix) with the stage's retention.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import StageConfig
from infra.log_groups import per_stack_name

RATE_WINDOW_SECONDS = 300
"""The window of both rate rules (WAF's default evaluation window)."""

TOO_MANY_REQUESTS_BODY = "TooManyRequests"
"""Key of the custom response body the rate rules answer with."""

TOO_MANY_REQUESTS = {
    "error": {
        "code": "TOO_MANY_REQUESTS",
        "message": "Too many requests from your address: wait a few minutes and retry",
        "correlationId": "waf",
    }
}
"""The body of WAF's 429: the unified error shape, with the same code as the stage throttle's 429."""

ORIGIN_NOT_ALLOWED_BODY = "OriginNotAllowed"
"""Key of the custom response body the origin gate answers with."""

ORIGIN_NOT_ALLOWED = {
    "error": {
        "code": "ORIGIN_NOT_ALLOWED",
        "message": "This browser origin may not call the API",
        "correlationId": "waf",
    }
}
"""The body of the origin gate's 403."""

AUTH_PREFIX = "/auth/"

LOGGED_ACTIONS: tuple[str, ...] = ("BLOCK", "COUNT", "EXCLUDED_AS_COUNT")
"""Requests WAF logs: those a rule blocked or counted (allowed traffic is in the API's access log)."""

SIZE_RESTRICTION_RULE = "SizeRestrictions_BODY"
"""The CommonRuleSet rule that is only counted (see the module docstring)."""


@dataclass(frozen=True)
class ManagedGroup:
    """One AWS managed rule group: its WAF name, our rule name, and rules only counted."""

    name: str
    rule_name: str
    count_only: tuple[str, ...] = ()


MANAGED_GROUPS: tuple[ManagedGroup, ...] = (
    ManagedGroup("AWSManagedRulesAmazonIpReputationList", "aws-ip-reputation"),
    ManagedGroup("AWSManagedRulesKnownBadInputsRuleSet", "aws-known-bad-inputs"),
    ManagedGroup("AWSManagedRulesCommonRuleSet", "aws-common", count_only=(SIZE_RESTRICTION_RULE,)),
)


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _starts_with(path: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="STARTS_WITH",
            search_string=path,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")],
        )
    )


def _origin_is(origin: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": "origin"}),
            positional_constraint="EXACTLY",
            search_string=origin,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
        )
    )


def origin_gate_statement(origins: list[str]) -> wafv2.CfnWebACL.StatementProperty:
    """Matches a request whose ``Origin`` header is present and is none of ``origins``.

    A missing header matches no byte or size statement, so ``size(origin) > 0`` keeps requests
    without ``Origin`` (the CLI, integrations, same-origin ``GET``) out of the gate.
    """
    allowed = (
        _origin_is(origins[0])
        if len(origins) == 1
        else wafv2.CfnWebACL.StatementProperty(
            or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=[_origin_is(o) for o in origins])
        )
    )
    present = wafv2.CfnWebACL.StatementProperty(
        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": "origin"}),
            comparison_operator="GT",
            size=0,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
        )
    )
    return wafv2.CfnWebACL.StatementProperty(
        and_statement=wafv2.CfnWebACL.AndStatementProperty(
            statements=[
                present,
                wafv2.CfnWebACL.StatementProperty(
                    not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=allowed)
                ),
            ]
        )
    )


def _too_many_requests() -> wafv2.CfnWebACL.RuleActionProperty:
    return wafv2.CfnWebACL.RuleActionProperty(
        block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                response_code=429,
                custom_response_body_key=TOO_MANY_REQUESTS_BODY,
                response_headers=[
                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Cache-Control", value="no-store"),
                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value="300"),
                ],
            )
        )
    )


class RestApiFirewall(Construct):
    """The web ACL of the REST API's stage, its association and its logging.

    Parameters
    ----------
    config:
        The stage (rate limits, log retention, names).
    api:
        The REST API; the ACL is associated with its deployment stage.

    Attributes
    ----------
    web_acl:
        The ``AWS::WAFv2::WebACL`` (REGIONAL).
    log_group:
        Where WAF writes its logs (``aws-waf-logs-{name}-{stack uuid}``).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, api: apigateway.RestApi
    ) -> None:
        super().__init__(scope, construct_id)
        metric_prefix = config.name.replace("-", "")
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.name}-api",
            description=f"Keyframe REST API {config.name} - managed rules and per-IP rate limits",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{metric_prefix}Api"),
            custom_response_bodies={
                TOO_MANY_REQUESTS_BODY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps(TOO_MANY_REQUESTS)
                ),
                ORIGIN_NOT_ALLOWED_BODY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps(ORIGIN_NOT_ALLOWED)
                ),
            },
            rules=self._rules(config, metric_prefix, own_origin=self._own_origin(api)),
        )
        association = wafv2.CfnWebACLAssociation(
            self,
            "Association",
            resource_arn=api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        association.node.add_dependency(api.deployment_stage)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=per_stack_name(f"aws-waf-logs-{config.name}"),
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # WAF wants the log group's ARN without the ":*" CDK's log_group_arn ends with.
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [{"ActionCondition": {"Action": action}} for action in LOGGED_ACTIONS],
                    }
                ],
            },
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"})
            ],
        )

    def _own_origin(self, api: apigateway.RestApi) -> str:
        """The API's own origin (``https://{id}.execute-api.{region}.{suffix}``): where ``/docs`` runs."""
        stack = Stack.of(self)
        return f"https://{api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"

    @staticmethod
    def _origin_gate(
        config: StageConfig, metric_prefix: str, own_origin: str, priority: int
    ) -> list[wafv2.CfnWebACL.RuleProperty]:
        if not config.cors_origins:
            return []  # no browser origin allowed: the gateway responses carry no CORS header at all
        return [
            wafv2.CfnWebACL.RuleProperty(
                name="origin-gate",
                priority=priority,
                action=wafv2.CfnWebACL.RuleActionProperty(
                    block=wafv2.CfnWebACL.BlockActionProperty(
                        custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                            response_code=403,
                            custom_response_body_key=ORIGIN_NOT_ALLOWED_BODY,
                            response_headers=[
                                wafv2.CfnWebACL.CustomHTTPHeaderProperty(
                                    name="Cache-Control", value="no-store"
                                ),
                            ],
                        )
                    )
                ),
                statement=origin_gate_statement([*config.cors_origins, own_origin]),
                visibility_config=_visibility(f"{metric_prefix}OriginGate"),
            )
        ]

    @classmethod
    def _rules(
        cls, config: StageConfig, metric_prefix: str, *, own_origin: str
    ) -> list[wafv2.CfnWebACL.RuleProperty]:
        auth_paths = wafv2.CfnWebACL.StatementProperty(
            or_statement=wafv2.CfnWebACL.OrStatementProperty(
                statements=[_starts_with(AUTH_PREFIX), _starts_with(f"/{config.stage}{AUTH_PREFIX}")]
            )
        )
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="auth-rate-per-ip",
                priority=0,
                action=_too_many_requests(),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=config.defaults.waf_auth_requests_per_ip,
                        evaluation_window_sec=RATE_WINDOW_SECONDS,
                        scope_down_statement=auth_paths,
                    )
                ),
                visibility_config=_visibility(f"{metric_prefix}AuthRatePerIp"),
            ),
            wafv2.CfnWebACL.RuleProperty(
                name="rate-per-ip",
                priority=1,
                action=_too_many_requests(),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=config.defaults.waf_requests_per_ip,
                        evaluation_window_sec=RATE_WINDOW_SECONDS,
                    )
                ),
                visibility_config=_visibility(f"{metric_prefix}RatePerIp"),
            ),
        ]
        rules += cls._origin_gate(config, metric_prefix, own_origin, priority=len(rules))
        for priority, group in enumerate(MANAGED_GROUPS, start=len(rules)):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group.rule_name,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name=group.name,
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                                )
                                for rule in group.count_only
                            ]
                            or None,
                        )
                    ),
                    visibility_config=_visibility(f"{metric_prefix}{group.name}"),
                )
            )
        return rules
