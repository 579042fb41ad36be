"""The ``keyframe`` command: every sub-command on one click group, and its exit codes.

Built on click (shell completion, ``--help`` everywhere, ``--version``). Each job lives in its own
module: :mod:`~keyframe.cli.auth_commands` (login, logout, whoami, studios),
:mod:`~keyframe.cli.catalog_commands` (projects, assets, versions), :mod:`~keyframe.cli.upload`,
:mod:`~keyframe.cli.download`, :mod:`~keyframe.cli.render_commands` (render, renders, open),
:mod:`~keyframe.cli.comments` and :mod:`~keyframe.cli.demo`. They use only the public HTTP and
WebSocket API (and :mod:`keyframe.media.detect`, a pure detector, for the local upload check).

Where the API is and which token is sent: :mod:`keyframe.cli.session`. Exit codes (0 ok, 1 failed
work, 2 usage or auth, 130 interrupted): :mod:`keyframe.cli.exits`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from click.shell_completion import get_completion_class

from keyframe.cli import exits
from keyframe.cli.auth_commands import login_command, logout_command, studios_group, whoami_command
from keyframe.cli.catalog_commands import assets_group, projects_group, versions_command
from keyframe.cli.comments import comments_command
from keyframe.cli.demo import demo_command
from keyframe.cli.download import download_command
from keyframe.cli.render_commands import open_command, render_command, renders_command
from keyframe.cli.session import api_options
from keyframe.cli.upload import upload_command

PROG = "keyframe"
COMPLETE_VAR = "_KEYFRAME_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


class OrderedGroup(click.Group):
    """Lists its commands in the order they were added (an artist's day), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The command names in insertion order."""
        return list(self.commands)


@click.group(
    name=PROG,
    cls=OrderedGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
)
@click.version_option(package_name="keyframe", prog_name=PROG, message="%(prog)s %(version)s")
@api_options
def cli() -> None:
    """Keyframe from the command line: sign in, find assets, upload, download, render, review.

    It finds the API from --api, KEYFRAME_API, the running local stack's .keyframe/local-stack.json
    (here or in a parent folder), or your last `keyframe login`. Exit codes: 0 ok, 1 the work failed,
    2 usage or auth, 130 interrupted. Listings take --json (the API's own answer).
    """


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion_command(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
        eval "$(keyframe completion bash)"      # add it to ~/.bashrc
    """
    completion = get_completion_class(shell)
    assert completion is not None  # every name in SHELLS is one of click's
    click.echo(completion(cli, {}, PROG, COMPLETE_VAR).source())


for _command in (
    login_command, logout_command, whoami_command, studios_group, projects_group, assets_group,
    versions_command, upload_command, download_command, render_command, renders_command, open_command,
    comments_command, demo_command, completion_command,
):  # fmt: skip
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``keyframe`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    return exits.run(cli, argv, prog_name=PROG)


if __name__ == "__main__":
    sys.exit(main())
