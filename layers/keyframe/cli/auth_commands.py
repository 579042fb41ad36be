"""Who you are and where: ``keyframe login``, ``logout``, ``whoami``, ``studios [use ID]``.

``login`` signs in (``POST /auth/login``) and stores the tokens for that API only
(:mod:`keyframe.cli.credentials`, file mode 0600); ``logout`` revokes the refresh token's family
(``POST /auth/logout``) and forgets them. An access token is for one studio: ``studios use`` signs in
again with ``studioId`` (the password is asked again: Keyframe never stores it).
"""

from __future__ import annotations

import os
from typing import Any

import click

from keyframe.cli import credentials
from keyframe.cli.client import ApiClient, ApiError
from keyframe.cli.exits import Usage
from keyframe.cli.output import json_option, print_json, table
from keyframe.cli.session import Session, api_options, interactive, pass_session


def _password(given: str | None) -> str:
    """``--password``, else ``KEYFRAME_PASSWORD``, else asked (hidden) in a terminal.

    Raises
    ------
    Usage
        None given and nobody can be asked.
    """
    password = given or os.environ.get("KEYFRAME_PASSWORD")
    if password:
        return password
    if not interactive():
        raise Usage("a password is needed: pass --password or set KEYFRAME_PASSWORD")
    return str(click.prompt("Password", hide_input=True, err=True))


def sign_in(client: ApiClient, email: str, password: str, studio_id: str | None) -> dict[str, Any]:
    """``POST /auth/login`` and store the tokens for ``client``'s API; returns the API's answer."""
    body: dict[str, Any] = {"email": email, "password": password}
    if studio_id:
        body["studioId"] = studio_id
    answer = dict(client.post("/auth/login", body))
    credentials.save(credentials.from_auth_response(answer, client.base_url, email))
    return answer


def _signed_in_line(answer: dict[str, Any], api: str) -> str:
    studio = answer.get("studio") or {}
    where = f"{studio.get('name', '?')} ({studio.get('studioId', '?')})"
    return f"Signed in to {where} as {answer.get('role', '?')} on {api}; token saved in {credentials.path()}"


@click.command("login")
@click.option("--email", default=None, help="Your e-mail (asked when absent).")
@click.option("--password", default=None, help="Asked for when absent (or set KEYFRAME_PASSWORD).")
@click.option("--studio", default=None, metavar="STUDIO_ID", help="The studio, when you belong to several.")
@api_options
@pass_session
def login_command(session: Session, email: str | None, password: str | None, studio: str | None) -> None:
    """Sign in and keep the token (for this API only) for later commands.

    \b
        keyframe login --email ada@night-market.studio
    """
    client = session.client(signed_in=False)
    if not email:
        if not interactive():
            raise Usage("--email is needed")
        email = str(click.prompt("E-mail", err=True))
    answer = sign_in(client, email, _password(password), studio)
    click.echo(_signed_in_line(answer, client.base_url), err=True)


@click.command("logout")
@api_options
@pass_session
def logout_command(session: Session) -> None:
    """Revoke your refresh token on the API and forget the stored token.

    \b
        keyframe logout
    """
    api = session.api.url
    stored = credentials.load(api)
    if stored is None:
        click.echo(f"Not signed in to {api}; nothing to do.", err=True)
        return
    try:
        ApiClient(api).post("/auth/logout", {"refreshToken": stored.refresh_token})
    except ApiError as exc:
        if exc.status == 0:  # unreachable: forget locally all the same, and say the token still lives
            click.echo(
                f"note: {api} did not answer; the refresh token may stay valid until it expires", err=True
            )
        elif exc.status not in (400, 401):
            raise
    credentials.remove(api)
    click.echo(f"Signed out of {api} ({stored.email}).", err=True)


@click.command("whoami")
@json_option
@api_options
@pass_session
def whoami_command(session: Session, as_json: bool) -> None:
    """Who you are, in which studio, with which role (GET /me).

    \b
        keyframe whoami --json
    """
    client = session.client()
    me = client.get("/me")
    if as_json:
        print_json(me)
        return
    user, studio = me.get("user") or {}, me.get("studio") or {}
    click.echo(f"{user.get('displayName')} <{user.get('email')}>")
    click.echo(f"studio {studio.get('name')} ({studio.get('studioId')}), role {me.get('role')}")
    click.echo(f"api    {client.base_url}")


@click.group("studios", invoke_without_command=True)
@json_option
@api_options
@pass_session
@click.pass_context
def studios_group(ctx: click.Context, session: Session, as_json: bool) -> None:
    """List the studios you belong to (GET /me/studios); `studios use ID` switches.

    \b
        keyframe studios
    """
    if ctx.invoked_subcommand is not None:
        return
    answer = session.client().get("/me/studios")
    if as_json:
        print_json(answer)
        return
    stored = credentials.load(session.api.url)
    current = stored.studio_id if stored else None
    table(
        answer.get("items") or [],
        [
            ("", lambda i: "*" if (i.get("studio") or {}).get("studioId") == current else ""),
            ("STUDIO", lambda i: (i.get("studio") or {}).get("studioId")),
            ("NAME", lambda i: (i.get("studio") or {}).get("name")),
            ("ROLE", lambda i: i.get("role")),
            ("LAST USED", lambda i: str(i.get("lastUsedAt") or "")[:19]),
        ],
    )


@studios_group.command("use")
@click.argument("studio")
@click.option("--password", default=None, help="Asked for when absent (or set KEYFRAME_PASSWORD).")
@api_options
@pass_session
def studios_use_command(session: Session, studio: str, password: str | None) -> None:
    """Switch to STUDIO (its id or name): signs in again to that studio.

    \b
        keyframe studios use "Night Market"
    """
    client = session.client()
    wanted = studio.casefold()
    items = (client.get("/me/studios") or {}).get("items") or []
    chosen = next(
        (
            (i.get("studio") or {}).get("studioId")
            for i in items
            if wanted in {str((i.get("studio") or {}).get(k, "")).casefold() for k in ("studioId", "name")}
        ),
        None,
    )
    if chosen is None:
        raise Usage(f"you are not a member of a studio {studio!r} (see `keyframe studios`)")
    stored = credentials.load(client.base_url)
    email = stored.email if stored else None
    if not email:
        me = client.get("/me")
        email = (me.get("user") or {}).get("email")
    answer = sign_in(ApiClient(client.base_url), str(email), _password(password), str(chosen))
    click.echo(_signed_in_line(answer, client.base_url), err=True)
