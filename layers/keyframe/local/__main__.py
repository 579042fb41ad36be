"""``python -m keyframe.local`` (``make dev``): run the offline stack until Ctrl-C or SIGTERM.

Prints every URL once the stack is ready; ``<state>/local-stack.json`` holds the same URLs and the
environment for ``make demo`` and the CLI. See :mod:`keyframe.local.stack` for the variables.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
import time
import warnings

from keyframe.local.stack import LocalStack, StackConfig
from keyframe.renders import tools


def main() -> int:
    """Start the stack, wait for a stop signal, stop everything; the exit status."""
    logging.basicConfig(
        level=os.environ.get("KEYFRAME_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # "keyframe.local.*" would also reach the handler Powertools' Logger puts on "keyframe" (the
    # handlers' JSON logs): print the stack's own lines once, through the root handler only.
    local = logging.getLogger("keyframe.local")
    local.propagate = False
    for handler in logging.getLogger().handlers:
        local.addHandler(handler)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "aiohttp.access", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stopping.is_set():  # a second Ctrl-C: leave at once
            os._exit(130)
        logging.getLogger("keyframe.local").info("%s received: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    stack = LocalStack(StackConfig.from_env())
    try:
        stack.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            logging.getLogger("keyframe.local").exception("The local stack could not start")
            return 1
        logging.getLogger("keyframe.local").error(
            "The local stack could not start: %s. Another `make dev` may be running (stop it), or choose "
            "other ports: MOTO_PORT=4567 KEYFRAME_HTTP_PORT=3100 KEYFRAME_WS_PORT=3101 make dev "
            "(0 = any free port)",
            exc,
        )
        return 1
    except Exception:
        logging.getLogger("keyframe.local").exception("The local stack could not start")
        return 1
    print(stack.banner(), flush=True)
    missing = tools.missing()
    if missing:  # scene renders need them; everything else works without
        logging.getLogger("keyframe.local").warning(tools.missing_message(missing))
    while not stopping.wait(0.5):
        pass
    started = time.perf_counter()
    stack.stop()
    logging.getLogger("keyframe.local").info("stopped in %.1f s", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # moto's Step Functions executions run on threads that cannot be stopped; do not wait for them
    os._exit(code)
