"""``make load``: the Monday-morning load (``tests/load/locustfile.py``) against ``make dev`` or a stage.

Usage::

    python -m tests.load [--host URL] [--users N] [--spawn-rate R] [--run-time 60s]
                         [--max-requests N] [--out FOLDER] [--summary FILE] [--uploaders N] [--sockets N]

Without ``--host`` the API is the running ``make dev`` (its URL from ``.keyframe/local-stack.json``),
and every request must go to a loopback address. ``--host`` names any stage (a deployed API's URL):
then non-loopback addresses are allowed. Users are capped at 500, run time at 30 minutes and
requests at 200,000. Locust runs headless in a child process (it patches the standard library with
gevent) and writes ``FOLDER/monday_stats.csv`` (and the other CSVs), ``FOLDER/monday.html`` and the
JSON summary; the report is printed at the end. Exit code: 0 when there were no server errors (5xx)
and no lost events, 1 otherwise, 2 when the run could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from keyframe.registry import REPO_ROOT

MAX_USERS = 500
MAX_SECONDS = 30 * 60
MAX_REQUESTS = 200_000
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def seconds(text: str) -> int:
    """``90``, ``90s``, ``2m`` or ``1h`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))


def local_api() -> str:
    """The API URL of the running ``make dev`` (``.keyframe/local-stack.json``)."""
    info_file = REPO_ROOT / ".keyframe" / "local-stack.json"
    try:
        return str(json.loads(info_file.read_text())["urls"]["api"])
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(
            f"no running `make dev` found ({info_file}: {exc}); start it or pass --host URL"
        ) from exc


def command(args: argparse.Namespace, host: str, allow_remote: bool) -> list[str]:
    """The ``locust`` command line for these options (headless, bounded, CSV + HTML + JSON)."""
    out = Path(args.out)
    line = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        host,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{seconds(args.run_time)}s",
        "--stop-timeout",
        "5",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--csv",
        str(out / "monday"),
        "--html",
        str(out / "monday.html"),
        "--load-max-requests",
        str(args.max_requests),
        "--load-summary",
        str(args.summary or out / "monday.json"),
        "--load-sockets",
        str(args.sockets),
        "--load-members",
        str(args.members),
        "--load-assets",
        str(args.assets),
        "--load-drain",
        str(args.drain),
    ]
    if allow_remote:
        line.append("--load-allow-remote")
    return line


def main(argv: list[str] | None = None) -> int:
    """Run the load, print the report, exit 0 only with no server errors and no lost events."""
    parser = argparse.ArgumentParser(prog="make load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="a deployed stage's API URL (default: the running make dev)")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=20)
    parser.add_argument("--run-time", default="60s")
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--uploaders", type=int, default=20)
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--assets", type=int, default=6)
    parser.add_argument("--drain", type=float, default=10.0)
    parser.add_argument("--out", default=str(REPO_ROOT / ".keyframe" / "load"))
    parser.add_argument("--summary", default="", help="the JSON report (default: OUT/monday.json)")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be 1..{MAX_USERS}")
    if not 1 <= seconds(args.run_time) <= MAX_SECONDS:
        parser.error(f"--run-time must be 1 s .. {MAX_SECONDS // 60} min")
    if not 1 <= args.max_requests <= MAX_REQUESTS:
        parser.error(f"--max-requests must be 1..{MAX_REQUESTS}")
    if args.uploaders + 2 > args.users:
        parser.error("--users must leave room for the uploaders and the 2 renderers")
    host = args.host or local_api()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    summary_file = Path(args.summary or Path(args.out) / "monday.json")
    summary_file.unlink(missing_ok=True)
    env = {**os.environ, "KEYFRAME_LOAD_UPLOADERS": str(args.uploaders)}
    result = subprocess.run(
        command(args, host, allow_remote=bool(args.host)), check=False, cwd=REPO_ROOT, env=env
    )
    if not summary_file.exists():
        print(f"the load run did not finish (locust exit {result.returncode})", file=sys.stderr)
        return 2
    summary = json.loads(summary_file.read_text())
    print(f"reports: {args.out}/monday_stats.csv, {args.out}/monday.html, {summary_file}")
    return 0 if summary["serverErrors"] == 0 and summary["eventsLost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
