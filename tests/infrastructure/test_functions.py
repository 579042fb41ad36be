"""Lambda functions: one per registry entry, configured alike, each with only the access it needs."""

from __future__ import annotations

import json

import pytest

from infra.config import STAGES
from infra.functions import INTEGRATION_TIMEOUT_SECONDS, REQUEST_KINDS
from infra.grants import GRANTS, TABLE_WRITE_ACTIONS, grants_for
from keyframe import registry
from keyframe.storage.tables import TABLES, TENANTS
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

DATA_WRITE_ACTIONS = set(TABLE_WRITE_ACTIONS) - {"dynamodb:DescribeTable"} | {
    "dynamodb:*",
    "dynamodb:TransactWriteItems",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}


def test_every_registry_function_is_deployed_as_configured(dev):
    for spec in registry.FUNCTIONS:
        # Given the function the registry names
        props = dev.resources[t.function_id(dev.resources, spec.name)]["Properties"]
        # Then it runs the spec's handler on python3.13/arm64 with the shared layer, traced
        assert props["Handler"] == spec.handler
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["MemorySize"] == spec.memory_mb
        assert props["Timeout"] == spec.timeout_seconds
        assert props["TracingConfig"] == {"Mode": "Active"}
        (layer,) = props["Layers"]
        assert dev.resources[layer["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"


def test_every_function_learns_every_resource_name_from_its_environment(dev):
    tables = t.table_ids(dev.resources)
    for spec in registry.FUNCTIONS:
        # Given a function's environment
        env = dev.resources[t.function_id(dev.resources, spec.name)]["Properties"]["Environment"]["Variables"]
        # Then it carries the stage, its service name, every table, the bucket, the secret and JWT claims
        assert env["STAGE"] == "dev"
        assert env["POWERTOOLS_SERVICE_NAME"] == spec.name
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Keyframe"
        for table in TABLES:
            assert env[table.env_var] == {"Ref": tables[table.key]}
        assert env["MEDIA_BUCKET"] == {"Ref": t.media_bucket_id(dev.resources)}
        (secret,) = t.of_type(dev.resources, "AWS::SecretsManager::Secret")
        assert env["JWT_SECRET_NAME"] == {"Ref": secret}
        assert env["JWT_ISSUER"] == dev.config.jwt_issuer
        assert env["JWT_AUDIENCE"] == dev.config.jwt_audience
        assert env["CORS_ALLOW_ORIGINS"] == ",".join(dev.config.cors_origins)
        (live_api,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Api")
        assert live_api in t.references(env["LIVE_WEBSOCKET_URL"])
        assert live_api in t.references(env["LIVE_CONNECTIONS_ENDPOINT"])


def test_every_function_logs_to_its_own_group_with_the_stage_retention(dev, prod):
    for synth, days in ((dev, 14), (prod, 365)):
        for spec in registry.FUNCTIONS:
            # Given a function's logging configuration
            props = synth.resources[t.function_id(synth.resources, spec.name)]["Properties"]
            group = synth.resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
            # Then its log group keeps logs for the stage's retention
            assert group["Properties"]["RetentionInDays"] == days


def test_authentication_reads_only_the_membership_and_session_of_the_tenants_table(dev):
    # Given the statements of an API function that only authenticates against the tenants table
    statements = t.function_statements(dev.resources, "catalog-api")
    tenants = t.table_ids(dev.resources)[TENANTS.key]
    on_tenants = [s for s in statements if tenants in t.references(s["Resource"])]
    # Then its one tenants statement is BatchGetItem (membership + session), no write, no query
    assert [t.actions_of(s) for s in on_tenants] == [["dynamodb:BatchGetItem"]]
    assert any("secretsmanager:GetSecretValue" in t.actions_of(s) for s in statements)


def test_only_functions_that_emit_events_may_post_to_sockets(dev):
    # Given the functions that verify tokens or answer probes, and one that emits events
    def manages_connections(name: str) -> bool:
        return any(
            "execute-api:ManageConnections" in t.actions_of(s)
            for s in t.function_statements(dev.resources, name)
        )

    # Then the former cannot reach the WebSocket connections and the latter can
    assert not manages_connections("meta-api")
    assert manages_connections("identity-api")


def test_identity_api_touches_only_profile_pictures_in_the_media_bucket(dev):
    # Given the identity API's role and the media bucket
    statements = t.function_statements(dev.resources, "identity-api")
    bucket = t.media_bucket_id(dev.resources)
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in t.actions_of(s))]
    # Then its objects are the avatars/ keys only (profile pictures and their uploads), never a studio's
    (objects,) = [s for s in s3_statements if "s3:GetObject" in t.actions_of(s)]
    assert sorted(t.actions_of(objects)) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"]["Fn::Join"][1][1] == "/avatars/*"
    # And it lists only picture uploads (to learn an upload's size)
    (listing,) = [s for s in s3_statements if "s3:ListBucket" in t.actions_of(s)]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["avatars/uploads/*"]}}
    assert {bucket} == {r for s in s3_statements for r in t.references(s["Resource"])}


def test_meta_api_only_describes_tables_and_heads_the_bucket(dev):
    # Given the readiness function's role
    statements = t.function_statements(dev.resources, "meta-api")
    tables = set(t.table_ids(dev.resources).values())
    for statement in statements:
        actions = set(t.actions_of(statement))
        refs = t.references(statement["Resource"])
        # Then it may describe the tables and list the bucket, but never read or write data
        if refs & tables:
            assert actions == {"dynamodb:DescribeTable"}, statement
        if t.media_bucket_id(dev.resources) in refs:
            assert actions == {"s3:ListBucket"}, statement


def test_no_role_scans_uses_wildcard_actions_or_managed_policies(dev):
    for spec in registry.FUNCTIONS:
        # Given each function's role
        role_id = t.role_id(dev.resources, t.function_id(dev.resources, spec.name))
        role = dev.resources[role_id]["Properties"]
        # Then it has no AWS-managed policy, no Scan and no service-wide wildcard
        assert "ManagedPolicyArns" not in role
        for statement in t.role_statements(dev.resources, role_id):
            for action in t.actions_of(statement):
                assert action != "dynamodb:Scan"
                assert not action.endswith(":*"), (spec.name, action)


def test_every_registry_function_has_an_explicit_grant_entry():
    # Given the registry and the grant table
    # Then each function has an entry (possibly empty) and the table names no unknown function
    assert {spec.name for spec in registry.FUNCTIONS} == set(GRANTS)


def test_a_function_without_a_grant_entry_stops_the_synth_with_a_clear_message():
    # Given a stack whose registry has a function the grant table does not list
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from infra.config import StageConfig
    from infra.functions import Functions
    from keyframe.registry import FunctionSpec

    stack = cdk.Stack(cdk.App())
    layer = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Layer", "arn:aws:lambda:us-east-1:123456789012:layer:keyframe:1"
    )
    # When the functions are created
    with pytest.raises(LookupError, match=r"'catalog-export'.*infra/grants.py GRANTS"):
        Functions(
            stack,
            "Functions",
            config=StageConfig.for_stage("dev"),
            layer=layer,
            environment={},
            specs=(FunctionSpec("catalog-export", "meta", "task"),),
            grants={},
        )
    # Then the message says where to add the entry (and grants_for agrees)
    with pytest.raises(LookupError):
        grants_for("catalog-export")


def test_prod_reserves_concurrency_per_function_class_and_dev_reserves_none(dev, prod):
    reserved = STAGES["prod"].reserved_concurrency
    # Given the stage configuration: every class of function has a reservation in prod
    assert set(reserved) == {spec.kind for spec in registry.FUNCTIONS}
    total = 0
    for spec in registry.FUNCTIONS:
        # Then each prod function reserves its class's share, and no dev function reserves any
        prod_props = prod.resources[t.function_id(prod.resources, spec.name)]["Properties"]
        dev_props = dev.resources[t.function_id(dev.resources, spec.name)]["Properties"]
        assert prod_props["ReservedConcurrentExecutions"] == reserved[spec.kind], spec.name
        assert "ReservedConcurrentExecutions" not in dev_props, spec.name
        total += prod_props["ReservedConcurrentExecutions"]
    # And the account's default 1000 keeps the 100 that AWS requires unreserved
    assert total <= 900


def test_functions_answering_api_gateway_stop_before_its_integration_timeout(dev):
    # Given every function behind the REST or WebSocket API (and the authorizers)
    for spec in registry.FUNCTIONS:
        if spec.kind not in REQUEST_KINDS:
            continue
        props = dev.resources[t.function_id(dev.resources, spec.name)]["Properties"]
        # Then it times out within API Gateway's 29 s, so no caller sees a gateway timeout while it runs
        assert props["Timeout"] <= INTEGRATION_TIMEOUT_SECONDS, spec.name
    # And the WebSocket integrations keep API Gateway's 29 s (none raised, none lowered below a handler)
    for integration in t.of_type(dev.resources, "AWS::ApiGatewayV2::Integration").values():
        assert integration["Properties"].get("TimeoutInMillis", 29_000) == 29_000


def test_a_request_function_slower_than_the_integration_timeout_stops_the_synth():
    # Given a WebSocket handler that may run 30 s
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from infra.config import StageConfig
    from infra.functions import Functions
    from keyframe.registry import FunctionSpec

    stack = cdk.Stack(cdk.App())
    layer = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Layer", "arn:aws:lambda:us-east-1:123456789012:layer:keyframe:1"
    )
    # When the functions are created / Then the synth says which function and which limit
    with pytest.raises(ValueError, match=r"'live-message' \(websocket\): timeout 30 s exceeds .* 29 s"):
        Functions(
            stack,
            "Functions",
            config=StageConfig.for_stage("dev"),
            layer=layer,
            environment={},
            specs=(FunctionSpec("live-message", "live_message", "websocket", timeout_seconds=30),),
            grants={"live-message": ()},
        )


def test_every_function_is_published_as_a_version_behind_a_live_alias(dev):
    for spec in registry.FUNCTIONS:
        # Given a function's live alias
        alias = dev.resources[t.alias_id(dev.resources, spec.name)]["Properties"]
        # Then it points at a published version of that function
        version = dev.resources[alias["FunctionVersion"]["Fn::GetAtt"][0]]
        assert version["Type"] == "AWS::Lambda::Version"
        assert version["Properties"]["FunctionName"] == {"Ref": t.function_id(dev.resources, spec.name)}


def test_no_caller_invokes_a_functions_latest_code(dev):
    # Given every permission to invoke a function (API Gateway, EventBridge) and every integration
    functions = {t.function_id(dev.resources, spec.name) for spec in registry.FUNCTIONS}
    for permission in t.of_type(dev.resources, "AWS::Lambda::Permission").values():
        # Then each names an alias (the live one), never the bare function
        name = permission["Properties"]["FunctionName"]
        assert not t.references(name) & functions, permission
    for kind, uri in (
        ("AWS::ApiGatewayV2::Integration", "IntegrationUri"),
        ("AWS::ApiGateway::Authorizer", "AuthorizerUri"),
    ):
        for res in t.of_type(dev.resources, kind).values():
            assert not t.references(res["Properties"][uri]) & functions, res


@pytest.mark.parametrize(("stage", "config"), [("prod", "Canary10Percent5Minutes"), ("dev", "AllAtOnce")])
def test_api_functions_deploy_through_codedeploy_and_roll_back_on_their_alarms(request, stage, config):
    synth = request.getfixturevalue(stage)
    groups = t.of_type(synth.resources, "AWS::CodeDeploy::DeploymentGroup")
    alarms = t.of_type(synth.resources, "AWS::CloudWatch::Alarm")
    api = [spec.name for spec in registry.FUNCTIONS if spec.kind == "api"]
    # Given one deployment group per API function
    assert len(groups) == len(api)
    for name in api:
        alias_id = t.alias_id(synth.resources, name)
        alias = synth.resources[alias_id]
        # Then its alias shifts through CodeDeploy (prod: 10 % for 5 minutes first)
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        (group_id,) = t.references(update["DeploymentGroupName"])
        group = groups[group_id]["Properties"]
        assert group["DeploymentConfigName"].endswith(f"Lambda{config}")
        # And it stops and rolls back on a failed deployment or an alarm
        assert group["AutoRollbackConfiguration"] == {
            "Enabled": True,
            "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
        }
        watched = {
            alarms[a["Name"]["Ref"]]["Properties"].get("MetricName")
            for a in group["AlarmConfiguration"]["Alarms"]
        }
        assert watched == {"Errors", "Duration"}
        function = t.function_id(synth.resources, name)
        for a in group["AlarmConfiguration"]["Alarms"]:
            assert t.references(alarms[a["Name"]["Ref"]]["Properties"]["Dimensions"]) == {function}


def test_only_the_identity_function_can_sign_tokens_and_verifiers_read_public_keys_only(dev):
    # Given every function's statements on KMS keys
    for spec in registry.FUNCTIONS:
        kms_actions = {
            action
            for statement in t.function_statements(dev.resources, spec.name)
            for action in t.actions_of(statement)
            if action.startswith("kms:") and "key/*" in json.dumps(statement["Resource"])
        }
        # Then kms:Sign is the identity function's alone, and each grant is limited to the token keys
        if spec.name == "identity-api":
            assert kms_actions == {"kms:Sign", "kms:GetPublicKey"}
        else:
            assert "kms:Sign" not in kms_actions, spec.name
    for statement in t.function_statements(dev.resources, "catalog-api"):
        if "kms:GetPublicKey" in t.actions_of(statement):
            assert statement["Condition"] == {
                "StringEquals": {"aws:ResourceTag/keyframe:token-key": dev.config.name}
            }
