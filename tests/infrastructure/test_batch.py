"""AWS Batch: the private Fargate compute environment, the queues, the media job and its image."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.batch import DOCKERFILE, image_excludes, retry_strategies
from infra.grants import DERIVED_PREFIX, grants_for_job
from keyframe.media.jobs import MEDIA_JOB
from keyframe.registry import REPO_ROOT
from keyframe.storage.tables import CATALOG, LIVE, UPLOADS
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

S3_WRITE_ACTIONS = {
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:RestoreObject",
    "s3:*",
}
NEVER_STAGED = (".venv", ".git", "cdk.out", "node_modules", "__pycache__", ".keyframe")


def _render(value: Any) -> str:
    """A policy resource as text: ``Ref``/``GetAtt`` become ``<id>``/``<id.attr>``, joins are joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return "<" + ".".join(value["Fn::GetAtt"]) + ">"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(_render(part) for part in parts)
    return json.dumps(value)


def _resources(statement: dict[str, Any]) -> list[str]:
    resources = statement["Resource"]
    return [_render(r) for r in (resources if isinstance(resources, list) else [resources])]


def _media_job(synth) -> dict[str, Any]:
    for res in t.of_type(synth.resources, "AWS::Batch::JobDefinition").values():
        if res["Properties"]["JobDefinitionName"] == f"{synth.config.name}-media":
            return res["Properties"]
    raise AssertionError("no media job definition")


def _queues(synth) -> dict[str, dict[str, Any]]:
    return {
        res["Properties"]["JobQueueName"]: res["Properties"]
        for res in t.of_type(synth.resources, "AWS::Batch::JobQueue").values()
    }


def _compute_environment(synth, kind: str = "FARGATE") -> tuple[str, dict[str, Any]]:
    """The compute environment of ``kind`` (``FARGATE`` on-demand or ``FARGATE_SPOT``)."""
    ((lid, res),) = [
        (lid, res)
        for lid, res in t.of_type(synth.resources, "AWS::Batch::ComputeEnvironment").items()
        if res["Properties"]["ComputeResources"]["Type"] == kind
    ]
    return lid, res["Properties"]


def test_compute_environment_is_managed_fargate_in_private_subnets_of_two_azs(dev, prod):
    for synth in (dev, prod):
        # Given the compute environment
        _, props = _compute_environment(synth)
        # Then it is managed Fargate
        assert props["Type"] == "managed"
        assert props["ComputeResources"]["Type"] == "FARGATE"
        # And its subnets are private ones (no public IP on launch, default route to a NAT), in 2 AZs
        subnets = [synth.resources[s["Ref"]]["Properties"] for s in props["ComputeResources"]["Subnets"]]
        assert len(subnets) == 2
        assert len({json.dumps(s["AvailabilityZone"]) for s in subnets}) == 2
        for subnet_ref in props["ComputeResources"]["Subnets"]:
            subnet = synth.resources[subnet_ref["Ref"]]["Properties"]
            assert subnet["MapPublicIpOnLaunch"] is False
            routes = [
                r["Properties"]
                for r in t.of_type(synth.resources, "AWS::EC2::Route").values()
                if r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"
                and r["Properties"]["RouteTableId"] in _route_tables_of(synth, subnet_ref["Ref"])
            ]
            (route,) = routes
            assert "NatGatewayId" in route and "GatewayId" not in route


def _route_tables_of(synth, subnet_id: str) -> list[dict[str, str]]:
    return [
        a["Properties"]["RouteTableId"]
        for a in t.of_type(synth.resources, "AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["SubnetId"] == {"Ref": subnet_id}
    ]


def test_jobs_accept_no_inbound_traffic_and_only_send_https(dev):
    # Given the compute environment's security groups
    _, props = _compute_environment(dev)
    for group_ref in props["ComputeResources"]["SecurityGroupIds"]:
        group = dev.resources[group_ref["Fn::GetAtt"][0]]["Properties"]
        # Then nothing may connect in, and the only way out is TCP 443
        assert not group.get("SecurityGroupIngress")
        (egress,) = group["SecurityGroupEgress"]
        assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)


def test_vpc_has_gateway_endpoints_nat_per_stage_and_flow_logs(dev, prod):
    for synth, nats in ((dev, 1), (prod, 2)):
        # Given the network of the jobs
        endpoints = t.of_type(synth.resources, "AWS::EC2::VPCEndpoint").values()
        services = {_render(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1] for e in endpoints}
        # Then S3 and DynamoDB traffic stays off the NAT (free gateway endpoints)
        assert services == {"s3", "dynamodb"}
        assert {e["Properties"]["VpcEndpointType"] for e in endpoints} == {"Gateway"}
        # And the stage's NAT gateways carry the rest (the public @connections API among it)
        assert len(t.of_type(synth.resources, "AWS::EC2::NatGateway")) == nats
        # And every flow is logged
        (flow_log,) = t.of_type(synth.resources, "AWS::EC2::FlowLog").values()
        assert flow_log["Properties"]["TrafficType"] == "ALL"


def test_normal_jobs_run_on_spot_with_on_demand_fallback_and_high_on_demand_only(dev, prod):
    for synth in (dev, prod):
        # Given the job queues and the two compute environments
        queues = _queues(synth)
        on_demand, on_demand_props = _compute_environment(synth, "FARGATE")
        spot, spot_props = _compute_environment(synth, "FARGATE_SPOT")
        normal = queues[f"{synth.config.name}-media-jobs"]
        high = queues[f"{synth.config.name}-media-jobs-high"]
        # Then NORMAL/LOW renders and derives try Fargate Spot first, then on-demand Fargate
        orders = sorted(normal["ComputeEnvironmentOrder"], key=lambda o: o["Order"])
        assert [t.references(o["ComputeEnvironment"]) for o in orders] == [{spot}, {on_demand}]
        # And HIGH renders run on on-demand Fargate only (never reclaimed), scheduled first
        (order,) = high["ComputeEnvironmentOrder"]
        assert t.references(order["ComputeEnvironment"]) == {on_demand}
        assert high["Priority"] > normal["Priority"]
        # And both environments share subnets, security group and the vCPU ceiling
        for key in ("Subnets", "SecurityGroupIds", "MaxvCpus"):
            assert spot_props["ComputeResources"][key] == on_demand_props["ComputeResources"][key]


def test_every_job_runs_on_x86_64_because_spot_runs_nothing_else(dev):
    # Given every job definition (each may land on the Spot environment through the normal queue)
    for definition in t.of_type(dev.resources, "AWS::Batch::JobDefinition").values():
        platform = definition["Properties"]["ContainerProperties"]["RuntimePlatform"]
        # Then it asks for X86_64 Linux: an ARM64 job would block a queue whose first environment is Spot
        assert platform == {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}


def test_media_job_runs_the_worker_on_fargate_without_public_ip(dev):
    # Given the media job definition
    props = _media_job(dev)
    container = props["ContainerProperties"]
    # Then it is a Fargate job running the worker command of MEDIA_JOB, with no public IP
    assert props["PlatformCapabilities"] == ["FARGATE"]
    assert container["Command"] == list(MEDIA_JOB["command"])
    assert container["NetworkConfiguration"] == {"AssignPublicIp": "DISABLED"}
    # And it has 2 vCPU, 4 GiB and more than Fargate's default 20 GiB of storage
    requirements = {r["Type"]: r["Value"] for r in container["ResourceRequirements"]}
    assert requirements == {"VCPU": "2", "MEMORY": "4096"}
    assert container["EphemeralStorage"]["SizeInGiB"] >= 21
    # And its image is the staged media container image
    assert "container-assets" in json.dumps(container["Image"])


def test_media_job_retries_infrastructure_failures_but_not_invalid_input(dev):
    # Given the media job definition
    props = _media_job(dev)
    # Then each attempt has MEDIA_JOB's timeout (1 h) and there are 3 attempts
    assert (
        props["Timeout"]
        == {"AttemptDurationSeconds": MEDIA_JOB["timeout_seconds"]}
        == {"AttemptDurationSeconds": 3600}
    )
    strategy = props["RetryStrategy"]
    assert strategy["Attempts"] == MEDIA_JOB["retry_attempts"] == 3
    # And the rules are MEDIA_JOB's, in order: exit code 3 (invalid file) ends the job at once
    rules = [
        {key[0].upper() + key[1:]: value for key, value in e.items()} for e in MEDIA_JOB["evaluate_on_exit"]
    ]
    assert strategy["EvaluateOnExit"] == rules
    assert strategy["EvaluateOnExit"][0] == {"OnExitCode": "3", "Action": "EXIT"}
    assert {"OnReason": "CannotPullContainerError*", "Action": "RETRY"} in strategy["EvaluateOnExit"]


def test_media_job_gets_exactly_the_variables_the_worker_reads(dev):
    # Given the media job's container environment
    env = {e["Name"]: e["Value"] for e in _media_job(dev)["ContainerProperties"]["Environment"]}
    tables = t.table_ids(dev.resources)
    # Then it names the uploads, catalog (the outbox of its events) and live tables, the @connections
    # endpoint and its service, nothing more
    assert set(env) == {
        UPLOADS.env_var,
        CATALOG.env_var,
        LIVE.env_var,
        "LIVE_CONNECTIONS_ENDPOINT",
        "POWERTOOLS_SERVICE_NAME",
    }
    assert env[UPLOADS.env_var] == {"Ref": tables[UPLOADS.key]}
    assert env[CATALOG.env_var] == {"Ref": tables[CATALOG.key]}
    assert env[LIVE.env_var] == {"Ref": tables[LIVE.key]}
    (live_api,) = t.of_type(dev.resources, "AWS::ApiGatewayV2::Api")
    assert live_api in t.references(env["LIVE_CONNECTIONS_ENDPOINT"])


def test_media_job_logs_to_its_own_group_with_the_stage_retention(dev, prod):
    for synth, days in ((dev, 14), (prod, 365)):
        # Given the media job's log configuration
        logging = _media_job(synth)["ContainerProperties"]["LogConfiguration"]
        # Then it uses awslogs into a group kept for the stage's retention
        assert logging["LogDriver"] == "awslogs"
        group = synth.resources[logging["Options"]["awslogs-group"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == days


def test_media_job_role_writes_only_derived_files_and_reads_only_originals(dev):
    # Given the media job's role
    props = _media_job(dev)["ContainerProperties"]
    statements = t.role_statements(dev.resources, props["JobRoleArn"]["Fn::GetAtt"][0])
    bucket = f"<{t.media_bucket_id(dev.resources)}.Arn>"
    for statement in statements:
        actions = set(t.actions_of(statement))
        resources = _resources(statement)
        # Then every S3 write is limited to .../versions/*/derived/*
        if actions & S3_WRITE_ACTIONS:
            assert actions <= {"s3:PutObject", "s3:AbortMultipartUpload"}, statement
            assert resources == [f"{bucket}/{DERIVED_PREFIX}"], statement
        # And objects are read only from the uploaded originals
        if "s3:GetObject" in actions:
            assert resources == [f"{bucket}/studios/*/assets/*/uploads/*"], statement
        # And no wildcard action, no Scan
        assert not any(a.endswith(":*") or a == "dynamodb:Scan" for a in actions), statement
    assert any("s3:PutObject" in t.actions_of(s) for s in statements)


def test_media_job_role_touches_only_the_uploads_and_live_tables(dev):
    # Given the media job's role and the tables
    props = _media_job(dev)["ContainerProperties"]
    statements = t.role_statements(dev.resources, props["JobRoleArn"]["Fn::GetAtt"][0])
    tables = t.table_ids(dev.resources)
    touched = {key for s in statements for key, lid in tables.items() if lid in t.references(s["Resource"])}
    # Then it reaches the uploads and live tables and the catalog's outbox only (its events), and cannot
    # create or delete pipeline records
    assert touched == {UPLOADS.key, LIVE.key, CATALOG.key}
    assert t.appends_only_to_the_outbox(dev.resources, statements)
    for statement in statements:
        if tables[UPLOADS.key] in t.references(statement["Resource"]):
            assert set(t.actions_of(statement)) == {
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:DescribeTable",
            }


def test_execution_role_only_pulls_the_image_and_writes_the_job_logs(dev):
    # Given the media job's execution role
    props = _media_job(dev)["ContainerProperties"]
    statements = t.role_statements(dev.resources, props["ExecutionRoleArn"]["Fn::GetAtt"][0])
    # Then it holds ECR pull and log writes, nothing else
    actions = {a for s in statements for a in t.actions_of(s)}
    assert actions == {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_a_failed_job_of_either_queue_is_published_to_the_alarm_topic(dev):
    # Given the EventBridge rules and the alarm topic with its key
    (topic,) = t.of_type(dev.resources, "AWS::SNS::Topic")
    queue_ids = {
        lid
        for lid, res in t.of_type(dev.resources, "AWS::Batch::JobQueue").items()
        if res["Properties"]["JobQueueName"].startswith(dev.config.name)
    }
    rules = [
        r["Properties"]
        for r in t.of_type(dev.resources, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.batch"]
    ]
    # Then one rule matches FAILED jobs of both queues and targets the topic
    (rule,) = rules
    assert rule["EventPattern"]["detail"]["status"] == ["FAILED"]
    assert t.references(rule["EventPattern"]["detail"]["jobQueue"]) == queue_ids
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": topic}
    # And EventBridge may use the topic's key
    key = dev.resources[dev.resources[topic]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]]
    assert any(
        "events.amazonaws.com" in json.dumps(s.get("Principal", {}).get("Service"))
        and "kms:GenerateDataKey*" in t.actions_of(s)
        for s in key["Properties"]["KeyPolicy"]["Statement"]
    )


def _image_directory(synth) -> tuple[Path, dict[str, Any]]:
    manifest = json.loads((synth.outdir / f"{synth.stack.stack_name}.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    return synth.outdir / image["source"]["directory"], image["source"]


def test_image_is_staged_with_only_what_the_dockerfile_copies(dev):
    # Given the staged build context of the media image
    directory, source = _image_directory(dev)
    staged = {str(p.relative_to(directory)) for p in directory.rglob("*")}
    # Then it builds functions/media_container/Dockerfile for linux/amd64, and the Dockerfile is there
    assert source["dockerFile"] == "functions/media_container/Dockerfile"
    assert source["platform"] == "linux/amd64"
    assert "functions/media_container/Dockerfile" in staged
    # And the package it installs is there
    assert {"pyproject.toml", "README.md", "layers/keyframe/media/worker.py"} <= staged
    # And nothing else from the repository: no virtualenv, git, synth output, caches or tests
    for path in staged:
        assert not set(Path(path).parts) & set(NEVER_STAGED), path
    assert not any(path.startswith(("tests", "infra", "functions/pipeline_tasks")) for path in staged)
    # And of the package only the workers' part: not the local stack, the CLI or the README generator
    assert {"layers/keyframe/renders/worker.py", "layers/keyframe/storage"} <= staged
    assert not any(
        path.startswith(("layers/keyframe/local", "layers/keyframe/cli"))
        or path == "layers/keyframe/readme.py"
        for path in staged
    )


def test_the_media_dockerfile_is_hadolint_clean():
    # Given the media image's Dockerfile and hadolint (pinned in the dev extra)
    hadolint = Path(sys.executable).with_name("hadolint")
    # When it is linted
    run = subprocess.run(
        [str(hadolint), "--no-color", str(REPO_ROOT / DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then there is no finding (an ignored rule is ignored in the file, with its reason beside it)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == ""


def test_excludes_start_from_the_dockerignore_file_and_always_drop_the_heavy_folders():
    # Given the exclude list CDK stages the image with
    excludes = image_excludes()
    # Then it begins with Dockerfile.dockerignore (the one list), re-includes the nested Dockerfile,
    # and ends by excluding the virtualenv, git and synth output wherever they are
    assert excludes[0] == "*"
    assert "!functions/media_container/Dockerfile" in excludes
    assert {"**/.venv", "**/.git", "**/cdk.out", "**/node_modules"} <= set(excludes)


def test_an_unknown_retry_condition_or_a_job_without_grants_is_refused():
    # Given a retry rule with a typo and a job definition nobody listed in JOB_GRANTS
    # Then each is refused with a message saying what to fix
    with pytest.raises(ValueError, match="evaluateOnExit"):
        retry_strategies(({"onExitcode": "3", "action": "EXIT"},))
    with pytest.raises(LookupError, match="JOB_GRANTS"):
        grants_for_job("thumbnailer")
