"""The media container's entrypoint: ``python -m keyframe.media.worker <command> ...``.

The same module runs in AWS Batch (the media container) and on the local stack (a subprocess per
Batch job). Commands:

``derive --studio-id S --upload-id U``
    The asset pipeline's Derive step: reads the pipeline record of upload ``U`` (table ``UPLOADS``)
    for the version, original and kind, probes the original and uploads its thumbnail / proxy /
    waveform, then writes the result into the record for the Finalize step
    (see :mod:`keyframe.pipeline.derive_step`).

Exit codes are those of every Batch container (:mod:`keyframe.exit_codes`): 0 done, 1 infrastructure
trouble (Batch retries), 2 bad command line, 3 the input is invalid (corrupt, truncated, not media:
Batch exits at once, no retry).

This module is the container's entrypoint (a handler, like ``functions/*/handler.py``): it wires the
live fan-out and dispatches to the pipeline's step.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from keyframe import exit_codes
from keyframe.live import hooks
from keyframe.pipeline.derive_step import run_derive

EXIT_OK = exit_codes.OK
EXIT_RETRYABLE = exit_codes.RETRY
EXIT_USAGE = exit_codes.USAGE
EXIT_INVALID_INPUT = exit_codes.INVALID_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m keyframe.media.worker", description="Keyframe media worker"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    derive = commands.add_parser("derive", help="probe an upload's original and make its derivatives")
    derive.add_argument("--studio-id", required=True)
    derive.add_argument("--upload-id", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the process exit code."""
    args = _parser().parse_args(argv)
    hooks.install()  # live delivery (sockets) registers with the event publisher at the start
    if args.command == "derive":
        return run_derive(args.studio_id, args.upload_id)
    return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
