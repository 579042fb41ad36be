"""Create Keyframe's AWS resources on an emulator from the definitions the CDK app uses.

What :func:`bootstrap` creates (each step idempotent: an existing resource is kept or updated):

- every table of :data:`keyframe.storage.tables.TABLES` (``keyframe-{stage}-{key}``, TTL, streams);
- the media bucket ``keyframe-{stage}-media``: versioning on, CORS allowing ``PUT``/``GET``/``HEAD``
  from any origin and exposing ``ETag`` (browsers upload parts with presigned URLs);
- the SES identity of the e-mail sender (the domain of ``MAIL_FROM``, default :data:`MAIL_FROM`);
- the JWT signing secret ``keyframe/{stage}/jwt-signing-keys`` = ``{"kid": "{stage}-1", "secret": …}``;
- the Batch compute environment, the job queue ``keyframe-{stage}-jobs`` and every job definition
  of :data:`keyframe.local.batch.JOB_DEFINITIONS`;
- one Step Functions state machine per ``statemachines/<stem>.asl.json``, named
  ``keyframe-{stage}-<stem with - for _>``; its ARN is exported as ``<STEM>_STATE_MACHINE_ARN``
  (``asset_pipeline.asl.json`` -> ``ASSET_PIPELINE_STATE_MACHINE_ARN``).

Placeholders in state machine definitions
------------------------------------------
An ASL file refers to resources as ``${Name}`` (CDK's ``definitionSubstitutions`` syntax). The names:

=================================  ==========================================================
``${<Fn>FunctionArn}``             ARN of registry function ``<fn>`` in CamelCase: ``validate``
                                   -> ``${ValidateFunctionArn}``, ``pipeline-probe`` ->
                                   ``${PipelineProbeFunctionArn}`` (:func:`function_placeholder`)
``${JobQueueArn}``                 the Batch job queue
``${<Def>JobDefinitionArn}``       a job definition of ``JOB_DEFINITIONS`` (``render`` ->
                                   ``${RenderJobDefinitionArn}``)
``${<Stem>StateMachineArn}``       another state machine (``render`` -> ``${RenderStateMachineArn}``)
``${<Table>TableName}``            a table (``catalog`` -> ``${CatalogTableName}``)
``${MediaBucket}``                 the media bucket name
``${Stage}`` ``${Region}``         stage, region and account id
``${AccountId}``
=================================  ==========================================================

An unknown placeholder is an error (:class:`ValueError` naming the file and the placeholder), so a
typo fails at ``make dev`` rather than in a running execution. The CDK app should pass the same
names to ``definition_substitutions`` (:func:`substitution_names` lists them).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterable
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from keyframe import registry
from keyframe.identity import token_keys
from keyframe.local import batch
from keyframe.local.defaults import MAIL_FROM
from keyframe.local.handlers import LOCAL_ACCOUNT_ID
from keyframe.storage.tables import TABLES, create_tables
from keyframe.substitutions import (
    camel,
    function_placeholder,
    job_definition_env_var,
    state_machine_env_var,
)

log = logging.getLogger("keyframe.local.bootstrap")

STATE_MACHINES_DIR = registry.REPO_ROOT / "statemachines"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class Session(Protocol):
    """Anything with ``client(service_name)`` (a boto3 or localstack-client session)."""

    def client(self, service_name: str, **kwargs: Any) -> Any:  # pragma: no cover - protocol
        """A boto3 client."""


def media_bucket(stage: str) -> str:
    """The media bucket name: ``keyframe-{stage}-media``."""
    return f"keyframe-{stage}-media"


def jwt_secret_name(stage: str) -> str:
    """The JWT signing secret name: ``keyframe/{stage}/jwt-signing-keys``."""
    return f"keyframe/{stage}/jwt-signing-keys"


def state_machine_files(directory: Path | None = None) -> list[Path]:
    """Every ``*.asl.json`` in ``directory`` (default ``statemachines/``), sorted."""
    folder = directory or STATE_MACHINES_DIR
    return sorted(folder.glob("*.asl.json")) if folder.is_dir() else []


def state_machine_stem(path: Path) -> str:
    """``statemachines/asset_pipeline.asl.json`` -> ``asset_pipeline``."""
    return path.name.removesuffix(".asl.json")


def state_machine_name(stem: str, stage: str) -> str:
    """``asset_pipeline`` -> ``keyframe-{stage}-asset-pipeline``."""
    return f"keyframe-{stage}-{stem.replace('_', '-')}"


def state_machine_arn(stem: str, stage: str, account_id: str, region: str) -> str:
    """The ARN Step Functions gives the state machine of ``stem``."""
    return f"arn:aws:states:{region}:{account_id}:stateMachine:{state_machine_name(stem, stage)}"


def substitutions(
    stage: str,
    *,
    account_id: str = LOCAL_ACCOUNT_ID,
    region: str = "us-east-1",
    job_definition_arns: dict[str, str] | None = None,
    directory: Path | None = None,
) -> dict[str, str]:
    """Every placeholder value for ``stage`` (see the module docstring for the names).

    ``job_definition_arns`` (logical name -> ARN with revision) overrides the default ``…:1`` ARNs.
    """
    values: dict[str, str] = {
        "Stage": stage,
        "Region": region,
        "AccountId": account_id,
        "MediaBucket": media_bucket(stage),
    }
    for spec in (*registry.FUNCTIONS, registry.MEDIA_DERIVE):
        values[function_placeholder(spec.name)] = (
            f"arn:aws:lambda:{region}:{account_id}:function:keyframe-{stage}-{spec.name}"
        )
    for table in TABLES:
        values[f"{camel(table.key)}TableName"] = table.physical_name(stage)
    values["JobQueueArn"] = (
        f"arn:aws:batch:{region}:{account_id}:job-queue/keyframe-{stage}-{batch.JOB_QUEUE}"
    )
    for definition in batch.JOB_DEFINITIONS:
        values[f"{camel(definition.name)}JobDefinitionArn"] = (job_definition_arns or {}).get(
            definition.name,
            f"arn:aws:batch:{region}:{account_id}:job-definition/{definition.physical_name(stage)}:1",
        )
    for path in state_machine_files(directory):
        stem = state_machine_stem(path)
        values[f"{camel(stem)}StateMachineArn"] = state_machine_arn(stem, stage, account_id, region)
    return values


def substitution_names(directory: Path | None = None) -> list[str]:
    """The placeholder names an ASL file may use (for the CDK app and the docs)."""
    return sorted(substitutions("x", directory=directory))


def render_definition(text: str, values: dict[str, str], source: str = "definition") -> str:
    """Fill ``${Name}`` placeholders of an ASL document and check the result is JSON.

    Raises
    ------
    ValueError
        A placeholder has no value, or the result is not valid JSON.
    """
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(text)} - values.keys())
    if missing:
        raise ValueError(f"{source}: unknown placeholder(s) {', '.join('${' + m + '}' for m in missing)}")
    rendered = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    try:
        json.loads(rendered)
    except ValueError as exc:
        raise ValueError(f"{source}: not valid JSON after substitution: {exc}") from exc
    return rendered


def state_machine_definitions(
    stage: str,
    *,
    account_id: str = LOCAL_ACCOUNT_ID,
    region: str = "us-east-1",
    directory: Path | None = None,
    job_definition_arns: dict[str, str] | None = None,
) -> dict[str, str]:
    """Every ``statemachines/*.asl.json`` with its placeholders filled for ``stage``.

    Returns
    -------
    dict
        ``{stem: definition JSON text}``, e.g. ``{"asset_pipeline": "{...}"}``.

    Raises
    ------
    ValueError
        See :func:`render_definition`.
    """
    values = substitutions(
        stage,
        account_id=account_id,
        region=region,
        job_definition_arns=job_definition_arns,
        directory=directory,
    )
    return {
        state_machine_stem(path): render_definition(path.read_text(), values, str(path))
        for path in state_machine_files(directory)
    }


# ---------------------------------------------------------------------------------- resources
def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def account_of(session: Session) -> str:
    """The account id the emulator answers with (moto: 123456789012, LocalStack: 000000000000)."""
    try:
        return str(session.client("sts").get_caller_identity()["Account"])
    except Exception:  # an emulator without STS: moto's default
        return LOCAL_ACCOUNT_ID


def ensure_tables(session: Session, stage: str) -> dict[str, str]:
    """Every table of ``TABLES``; returns ``{env_var: table name}``."""
    client = session.client("dynamodb")
    names = create_tables(client, stage)
    waiter = client.get_waiter("table_exists")
    for name in names.values():
        waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return names


def ensure_media_bucket(session: Session, stage: str, region: str) -> str:
    """The media bucket with versioning and browser-upload CORS; returns its name."""
    s3 = session.client("s3")
    name = media_bucket(stage)
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as exc:
        if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": ["*"],
                    "AllowedMethods": ["PUT", "GET", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    return name


def ensure_jwt_secret(session: Session, stage: str) -> str:
    """The signing secret (kept if it exists) with a KMS token key listed; returns its name.

    The secret holds the cursor HMAC keys and the keyring of access-token keys
    (:mod:`keyframe.keys`); the first token key is created in the emulator's KMS, as the stack
    creates it in KMS (same code path: ``kms:Sign`` / ``kms:GetPublicKey``).
    """
    client = session.client("secretsmanager")
    kms = session.client("kms")
    name = jwt_secret_name(stage)
    try:
        client.describe_secret(SecretId=name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        # the first value already lists the token key (a snapshot keeps the secret's value)
        first_key = {"kid": token_keys.create_kms_key(kms, stage), "activeFrom": 0}
        document = {"kid": f"{stage}-1", "secret": secrets.token_urlsafe(48), "tokenKeys": [first_key]}
        client.create_secret(
            Name=name, Description="Keyframe signing keys (local stack)", SecretString=json.dumps(document)
        )
    token_keys.ensure_token_key(secret_name=name, stage=stage, kms=kms, secretsmanager=client)
    return name


def ensure_mail_identity(session: Session, sender: str) -> str:
    """Verify the domain of ``sender`` in the emulator's SES (emulators refuse unverified senders).

    Returns ``sender`` (the ``MAIL_FROM`` of the functions).
    """
    domain = parseaddr(sender)[1].rpartition("@")[2]
    try:
        session.client("sesv2").create_email_identity(EmailIdentity=domain)
    except ClientError as exc:
        if _code(exc) != "AlreadyExistsException":
            raise
    return sender


def ensure_role(session: Session, name: str, service: str) -> str:
    """An IAM role trusted by ``service`` (emulators check that roles exist); returns its ARN."""
    iam = session.client("iam")
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"])


def ensure_batch(
    session: Session, stage: str, definitions: Iterable[batch.JobDefinitionSpec] | None = None
) -> dict[str, str]:
    """Compute environment, job queue and job definitions.

    Returns
    -------
    dict
        ``{"JobQueueArn": arn, <logical job definition name>: ARN with revision, ...}``.
    """
    client = session.client("batch")
    role = ensure_role(session, f"keyframe-{stage}-batch-service", "batch.amazonaws.com")
    ce_name = f"keyframe-{stage}-{batch.COMPUTE_ENVIRONMENT}"
    found = client.describe_compute_environments(computeEnvironments=[ce_name])["computeEnvironments"]
    if found:
        ce_arn = found[0]["computeEnvironmentArn"]
    else:
        ce_arn = client.create_compute_environment(
            computeEnvironmentName=ce_name, type="UNMANAGED", state="ENABLED", serviceRole=role
        )["computeEnvironmentArn"]
    queue_name = f"keyframe-{stage}-{batch.JOB_QUEUE}"
    queues = client.describe_job_queues(jobQueues=[queue_name])["jobQueues"]
    if queues:
        queue_arn = queues[0]["jobQueueArn"]
    else:
        queue_arn = client.create_job_queue(
            jobQueueName=queue_name,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce_arn}],
        )["jobQueueArn"]
    arns = {"JobQueueArn": queue_arn}
    for spec in batch.JOB_DEFINITIONS if definitions is None else definitions:
        arns[spec.name] = ensure_job_definition(client, spec, stage)
    return arns


def ensure_job_definition(client: Any, spec: batch.JobDefinitionSpec, stage: str) -> str:
    """Register ``spec`` unless its latest active revision already has the same command; returns the ARN."""
    request = spec.register_request(stage)
    existing = client.describe_job_definitions(
        jobDefinitionName=request["jobDefinitionName"], status="ACTIVE"
    )
    latest = max(existing.get("jobDefinitions", []), key=lambda d: d.get("revision", 0), default=None)
    if latest and (latest.get("containerProperties") or {}).get("command") == list(spec.command):
        return str(latest["jobDefinitionArn"])
    return str(client.register_job_definition(**request)["jobDefinitionArn"])


def ensure_state_machines(
    session: Session,
    stage: str,
    *,
    account_id: str,
    region: str,
    job_definition_arns: dict[str, str] | None = None,
    directory: Path | None = None,
) -> dict[str, str]:
    """Create or update one state machine per ASL file; returns ``{ENV_VAR: state machine ARN}``.

    A file that cannot be rendered (unknown placeholder, invalid JSON) or is refused by the emulator
    is skipped with an ERROR log naming it, so one broken definition does not stop the whole stack;
    its ``<STEM>_STATE_MACHINE_ARN`` is then missing and the functions needing it say so.
    """
    values = substitutions(
        stage,
        account_id=account_id,
        region=region,
        job_definition_arns=job_definition_arns,
        directory=directory,
    )
    definitions: dict[str, str] = {}
    for path in state_machine_files(directory):
        try:
            definitions[state_machine_stem(path)] = render_definition(path.read_text(), values, str(path))
        except ValueError as exc:
            log.error("state machine skipped: %s", exc)
    if not definitions:
        return {}
    client = session.client("stepfunctions")
    role = ensure_role(session, f"keyframe-{stage}-states", "states.amazonaws.com")
    existing: dict[str, str] = {}
    for page in client.get_paginator("list_state_machines").paginate():
        existing.update({m["name"]: m["stateMachineArn"] for m in page["stateMachines"]})
    env: dict[str, str] = {}
    for stem, definition in definitions.items():
        name = state_machine_name(stem, stage)
        try:
            if name in existing:
                client.update_state_machine(
                    stateMachineArn=existing[name], definition=definition, roleArn=role
                )
                arn = existing[name]
            else:
                arn = client.create_state_machine(
                    name=name, definition=definition, roleArn=role, type="STANDARD"
                )["stateMachineArn"]
        except ClientError as exc:
            log.error("state machine %s skipped: %s", name, exc)
            continue
        env[state_machine_env_var(stem)] = arn
    return env


def ensure_webhook_queue(session: Session, stage: str) -> str:
    """The SQS queue of webhook deliveries, ``keyframe-{stage}-webhook-deliveries`` (its URL)."""
    return str(
        session.client("sqs").create_queue(QueueName=f"keyframe-{stage}-webhook-deliveries")["QueueUrl"]
    )


def bootstrap(
    session: Session,
    stage: str,
    *,
    region: str = "us-east-1",
    with_batch: bool = True,
    state_machines_dir: Path | None = None,
    mail_from: str = MAIL_FROM,
) -> dict[str, str]:
    """Create every resource (idempotent) and return the environment variables naming them.

    Parameters
    ----------
    session:
        Clients for the emulator (moto server or LocalStack).
    stage:
        ``local`` for ``make dev``.
    with_batch:
        Also create the Batch queue and job definitions (a failure there is logged, not raised,
        since an emulator may not offer Batch).

    Returns
    -------
    dict
        Table variables, ``MEDIA_BUCKET``, ``JWT_SECRET_NAME``, ``MAIL_FROM`` (its domain verified
        in SES), ``WEBHOOK_QUEUE_URL``, ``BATCH_JOB_QUEUE_ARN``, one
        ``<NAME>_JOB_DEFINITION_ARN`` per job definition and one ``<STEM>_STATE_MACHINE_ARN`` per
        state machine.
    """
    account_id = account_of(session)
    env = dict(ensure_tables(session, stage))
    env["MEDIA_BUCKET"] = ensure_media_bucket(session, stage, region)
    env["JWT_SECRET_NAME"] = ensure_jwt_secret(session, stage)
    env["MAIL_FROM"] = ensure_mail_identity(session, mail_from)
    env["WEBHOOK_QUEUE_URL"] = ensure_webhook_queue(session, stage)
    job_arns: dict[str, str] = {}
    if with_batch:
        try:
            job_arns = ensure_batch(session, stage)
            env["BATCH_JOB_QUEUE_ARN"] = job_arns.pop("JobQueueArn")
            env.update({job_definition_env_var(name): arn for name, arn in job_arns.items()})
        except (BotoCoreError, ClientError, KeyError) as exc:  # e.g. LocalStack without Batch
            log.warning("Batch resources not created: %s", exc)
    env.update(
        ensure_state_machines(
            session,
            stage,
            account_id=account_id,
            region=region,
            job_definition_arns=job_arns,
            directory=state_machines_dir,
        )
    )
    return env
