"""``KeyframeStack``: every construct of Keyframe, composed in dependency order.

A later concern adds one construct here, before the final ``grant`` calls. The asset pipeline shows
the pattern: ``BatchJobs`` (``infra/batch.py``: VPC, Fargate compute environment, normal and
high-priority queues, the media image) is shared; ``AssetPipeline`` (``infra/pipeline.py``) adds its
job definition to it and deploys ``statemachines/asset_pipeline.asl.json`` with ``AslStateMachine``,
which also sets ``ASSET_PIPELINE_STATE_MACHINE_ARN`` on the functions whose GRANTS entry lists
``StartStateMachine("asset_pipeline")``. ``infra/renders.py`` does the same for the render workflow.
Access to the new resources is listed in ``infra/grants.py`` (``Resources.state_machines`` for a
state machine, ``JOB_GRANTS`` for a Batch job's role), like every other grant.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import NestedStack, Stack, Tags
from constructs import Construct

from infra.analytics import Analytics
from infra.api import RestApi
from infra.backup import DataBackup
from infra.batch import BatchJobs
from infra.config import StageConfig
from infra.digest import DailyDigest
from infra.functions import Functions
from infra.grants import CONSUMER_GRANTS, Resources, starters
from infra.identity import Identity
from infra.layer import SharedLayer
from infra.live import LiveApi
from infra.mail import Mail
from infra.media_fast_path import MediaFastPath
from infra.monitoring import Monitoring
from infra.outbox import OutboxConsumer
from infra.pipeline import STEM as ASSET_PIPELINE
from infra.pipeline import AssetPipeline
from infra.renders import STEM as RENDER
from infra.renders import RenderJobs
from infra.secret_rotation import SigningSecretRotation
from infra.storage import MediaStorage
from infra.tables import Tables
from infra.waf import RestApiFirewall
from keyframe import registry
from keyframe.registry import Endpoint
from keyframe.storage.tables import CATALOG


class KeyframeStack(Stack):
    """Keyframe's whole backend for one stage.

    Parameters
    ----------
    config:
        The stage (``infra.config.StageConfig``).
    endpoints:
        REST routes; defaults to ``keyframe.registry.endpoints()``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        endpoints: Sequence[Endpoint] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, description=f"Keyframe backend ({config.name})", **kwargs)
        self.config = config
        Tags.of(self).add("project", "keyframe")
        Tags.of(self).add("stage", config.stage)

        self.storage = MediaStorage(self, "Storage", config=config)
        self.tables = Tables(self, "Tables", config=config)
        self.backup = (
            DataBackup(
                self,
                "Backup",
                config=config,
                tables=[table for _, table in self.tables.items()],
                bucket=self.storage.bucket,
            )
            if config.defaults.backup
            else None
        )
        self.identity = Identity(self, "Identity", config=config)
        self.mail = Mail(self, "Mail", config=config)
        self.layer = SharedLayer(self, "SharedLayer")
        self.live = LiveApi(self, "Live", config=config)
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            layer=self.layer.layer,
            environment=self.function_environment(),
        )
        self.live.add_routes(
            {route: self.functions.alias(name) for route, name in registry.WEBSOCKET_ROUTES.items()},
            connect_authorizer=self.live.ticket_authorizer(
                self.functions.alias(registry.WEBSOCKET_AUTHORIZER)
            )
            if registry.WEBSOCKET_AUTHORIZER
            else None,
        )
        self.rest_api = RestApi(
            self,
            "RestApi",
            config=config,
            functions=self.functions.aliases(),
            endpoints=registry.endpoints() if endpoints is None else endpoints,
        )
        self.firewall = RestApiFirewall(self, "Firewall", config=config, api=self.rest_api.api)
        # The WebSocket stage's access logs also need the account's API Gateway logging role.
        if self.rest_api.account is not None:
            self.live.stage.node.add_dependency(self.rest_api.account)
        # Alarms, the dashboard and the alarm topic live in a nested stack: CloudFormation allows 500
        # resources per stack, and the REST API's methods and the functions alone come close to it.
        self.monitoring_stack = NestedStack(
            self, "MonitoringStack", description=f"Keyframe alarms and dashboard ({config.name})"
        )
        self.monitoring = Monitoring(
            self.monitoring_stack,
            "Monitoring",
            config=config,
            rest_api=self.rest_api.api,
            functions=self.functions.items(),
            function_kinds={spec.name: spec.kind for spec in registry.FUNCTIONS},
            # the topic and its key keep their place (and logical ids) in this stack: "Monitoring" here
            topic_home=Construct(self, "Monitoring"),
        )
        self.monitoring.watch_tables([(spec.key, table) for spec, table in self.tables.items()])
        self.monitoring.watch_live(self.live.api, self.live.stage)
        # The Batch network, compute environments and queues: a nested stack too (same limit).
        self.batch_stack = NestedStack(
            self, "BatchStack", description=f"Keyframe Batch network, compute and queues ({config.name})"
        )
        self.batch = BatchJobs(self.batch_stack, "Batch", config=config, monitoring=self.monitoring)
        self.monitoring.watch_batch(self.batch.queues, self.batch.vpc)
        # The pipeline's Lambda derive (sources up to 1 GiB) and its FFmpeg layer: a nested stack.
        self.media_fast_path = MediaFastPath(
            self,
            "MediaFastPath",
            config=config,
            layer=self.layer.layer,
            environment=self.function_environment(),
        )
        self.pipeline = AssetPipeline(
            self,
            "Pipeline",
            config=config,
            functions=self.functions,
            jobs=self.batch,
            environment=self.function_environment(),
            monitoring=self.monitoring,
            fast_path={registry.MEDIA_DERIVE.name: self.media_fast_path.function},
        )
        self.renders = RenderJobs(
            self,
            "Renders",
            config=config,
            functions=self.functions,
            jobs=self.batch,
            environment=self.function_environment(),
            monitoring=self.monitoring,
        )
        self.outbox = OutboxConsumer(
            self,
            "Outbox",
            config=config,
            table=self.tables[CATALOG],
            layer=self.layer.layer,
            environment=self.function_environment(),
            resources=self.resources(),
            monitoring=self.monitoring,
        )
        # The signing secret rotates itself (cursor key, token keys) on a schedule.
        self.secret_rotation = SigningSecretRotation(
            self,
            "SecretRotation",
            config=config,
            secret=self.identity.signing_secret,
            layer=self.layer.layer,
            environment=self.function_environment(),
            resources=self.resources(),
            monitoring=self.monitoring,
        )
        # The outbox consumer queues renders (keyframe.renders.triggers): the render machine and queue.
        launchers = [self.outbox.functions[name] for name in starters(RENDER, CONSUMER_GRANTS)]
        self.renders.configure_launchers(launchers)
        # Analytics (Firehose -> S3 -> Glue): a nested stack; functions name its stream by its fixed
        # name (infra.grants.PutAnalyticsRecords), so nothing here references it.
        self.analytics = Analytics(self, "Analytics", config=config, monitoring=self.monitoring)
        # The daily notification digest (an EventBridge rule and its function): a nested stack.
        self.digest = DailyDigest(
            self,
            "Digest",
            config=config,
            layer=self.layer.layer,
            environment=self.function_environment(),
            resources=self.resources(),
            monitoring=self.monitoring,
        )
        # Last: every resource a GRANTS (functions) or JOB_GRANTS (Batch jobs) entry may name exists now.
        self.functions.grant(self.resources())
        self.media_fast_path.functions.grant(self.resources())
        self.batch.grant(self.resources())
        # API functions move to a new version through CodeDeploy, rolling back on their alarms.
        self.functions.deploy_safely(self.monitoring.api_function_alarms)
        self.monitoring.finish()

    def resources(self) -> Resources:
        """What ``infra.grants.GRANTS`` entries may name (extend it with the resources of later concerns)."""
        return Resources(
            tables=self.tables,
            media_bucket=self.storage.bucket,
            signing_secret=self.identity.signing_secret,
            live=self.live,
            stage=self.config.name,
            state_machines={ASSET_PIPELINE: self.pipeline.state_machine, RENDER: self.renders.state_machine},
            mail_identity_arn=self.mail.identity_arn,
            mail_from_address=self.mail.from_address,
            webhook_queue=self.outbox.deliveries if hasattr(self, "outbox") else None,
        )

    def function_environment(self) -> dict[str, str]:
        """What every function's settings (``keyframe.settings``) read: names, never secrets."""
        return {
            "STAGE": self.config.stage,
            "MEDIA_BUCKET": self.storage.bucket.bucket_name,
            "JWT_SECRET_NAME": self.identity.signing_secret.secret_arn,
            "JWT_ISSUER": self.identity.issuer,
            "JWT_AUDIENCE": self.identity.audience,
            "CORS_ALLOW_ORIGINS": ",".join(self.config.cors_origins),
            "POWERTOOLS_LOG_LEVEL": "INFO",
            # Keyframe uses no pydantic plugin: skip the entry-point scan of the layer at each cold start
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
            "LIVE_WEBSOCKET_URL": self.live.stage.url,
            "LIVE_CONNECTIONS_ENDPOINT": self.live.stage.callback_url,
            "MAIL_FROM": self.mail.sender,
            "FRONTEND_URL": self.mail.frontend_url,
            **{spec.env_var: table.table_name for spec, table in self.tables.items()},
        }
