"""Cold start: each Lambda function's init against the library floor, in fresh processes.

For every function of :data:`keyframe.registry.FUNCTIONS` (the handlers under ``functions/``):

- **init**: a fresh ``python -c`` process imports the function's ``handler`` module (module-level
  work included: resolvers, Powertools objects, X-Ray patching), from the function's own folder as
  Lambda's task root, with the environment variables the CDK template gives that function
  (``infra.stack.KeyframeStack.function_environment`` + ``infra.functions``' per-function
  ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``, active tracing, no
  ``POWERTOOLS_TRACE_DISABLED``) plus the variables Lambda's runtime sets (``AWS_LAMBDA_FUNCTION_NAME``
  …), so Powertools behaves as in the cloud;
- **floor**: a fresh process with the same environment importing only the libraries
  (:data:`FLOOR_IMPORTS`: boto3, pydantic, pynamodb, jwt, Powertools' event handler).

Runs are paired (floor then init, ``RUNS`` pairs per function, after one unmeasured warm-up pair that
writes bytecode caches) and measured in CPU seconds of the child (user + system from
``resource.getrusage(RUSAGE_CHILDREN)``), not wall time, because the machine is shared and loaded.
Reported per function: median init, median floor, and the median of the per-pair ratios init/floor
(issue 15.1 asks for <= 1.25), and, for information, init against the floor plus pydantic's and
pynamodb's model machinery (:data:`MODELS_FLOOR_CODE`). Not a pass/fail gate.

Run: ``python -m tests.performance.bench_coldstart`` (or ``make bench ONLY=coldstart``);
``COLDSTART_RUNS`` (default 5) and ``COLDSTART_ONLY`` (comma-separated function names) narrow it.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from keyframe import registry
from keyframe.storage.tables import TABLES

FLOOR_IMPORTS = ("boto3", "pydantic", "pynamodb", "jwt", "aws_lambda_powertools.event_handler")
"""The libraries every API handler needs: the floor its init is compared with."""

MODELS_FLOOR_CODE = "from pydantic import BaseModel; import pynamodb.models"
"""Added to the floor for the informational column ``floor+m``: ``import pydantic`` and ``import pynamodb``
load their model machinery lazily, so the first model a handler defines pays for it (~50-80 ms CPU here);
``init/floor+m`` shows what is left for Keyframe's own modules."""

TARGET = 1.25
STAGE = "bench"
METRICS_NAMESPACE = "Keyframe"  # infra.functions.METRICS_NAMESPACE (not imported: it pulls aws_cdk)


def template_environment(spec: registry.FunctionSpec) -> dict[str, str]:
    """The variables a deployed ``spec`` starts with: the template's, then the Lambda runtime's.

    Keys mirror ``infra.stack.KeyframeStack.function_environment`` and ``infra.functions`` (values are
    placeholders of the same shape; nothing is called at import). ``PATH``/``HOME`` are kept so the
    interpreter starts; no ``AWS_ENDPOINT_URL`` and no ``POWERTOOLS_TRACE_DISABLED`` (the template
    turns active tracing on).
    """
    region = "us-east-1"
    physical = f"keyframe-{STAGE}-{spec.name}"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        # template (infra.stack.function_environment + infra.functions)
        "STAGE": STAGE,
        "MEDIA_BUCKET": f"keyframe-{STAGE}-media",
        "JWT_SECRET_NAME": f"arn:aws:secretsmanager:{region}:123456789012:secret:keyframe/{STAGE}/jwt-AbCdEf",
        "JWT_ISSUER": "https://api.example.com",
        "JWT_AUDIENCE": "keyframe-api",
        "CORS_ALLOW_ORIGINS": "https://app.example.com",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "LIVE_WEBSOCKET_URL": f"wss://abc123.execute-api.{region}.amazonaws.com/{STAGE}",
        "LIVE_CONNECTIONS_ENDPOINT": f"https://abc123.execute-api.{region}.amazonaws.com/{STAGE}",
        **{table.env_var: table.physical_name(STAGE) for table in TABLES},
        "POWERTOOLS_SERVICE_NAME": spec.name,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        # Lambda's runtime (python3.12, active tracing)
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "ASIABENCHCOLDSTART00",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": physical,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{physical}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(spec.handler_path.parent),
    }


def _cpu_seconds(code: str, cwd: Path, env: dict[str, str]) -> float:
    """CPU seconds (user + system) a fresh ``python -c code`` process spends; raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"`python -c {code!r}` in {cwd} failed:\n{result.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(spec: registry.FunctionSpec, runs: int) -> tuple[float, float, float, float]:
    """Median init, median floor (CPU s), median per-pair ratio init/floor and init/floor+m for ``spec``."""
    env = template_environment(spec)
    folder = spec.handler_path.parent
    module = spec.handler.split(".")[0]
    floor_code = "import " + ", ".join(FLOOR_IMPORTS)
    init_code = f"import {module}"
    inits: list[float] = []
    floors: list[float] = []
    model_floors: list[float] = []
    for run in range(runs + 1):
        floor = _cpu_seconds(floor_code, folder, env)
        init = _cpu_seconds(init_code, folder, env)
        model_floor = _cpu_seconds(f"{floor_code}; {MODELS_FLOOR_CODE}", folder, env)
        if run == 0:
            continue  # warm-up: bytecode caches, page cache
        floors.append(floor)
        inits.append(init)
        model_floors.append(model_floor)
    ratios = [i / f for i, f in zip(inits, floors, strict=True)]
    model_ratios = [i / f for i, f in zip(inits, model_floors, strict=True)]
    return (
        statistics.median(inits),
        statistics.median(floors),
        statistics.median(ratios),
        statistics.median(model_ratios),
    )


def main() -> None:
    """Print init, floor and init/floor for every function (or those in ``COLDSTART_ONLY``)."""
    runs = int(os.environ.get("COLDSTART_RUNS", "5"))
    only = {n.strip() for n in os.environ.get("COLDSTART_ONLY", "").split(",") if n.strip()}
    specs = [s for s in registry.FUNCTIONS if not only or s.name in only]
    print(f"cold start: CPU seconds per fresh process, median of {runs} paired runs")
    print(f"target init/floor <= {TARGET}")
    print(f"floor = python -c 'import {', '.join(FLOOR_IMPORTS)}'")
    print(f"floor+m = floor + {MODELS_FLOOR_CODE!r} (informational)")
    print(f"{'function':<22}{'init s':>9}{'floor s':>9}{'init/floor':>12}{'init/floor+m':>14}")
    ratios = []
    for spec in specs:
        init, floor, ratio, model_ratio = measure(spec, runs)
        ratios.append(ratio)
        mark = "" if ratio <= TARGET else "  (over target)"
        row = f"{spec.name:<22}{init:>9.3f}{floor:>9.3f}{ratio:>11.2f}x{model_ratio:>13.2f}x{mark}"
        print(row, flush=True)
    if ratios:
        print(f"{'median of functions':<40}{statistics.median(ratios):>11.2f}x; worst {max(ratios):.2f}x")


if __name__ == "__main__":
    main()
