"""The REST API's web ACL: managed groups, per-IP rate limits that answer in the error shape, logs."""

from __future__ import annotations

import json

import pytest

from infra.config import STAGES
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def _acl(synth) -> tuple[str, dict]:
    ((lid, acl),) = t.of_type(synth.resources, "AWS::WAFv2::WebACL").items()
    return lid, acl["Properties"]


def _rules(synth) -> dict[str, dict]:
    return {rule["Name"]: rule for rule in _acl(synth)[1]["Rules"]}


def test_the_web_acl_is_regional_and_guards_the_rest_stage(dev):
    # Given the web ACL and its association
    lid, acl = _acl(dev)
    ((_, association),) = t.of_type(dev.resources, "AWS::WAFv2::WebACLAssociation").items()
    (stage,) = t.of_type(dev.resources, "AWS::ApiGateway::Stage")
    # Then it is regional, allows by default and is attached to the REST API's stage
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    props = association["Properties"]
    assert t.references(props["WebACLArn"]) == {lid}
    assert stage in t.references(props["ResourceArn"]) | set(association.get("DependsOn", []))


def test_managed_groups_run_after_the_rate_rules(dev):
    # Given the rules by name
    rules = _rules(dev)
    groups = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
        for r in rules.values()
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    # Then the three AWS groups are there, enforcing (no group-wide count override)
    assert set(groups) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    assert all(g["OverrideAction"] == {"None": {}} for g in groups.values())
    # And only the common set's body-size rule is relaxed to counting
    overrides = groups["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"][
        "RuleActionOverrides"
    ]
    assert overrides == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    # And the rate rules are evaluated first, then the origin gate
    rate_priorities = {rules["auth-rate-per-ip"]["Priority"], rules["rate-per-ip"]["Priority"]}
    assert max(rate_priorities) < rules["origin-gate"]["Priority"]
    assert rules["origin-gate"]["Priority"] < min(g["Priority"] for g in groups.values())


API_ID = "abc123"


def _resolve(value, api_logical_id: str) -> str:
    """A string property with the REST API's id, the region and URL suffix filled in."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_resolve(p, api_logical_id) for p in parts)
    ref = value["Ref"]
    return {api_logical_id: API_ID, "AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com"}[ref]


def _matches(statement: dict, origin: str | None, api_logical_id: str) -> bool:
    """Evaluate a WAF statement on a request whose only header of interest is ``Origin``."""
    if "AndStatement" in statement:
        return all(_matches(s, origin, api_logical_id) for s in statement["AndStatement"]["Statements"])
    if "OrStatement" in statement:
        return any(_matches(s, origin, api_logical_id) for s in statement["OrStatement"]["Statements"])
    if "NotStatement" in statement:
        return not _matches(statement["NotStatement"]["Statement"], origin, api_logical_id)
    if "SizeConstraintStatement" in statement:
        size = statement["SizeConstraintStatement"]
        assert size["FieldToMatch"] == {"SingleHeader": {"Name": "origin"}}
        assert size["ComparisonOperator"] == "GT"
        return origin is not None and len(origin) > size["Size"]  # a missing header matches nothing
    if "ByteMatchStatement" in statement:
        match = statement["ByteMatchStatement"]
        assert match["FieldToMatch"] == {"SingleHeader": {"Name": "origin"}}
        assert match["PositionalConstraint"] == "EXACTLY"
        return origin is not None and origin == _resolve(match["SearchString"], api_logical_id)
    raise AssertionError(f"unexpected statement {statement}")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_origin_gate_lets_only_allowed_origins_reach_the_gateway(request, stage):
    # Given the origin gate of a stage (dev allows two origins, prod one)
    synth = request.getfixturevalue(stage)
    _, acl = _acl(synth)
    gate = _rules(synth)["origin-gate"]
    (api_id,) = t.of_type(synth.resources, "AWS::ApiGateway::RestApi")
    blocked = lambda origin: _matches(gate["Statement"], origin, api_id)  # noqa: E731
    # Then a request from an allowed origin, without Origin, or from the API's own origin passes
    for origin in synth.config.cors_origins:
        assert not blocked(origin)
    assert not blocked(None)
    assert not blocked(f"https://{API_ID}.execute-api.eu-west-1.amazonaws.com")  # /docs try-it-out
    # And any other Origin is blocked before API Gateway, so its answers may reflect the Origin
    for origin in ("https://evil.example", synth.config.cors_origins[0] + ".evil.example", "null", ""):
        assert blocked(origin) is (origin != "")
    # And the block is 403 in the unified error shape
    response = gate["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 403
    error = json.loads(acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"])["error"]
    assert error["code"] == "ORIGIN_NOT_ALLOWED" and error["message"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_auth_routes_have_a_tighter_per_ip_limit_than_the_rest(request, stage):
    # Given the rate rules of a stage
    synth = request.getfixturevalue(stage)
    rules = _rules(synth)
    auth = rules["auth-rate-per-ip"]["Statement"]["RateBasedStatement"]
    everything = rules["rate-per-ip"]["Statement"]["RateBasedStatement"]
    # Then both count per IP, with the stage's limits, the /auth/ one far lower
    assert auth["AggregateKeyType"] == everything["AggregateKeyType"] == "IP"
    assert auth["Limit"] == STAGES[stage].waf_auth_requests_per_ip
    assert everything["Limit"] == STAGES[stage].waf_requests_per_ip
    assert auth["Limit"] * 10 <= everything["Limit"]
    assert "ScopeDownStatement" not in everything
    # And the auth rule only counts paths under /auth/, with or without the stage prefix
    matches = auth["ScopeDownStatement"]["OrStatement"]["Statements"]
    prefixes = {m["ByteMatchStatement"]["SearchString"] for m in matches}
    assert prefixes == {"/auth/", f"/{stage}/auth/"}
    assert all(m["ByteMatchStatement"]["PositionalConstraint"] == "STARTS_WITH" for m in matches)


def test_prod_limits_are_looser_than_dev():
    # A prod studio has more artists behind one address than a developer's test stack
    assert STAGES["prod"].waf_requests_per_ip > STAGES["dev"].waf_requests_per_ip
    assert STAGES["prod"].waf_auth_requests_per_ip > STAGES["dev"].waf_auth_requests_per_ip


def test_a_rate_limited_client_gets_429_in_keyframes_error_shape(dev):
    # Given the rate rules' block action and the ACL's custom bodies
    _, acl = _acl(dev)
    rules = _rules(dev)
    for name in ("auth-rate-per-ip", "rate-per-ip"):
        response = rules[name]["Action"]["Block"]["CustomResponse"]
        # Then WAF answers 429, uncached, with a Retry-After
        assert response["ResponseCode"] == 429
        headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
        assert headers["Cache-Control"] == "no-store"
        assert int(headers["Retry-After"]) > 0
        body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
        # And the body is the unified error shape with the throttle's code
        assert body["ContentType"] == "APPLICATION_JSON"
        error = json.loads(body["Content"])["error"]
        assert error["code"] == "TOO_MANY_REQUESTS"
        assert error["message"] and error["correlationId"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_waf_logs_blocked_requests_without_tokens_into_a_retained_group(request, stage):
    # Given the logging configuration and its log group
    synth = request.getfixturevalue(stage)
    acl_id, _ = _acl(synth)
    ((_, logging),) = t.of_type(synth.resources, "AWS::WAFv2::LoggingConfiguration").items()
    props = logging["Properties"]
    assert t.references(props["ResourceArn"]) == {acl_id}
    (destination,) = props["LogDestinationConfigs"]
    (group_id,) = t.references(destination) & set(synth.resources)
    group = synth.resources[group_id]
    # Then the group has WAF's required prefix, a per-stack suffix (re-creatable) and a retention
    name = group["Properties"]["LogGroupName"]["Fn::Join"][1]
    assert name[0].startswith(f"aws-waf-logs-{synth.config.name}-")
    assert any("AWS::StackId" in json.dumps(part) for part in name[1:])
    assert group["Properties"]["RetentionInDays"] > 0
    assert group["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
    # And the Authorization header never reaches the log, and allowed traffic is not logged twice
    assert {"SingleHeader": {"Name": "authorization"}} in props["RedactedFields"]
    assert props["LoggingFilter"]["DefaultBehavior"] == "DROP"
    (keep,) = props["LoggingFilter"]["Filters"]
    assert {c["ActionCondition"]["Action"] for c in keep["Conditions"]} >= {"BLOCK", "COUNT"}
