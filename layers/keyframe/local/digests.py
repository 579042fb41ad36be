"""``python -m keyframe.local.digests [--day yyyy-mm-dd]``: send the daily notification digests on the
local stack, as the cloud's ``notifications-digest`` function does every hour.

Reads the environment of the running ``make dev`` from ``<state>/local-stack.json`` (state folder:
``KEYFRAME_STATE_DIR``, default ``<repo>/.keyframe``), so the e-mails go to its emulator and appear in
its mailbox (``/_local/mailbox``). Without ``--day`` it sends every digest that is due (07:00 local
time the morning after a member's day, as in the cloud); with ``--day`` that day's queue whether due
or not (``--day today``: what was queued today in UTC, to try a digest at once). Prints how many
e-mails were sent; exit 0, or 1 when no local stack is running.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from keyframe import registry, settings
from keyframe.notifications.emails import send_digests


def _info_file() -> Path:
    state = os.environ.get("KEYFRAME_STATE_DIR")
    return (Path(state) if state else registry.REPO_ROOT / ".keyframe") / "local-stack.json"


def _day(text: str) -> str:
    if text == "today":
        return datetime.now(UTC).date().isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day (yyyy-mm-dd or 'today'): {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, take the running local stack's environment, send; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m keyframe.local.digests", description=__doc__)
    parser.add_argument(
        "--day", type=_day, help="yyyy-mm-dd (UTC), or 'today'; default: every digest that is due"
    )
    args = parser.parse_args(argv)
    info = _info_file()
    if not info.exists():
        sys.stderr.write(f"No local stack is running ({info} not found): start it with `make dev`.\n")
        return 1
    os.environ.update(json.loads(info.read_text())["env"])
    settings.reset()
    day = args.day
    sent = send_digests(day)
    sys.stdout.write(f"{sent} digest e-mail(s) sent" + (f" for {day}" if day else "") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
