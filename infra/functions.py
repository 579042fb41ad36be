"""One Lambda function per ``keyframe.registry.FUNCTIONS`` entry, all made by one factory.

Each function: code from ``functions/<directory>``, the shared layer, Python 3.13 on arm64, X-Ray
tracing, its own log group with the stage's retention, its own role holding only its log group and
the accesses listed for it in :data:`infra.grants.GRANTS`, and the reserved concurrency of its class
(``StageDefaults.reserved_concurrency``). Each deploy publishes a version; callers invoke the ``live``
alias (:meth:`Functions.alias`), never ``$LATEST``. :meth:`Functions.deploy_safely` moves the alias of
each API function through CodeDeploy (prod: 10 % of requests for 5 minutes first), rolling back by
itself when the function's error or latency alarm fires. A function that answers API Gateway (``api``,
``authorizer``, ``websocket``) must time out within the 29 s integration timeout; the synth refuses one
that does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Size
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from infra.config import StageConfig
from infra.grants import GRANTS, Access, Resources, check_complete, grants_for
from infra.lambda_function import lambda_function
from keyframe import registry
from keyframe.registry import FunctionSpec

METRICS_NAMESPACE = "Keyframe"

LIVE_ALIAS = "live"
"""The alias every caller invokes (API Gateway, authorizers, state machines, EventBridge): each deploy
publishes a version and moves this alias to it (through CodeDeploy for API functions)."""

INTEGRATION_TIMEOUT_SECONDS = 29
"""API Gateway's integration timeout (REST and WebSocket): a function answering a request must stop
before it, or the caller gets a gateway timeout while the function still runs (and may still write)."""

REQUEST_KINDS = ("api", "authorizer", "websocket")
"""Function classes that answer an API Gateway request: they must stop within its integration timeout."""


def construct_id(spec: FunctionSpec) -> str:
    """``identity-api`` -> ``IdentityApi``."""
    return "".join(part.capitalize() for part in spec.name.replace("_", "-").split("-"))


class Functions(Construct):
    """Every Lambda function of the registry.

    Parameters
    ----------
    config:
        The stage.
    layer:
        The shared layer.
    environment:
        Variables every function gets (stage, table names, bucket, secret, JWT claims, CORS, live API);
        ``POWERTOOLS_SERVICE_NAME`` is added per function.
    specs / grants:
        Default to ``keyframe.registry.FUNCTIONS`` and :data:`infra.grants.GRANTS` (tests pass others).
    extra_layers:
        Layers every function here gets after the shared one (the FFmpeg layer of the derive function).

    Raises
    ------
    LookupError
        A function without a GRANTS entry, or a GRANTS entry without a function (checked at once).
    FileNotFoundError
        A function's ``functions/<directory>/`` handler file is missing.

    Notes
    -----
    The grants are applied by :meth:`grant` once every resource exists (the stack calls it last), so
    a construct created after the functions (a state machine running them, say) can still be named in
    :data:`infra.grants.GRANTS`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        config: StageConfig,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        specs: tuple[FunctionSpec, ...] | None = None,
        grants: Mapping[str, tuple[Access, ...]] | None = None,
        extra_layers: Sequence[lambda_.ILayerVersion] = (),
    ) -> None:
        super().__init__(scope, construct_id_)
        self._extra_layers = list(extra_layers)
        specs = registry.FUNCTIONS if specs is None else specs
        grants = GRANTS if grants is None else grants
        check_complete([spec.name for spec in specs], grants)
        self._grants = {spec.name: grants_for(spec.name, grants) for spec in specs}
        self._functions: dict[str, lambda_.Function] = {
            spec.name: self._function(spec, config, layer, environment) for spec in specs
        }
        self._config = config
        self._aliases: dict[str, lambda_.Alias] = {
            name: lambda_.Alias(
                function.node.scope,  # type: ignore[arg-type]
                "Live",
                alias_name=LIVE_ALIAS,
                version=function.current_version,
                description=f"what callers of {name} invoke; moved by each deploy",
            )
            for name, function in self._functions.items()
        }
        self.deployment_groups: dict[str, codedeploy.LambdaDeploymentGroup] = {}

    def grant(self, resources: Resources) -> None:
        """Give each function exactly the accesses its GRANTS entry lists, on ``resources``."""
        for name, function in self._functions.items():
            for access in self._grants[name]:
                access.apply(function, resources)
            _suppress_policy_findings(function.role)

    def _function(
        self,
        spec: FunctionSpec,
        config: StageConfig,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
    ) -> lambda_.Function:
        if not spec.handler_path.is_file():
            raise FileNotFoundError(
                f"Function {spec.name!r}: handler {spec.handler_path} does not exist "
                "(keyframe.registry.FUNCTIONS names it)"
            )
        if spec.kind in REQUEST_KINDS and spec.timeout_seconds > INTEGRATION_TIMEOUT_SECONDS:
            raise ValueError(
                f"Function {spec.name!r} ({spec.kind}): timeout {spec.timeout_seconds} s exceeds API "
                f"Gateway's {INTEGRATION_TIMEOUT_SECONDS} s integration timeout (keyframe.registry.FUNCTIONS)"
            )
        return lambda_function(
            Construct(self, construct_id(spec)),
            config=config,
            role_description=f"{config.name} {spec.name}: only its log group and its GRANTS entry",
            description=f"Keyframe {spec.name} ({spec.kind})",
            code=lambda_.Code.from_asset(
                str(spec.handler_path.parent), exclude=["__pycache__", "*.pyc", "tests"]
            ),
            handler=spec.handler,
            layers=[layer, *self._extra_layers],
            memory_size=spec.memory_mb,
            ephemeral_storage_size=Size.mebibytes(spec.ephemeral_mb) if spec.ephemeral_mb != 512 else None,
            timeout=Duration.seconds(spec.timeout_seconds),
            reserved_concurrent_executions=config.defaults.reserved_concurrency.get(spec.kind),
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": spec.name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
            tracing=lambda_.Tracing.ACTIVE,
        )

    def __getitem__(self, name: str) -> lambda_.Function:
        return self._functions[name]

    def alias(self, name: str) -> lambda_.Alias:
        """The ``live`` alias of the function ``name``: what every caller invokes."""
        return self._aliases[name]

    def aliases(self) -> dict[str, lambda_.Alias]:
        """Function name -> its ``live`` alias, in registry order."""
        return dict(self._aliases)

    def deploy_safely(self, rollback_alarms: Mapping[str, Sequence[cloudwatch.IAlarm]]) -> None:
        """Move each named function's alias through CodeDeploy, rolling back on its alarms.

        Parameters
        ----------
        rollback_alarms:
            Function name -> the alarms that stop and roll back its deployment (its errors and p99
            latency: :attr:`infra.monitoring.Monitoring.api_function_alarms`). The stage's
            ``deployment_config`` paces the shift (prod: canary 10 % for 5 minutes).
        """
        if not rollback_alarms:
            return
        application = codedeploy.LambdaApplication(
            self, "Deployments", application_name=f"{self._config.name}-functions"
        )
        config = getattr(codedeploy.LambdaDeploymentConfig, self._config.defaults.deployment_config)
        for name, alarms in rollback_alarms.items():
            group = codedeploy.LambdaDeploymentGroup(
                self._functions[name].node.scope,  # type: ignore[arg-type]
                "Deployment",
                application=application,
                alias=self._aliases[name],
                deployment_config=config,
                alarms=list(alarms),
                auto_rollback=codedeploy.AutoRollbackConfig(
                    failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
                ),
            )
            NagSuppressions.add_resource_suppressions(
                group,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM4",
                        reason="AWSCodeDeployRoleForLambdaLimited is the AWS-maintained least-privilege "
                        "policy of a Lambda deployment (shift the alias, read its alarms, invoke hooks).",
                        applies_to=[
                            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                            "AWSCodeDeployRoleForLambdaLimited"
                        ],
                    )
                ],
                apply_to_children=True,
            )
            self.deployment_groups[name] = group

    def items(self) -> list[tuple[str, lambda_.Function]]:
        """``(name, function)`` in registry order."""
        return list(self._functions.items())


def _suppress_policy_findings(role: iam.IRole | None) -> None:
    # The wildcards are in the role's default policy (X-Ray, table indexes); suppress them there only.
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    if policy is None:
        return
    NagSuppressions.add_resource_suppressions(
        policy,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; "
                "tracing is active on every function.",
                applies_to=["Resource::*"],
            ),
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="'<table>/index/*' covers the GSIs of a table that GRANTS lets this function use "
                "(the same actions as on the table itself).",
                applies_to=[RegexAppliesTo(regex="/^Resource::<.+\\.?Arn>\\/index\\/\\*$/g")],
            ),
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="Media objects of every studio live under 'studios/{studioId}/'; the function "
                "derives the studio from the verified caller, so the grant stops at the prefix.",
                applies_to=[RegexAppliesTo(regex="/^Resource::<.+\\.?Arn>\\/studios\\/\\*$/g")],
            ),
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="@connections/{connectionId}: connection ids exist only at runtime; the grant is "
                "limited to the live WebSocket API's own stage.",
                applies_to=[
                    RegexAppliesTo(regex="/^Resource::arn:.+:execute-api:.+\\/@connections\\/\\*$/g")
                ],
            ),
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="'execution:<state machine>:*': execution names (an upload id, a reprocess run) "
                "exist only at run time; the grant covers the executions of the one state machine that "
                "GRANTS lets this function start (StartStateMachine).",
                applies_to=[
                    RegexAppliesTo(regex="/^Resource::arn:<AWS::Partition>:states:.+:execution:.+:\\*$/g")
                ],
            ),
        ],
        apply_to_children=True,
    )
