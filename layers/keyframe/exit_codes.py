"""The exit codes of every Batch container (the media worker and the render worker), in one table.

The same code means the same thing in both, and the job definitions' retry rules
(``retryStrategy.evaluateOnExit``, :data:`RETRY_RULES`) are built from this table:

====  =====================  ===================================================================  ========
code  name                   meaning                                                              Batch
====  =====================  ===================================================================  ========
0     :data:`OK`             done, or nothing to do (cancelled / finished / superseded)           -
1     :data:`RETRY`          infrastructure trouble (network, S3, DynamoDB, FFmpeg failed)        RETRY
2     :data:`USAGE`          bad command line (argparse's own code)                               EXIT
3     :data:`INVALID_INPUT`  the input can never work here (not media, the container lacks a     EXIT
                             feature the job needs, a range outside the file)
4     :data:`INPUT_RETRY`    the input cannot be read now (missing, corrupt in transit, checksum  RETRY
                             mismatch): a re-read may succeed
143   :data:`TERMINATED`     SIGTERM (``TerminateJob`` or the Batch timeout); Batch never retries  -
====  =====================  ===================================================================  ========
"""

from __future__ import annotations

from typing import Any

OK = 0
RETRY = 1
USAGE = 2
INVALID_INPUT = 3
INPUT_RETRY = 4
TERMINATED = 143

STOP_CODES: tuple[int, ...] = (INVALID_INPUT, USAGE)
"""Codes after which Batch must not try the job again."""

RETRY_RULES: tuple[dict[str, Any], ...] = (
    *({"onExitCode": str(code), "action": "EXIT"} for code in STOP_CODES),
    {"onStatusReason": "Host EC2*", "action": "RETRY"},
    {"onReason": "CannotPullContainerError*", "action": "RETRY"},
    {"onExitCode": "*", "action": "RETRY"},
)
"""``evaluateOnExit`` of every container job definition (AWS Batch allows at most 5 entries): the
:data:`STOP_CODES` end at once; infrastructure failures (a reclaimed host, an image pull) and every
other exit code retry (a failure that matches no entry, such as a task that never started, is retried
by Batch as well)."""
