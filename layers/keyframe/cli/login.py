"""``keyframe login``: sign in once and keep the token in ``~/.keyframe/credentials.json`` (0600)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from keyframe.cli import credentials
from keyframe.cli.client import ApiClient


def register(commands: Any) -> None:
    """Add the ``login`` command to the ``commands`` sub-parser collection."""
    parser = commands.add_parser(
        "login",
        help="sign in and store the token for later commands",
        description="Sign in to a Keyframe studio; later commands use the stored token "
        "when --token is absent.",
    )
    parser.add_argument("--email", required=True)
    parser.add_argument(
        "--password", default=None, help="asked for when absent (or set KEYFRAME_PASSWORD)"
    )
    parser.add_argument("--studio", default=None, help="studio id, when you belong to several")
    parser.set_defaults(handler=run, needs_api=False)


def run(args: argparse.Namespace, api: ApiClient) -> int:
    """``POST /auth/login`` and save the tokens; prints the studio and role."""
    password = args.password or os.environ.get("KEYFRAME_PASSWORD") or getpass.getpass("Password: ")
    body: dict[str, Any] = {"email": args.email, "password": password}
    if args.studio:
        body["studioId"] = args.studio
    answer = api.post("/auth/login", body)
    where = credentials.save(credentials.from_auth_response(answer, api.base_url, args.email))
    studio = answer.get("studio") or {}
    print(
        f"Signed in to {studio.get('name', '?')} ({studio.get('studioId', '?')}) "
        f"as {answer.get('role', '?')}; token saved in {where}",
        file=sys.stderr,
    )
    return 0
