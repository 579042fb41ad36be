"""Exit codes of every ``keyframe`` command, and running a click command so that they hold.

========  =====================================================================================
code      meaning
========  =====================================================================================
0         done
1         the work failed: a version FAILED processing, a render FAILED or was CANCELLED, a
          transfer failed after its retries (run the same command again to resume), the API did
          not answer or answered 5xx
2         usage or auth: bad arguments, a missing or wrong file (refused before sending), no API
          found, not signed in, or the API refused the request (4xx: not found, forbidden, …)
130       interrupted (Ctrl-C); transfers keep what they sent and resume when run again
========  =====================================================================================

Errors are printed on stderr as ``! message (CODE)``; results go to stdout (JSON with ``--json``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from keyframe.cli.client import ApiError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Failed(click.ClickException):
    """The work failed (exit 1): printed as ``! message``."""

    exit_code = EXIT_FAILED

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``! message`` on stderr."""
        click.echo(f"! {self.format_message()}", file=file or sys.stderr)


class Usage(Failed):
    """Bad usage, a refused input or missing sign-in (exit 2): printed as ``! message``."""

    exit_code = EXIT_USAGE


def exit_code_of(error: ApiError) -> int:
    """1 when the API could not be reached or failed (5xx), 2 when it refused the request (4xx)."""
    return EXIT_FAILED if error.status == 0 or error.status >= 500 else EXIT_USAGE


def report_api_error(error: ApiError) -> int:
    """Print an API error (message, code, details, correlation id) on stderr; returns its exit code."""
    click.echo(f"! {error.message} ({error.code})", file=sys.stderr)
    if error.details:
        click.echo(f"  details: {error.details}", file=sys.stderr)
    correlation_id = getattr(error, "correlation_id", None)
    if correlation_id:
        click.echo(f"  correlationId: {correlation_id}", file=sys.stderr)
    return exit_code_of(error)


def run(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run a click ``command`` with ``argv`` and return its exit code (never raises ``SystemExit``).

    A command returns its exit code (``None`` = 0); click's usage errors exit 2, ``--help`` and
    ``--version`` 0, :class:`Failed`/:class:`Usage` their code, :class:`ApiError` 1 or 2
    (:func:`exit_code_of`), Ctrl-C 130.
    """
    try:
        result = command.main(
            args=list(argv) if argv is not None else None, prog_name=prog_name, standalone_mode=False
        )
    except click.exceptions.Abort:
        click.echo("! interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("! interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ApiError as exc:
        return report_api_error(exc)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    if isinstance(result, bool) or not isinstance(result, int):
        return EXIT_OK
    return result
