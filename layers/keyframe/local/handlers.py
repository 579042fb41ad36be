"""Loading a function's handler file and the context it is called with, in any local process.

Shared by :mod:`keyframe.local.lambdas` (in-process calls) and :mod:`keyframe.local.zygote` (the
execution environments), so neither needs the other.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import uuid
from dataclasses import dataclass, field
from types import ModuleType

from keyframe import registry

LOCAL_ACCOUNT_ID = "123456789012"
"""The account id moto answers with; Lambda ARNs on the local stack use it."""

_lock = threading.RLock()
_modules: dict[str, ModuleType] = {}


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        """A well-formed ARN for the function."""
        return f"arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Always plenty: local calls are not cut short."""
        return 300_000


def physical_name(name: str, stage: str | None = None) -> str:
    """The Lambda function name of registry function ``name``: ``keyframe-{stage}-{name}``."""
    return f"keyframe-{stage or os.environ.get('STAGE', 'local')}-{name}"


def handler_module(name: str) -> ModuleType:
    """Import ``functions/<dir>/handler.py`` of the function ``name`` (once per process, thread-safe)."""
    with _lock:
        module = _modules.get(name)
        if module is None:
            spec = registry.function(name)
            module_spec = importlib.util.spec_from_file_location(
                f"keyframe_functions_{spec.directory.replace('/', '_')}_{spec.handler.split('.')[0]}",
                spec.handler_path,
            )
            assert module_spec and module_spec.loader
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            _modules[name] = module
    return module
