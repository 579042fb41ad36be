"""The ``keyframe`` command: a dispatcher of sub-commands (``upload``, ``login`` …).

Each command lives in its own module exposing ``register(commands)``, which adds an argparse
sub-parser and sets ``handler(args, api) -> exit code`` and ``needs_api`` (a token is required).
Add a command by adding its module to :data:`COMMAND_MODULES`.

Common options: ``--api URL`` (else ``KEYFRAME_API``, else the URL of ``keyframe login``, else
``http://127.0.0.1:3000``, the local stack), ``--token TOKEN`` (else ``KEYFRAME_TOKEN``, else the
stored credentials, refreshed when they expire). Exit codes: 0 success, 1 the version FAILED,
2 usage or API errors (the API's message is printed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from keyframe.cli import credentials
from keyframe.cli.client import ApiClient, ApiError

COMMAND_MODULES: tuple[str, ...] = ("keyframe.cli.upload", "keyframe.cli.login", "keyframe.cli.demo")
"""Modules whose ``register(commands)`` adds a sub-command."""

DEFAULT_API = "http://127.0.0.1:3000"
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered command."""
    parser = argparse.ArgumentParser(prog="keyframe", description="Keyframe from the command line.")
    parser.add_argument("--api", default=None, help=f"API root URL (default: KEYFRAME_API or {DEFAULT_API})")
    parser.add_argument(
        "--token", default=None, help="access token (default: KEYFRAME_TOKEN or keyframe login's)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    # Common options are accepted after the command too (`keyframe upload f --api URL`).
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--api", default=None)
        common.add_argument("--token", default=None)
        extra, unknown = common.parse_known_args(rest)
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.api = extra.api or args.api
        args.token = extra.token or args.token
    return args


def make_client(args: argparse.Namespace) -> ApiClient:
    """The API client for ``args`` (URL and token resolved as the module docstring says)."""
    stored = credentials.load()
    token = args.token or os.environ.get("KEYFRAME_TOKEN")
    base = args.api or os.environ.get("KEYFRAME_API") or (stored.api if stored else None) or DEFAULT_API
    if token:
        return ApiClient(base, token)
    usable = stored if stored and stored.api.rstrip("/") == base.rstrip("/") else None
    return ApiClient(base, stored=usable, on_refresh=credentials.save)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``keyframe`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        args = _parse(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    api = make_client(args)
    if args.needs_api and not api.token:
        print("! not signed in: run `keyframe login --api URL --email …` or pass --token / KEYFRAME_TOKEN",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args, api))
    except ApiError as exc:
        print(f"! {exc.message} ({exc.code})", file=sys.stderr)
        if exc.details:
            print(f"  details: {exc.details}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
