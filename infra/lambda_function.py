"""One Lambda function as Keyframe makes them, each with its own log group and role.

:class:`infra.functions.Functions` makes every registry function with it; functions outside the layer
(the Batch backlog monitor of :meth:`infra.monitoring.Monitoring.watch_batch`) too. It imports nothing
of the stack's other constructs, so any of them can use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from infra.layer import ARCHITECTURE, RUNTIME


def lambda_function(
    scope: Construct,
    *,
    config: StageConfig,
    role_description: str,
    description: str,
    code: lambda_.Code,
    handler: str,
    memory_size: int,
    timeout: Duration,
    environment: Mapping[str, str],
    layers: Sequence[lambda_.ILayerVersion] | None = None,
    ephemeral_storage_size: Size | None = None,
    reserved_concurrent_executions: int | None = None,
    tracing: lambda_.Tracing | None = None,
    ids: tuple[str, str, str] = ("Logs", "Role", "Function"),
) -> lambda_.Function:
    """A Lambda function as Keyframe makes them: its runtime and architecture (:data:`infra.layer.RUNTIME`,
    :data:`infra.layer.ARCHITECTURE`), its own log group (the stage's retention and removal policy) and
    its own role, which may only write that log group until the caller grants more.

    Used by :class:`infra.functions.Functions` for every registry function and by the functions that
    are not in the layer (the Batch backlog monitor of :meth:`infra.monitoring.Monitoring.watch_batch`).

    Parameters
    ----------
    scope:
        Where the log group, role and function are made, with the construct ids ``ids`` (log group,
        role, function).
    role_description:
        The role's description (what it may do).
    description, code, handler, memory_size, timeout, environment, layers, tracing:
        As ``aws_lambda.Function`` takes them (as do ``ephemeral_storage_size`` and
        ``reserved_concurrent_executions``).
    """
    log_group_id, role_id, function_id = ids
    log_group = logs.LogGroup(
        scope, log_group_id, retention=config.log_retention, removal_policy=config.removal_policy
    )
    role = iam.Role(
        scope,
        role_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        function_id,
        description=description,
        code=code,
        handler=handler,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        layers=None if layers is None else list(layers),
        memory_size=memory_size,
        ephemeral_storage_size=ephemeral_storage_size,
        timeout=timeout,
        reserved_concurrent_executions=reserved_concurrent_executions,
        environment=dict(environment),
        tracing=tracing,
        log_group=log_group,
        role=role,
    )
    _suppress_runtime_finding(function)
    return function


def _suppress_runtime_finding(function: lambda_.Function) -> None:
    NagSuppressions.add_resource_suppressions(
        function,
        [
            NagPackSuppression(
                id="AwsSolutions-L1",
                reason="Pinned to python3.13: the shared layer is built from cp313 arm64 wheels, and the "
                "runtime moves with the layer in one change, not whenever a newer runtime ships.",
            )
        ],
    )
