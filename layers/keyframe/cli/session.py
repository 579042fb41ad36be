"""Which API a command talks to, with which token: the state shared by every ``keyframe`` command.

The API base URL, in order:

1. ``--api URL`` (before or after the command name);
2. ``KEYFRAME_API``;
3. the running local stack's ``.keyframe/local-stack.json``, looked for in ``$KEYFRAME_STATE_DIR``,
   then the current folder and its parents (:mod:`keyframe.cli.stackfile`);
4. the API of the last ``keyframe login``;
5. otherwise the command asks for it when run in a terminal, and exits 2 saying how to give one when
   it is not (a script, CI).

The token: ``--token``, else ``KEYFRAME_TOKEN``, else the credentials ``keyframe login`` stored for
*that* API (refreshed on a 401 and saved again), so a token is only ever sent to the API that issued it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from keyframe.cli import credentials, stackfile
from keyframe.cli.client import ApiClient
from keyframe.cli.exits import Usage

DEFAULT_LOCAL_API = "http://127.0.0.1:3000"
"""What the prompt offers: ``make dev``'s default port."""

NO_API_MESSAGE = (
    "No Keyframe API to talk to: pass --api URL or set KEYFRAME_API, or run inside a checkout whose "
    "`make dev` is running (it writes .keyframe/local-stack.json), or sign in once with "
    "`keyframe login --api URL`."
)
NOT_SIGNED_IN = "not signed in to {api}: run `keyframe login` (or pass --token / set KEYFRAME_TOKEN)"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ApiChoice:
    """The API base URL and where it came from (``--api``, ``KEYFRAME_API``, a stack file path …)."""

    url: str
    source: str


def interactive() -> bool:
    """True when a person can answer a prompt (stdin and stderr are terminals)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def choose_api(flag: str | None, *, can_ask: bool | None = None) -> ApiChoice:
    """The API base URL by the order of the module docstring.

    Raises
    ------
    Usage
        None was found and nobody can be asked (exit 2, :data:`NO_API_MESSAGE`).
    """
    if flag:
        return ApiChoice(credentials.normalise(flag), "--api")
    if os.environ.get("KEYFRAME_API"):
        return ApiChoice(credentials.normalise(os.environ["KEYFRAME_API"]), "KEYFRAME_API")
    stack = stackfile.find()
    if stack is not None:
        return ApiChoice(stack.api, str(stack.path))
    last = credentials.current_api()
    if last:
        return ApiChoice(last, "keyframe login")
    if not (interactive() if can_ask is None else can_ask):
        raise Usage(NO_API_MESSAGE)
    url = click.prompt("Keyframe API URL", default=DEFAULT_LOCAL_API, err=True)
    return ApiChoice(credentials.normalise(url), "asked")


@dataclass
class Session:
    """The ``--api``/``--token`` given (before or after the command) and the client built from them."""

    api_flag: str | None = None
    token_flag: str | None = None
    _choice: ApiChoice | None = field(default=None, repr=False)
    _client: ApiClient | None = field(default=None, repr=False)

    @property
    def api(self) -> ApiChoice:
        """The API chosen (resolved once, on first use)."""
        if self._choice is None:
            self._choice = choose_api(self.api_flag)
        return self._choice

    def client(self, *, signed_in: bool = True) -> ApiClient:
        """The API client; ``signed_in`` requires a token.

        Raises
        ------
        Usage
            No API, or no token for it (exit 2).
        """
        if self._client is None:
            self._client = make_client(self.api.url, self.token_flag)
        if signed_in and not self._client.token:
            raise Usage(NOT_SIGNED_IN.format(api=self._client.base_url))
        return self._client


def make_client(base_url: str, token: str | None = None) -> ApiClient:
    """A client of ``base_url`` with ``token``, ``KEYFRAME_TOKEN`` or the credentials stored for it."""
    token = token or os.environ.get("KEYFRAME_TOKEN")
    if token:
        return ApiClient(base_url, token)
    return ApiClient(base_url, stored=credentials.load(base_url), on_refresh=credentials.update)


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value:
            setattr(ctx.ensure_object(Session), name, value)
        return value

    return callback


def api_options(command: F) -> F:
    """Add ``--api`` and ``--token`` to a command (they may follow the command name too)."""
    command = click.option(
        "--token", metavar="TOKEN", expose_value=False, is_eager=True, callback=_remember("token_flag"),
        help="Access token (default: KEYFRAME_TOKEN, else the one `keyframe login` stored for the API).",
    )(command)  # fmt: skip
    return click.option(
        "--api", metavar="URL", expose_value=False, is_eager=True, callback=_remember("api_flag"),
        help="API base URL (default: KEYFRAME_API, else the local stack's .keyframe/local-stack.json, "
        "else the API of the last login).",
    )(command)  # fmt: skip


pass_session = click.make_pass_decorator(Session, ensure=True)
"""Hand the command the :class:`Session` as its first argument."""
