"""Finding the running local stack from its ``.keyframe/local-stack.json``.

``make dev`` (``python -m keyframe.local``) writes ``<state dir>/local-stack.json`` with its URLs
(``{"pid", "urls": {"api", "websocket", …}, …}``); the state dir is ``.keyframe/`` of the checkout
unless ``KEYFRAME_STATE_DIR`` moves it. The ``keyframe`` command looks for that file in
``$KEYFRAME_STATE_DIR`` when set, then in ``.keyframe/`` of the current folder and each of its
parents, so it finds the stack from anywhere inside the checkout. A file whose ``pid`` no longer
runs on this machine (a stack that crashed without cleaning up) is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "local-stack.json"
STATE_FOLDER = ".keyframe"


@dataclass(frozen=True)
class StackInfo:
    """A running local stack: its REST API URL, its WebSocket URL and the file that said so."""

    api: str
    websocket: str | None
    path: Path


def candidates(start: Path | None = None) -> Iterator[Path]:
    """Where a stack file may be, most specific first (existing or not)."""
    state = os.environ.get("KEYFRAME_STATE_DIR")
    if state:
        yield Path(state) / FILE_NAME
    folder = (start or Path.cwd()).resolve()
    for parent in (folder, *folder.parents):
        yield parent / STATE_FOLDER / FILE_NAME


def process_runs(pid: Any) -> bool:
    """True when ``pid`` is a running process on this machine (or cannot be told: not an int)."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def read(path: Path) -> StackInfo | None:
    """The stack described by ``path``; ``None`` when absent, unreadable or its process is gone."""
    try:
        data = json.loads(path.read_text())
        api = str(data["urls"]["api"]).rstrip("/")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process_runs(data.get("pid")):
        return None
    websocket = (data.get("urls") or {}).get("websocket")
    return StackInfo(api=api, websocket=str(websocket) if websocket else None, path=path)


def find(start: Path | None = None) -> StackInfo | None:
    """The first running stack among :func:`candidates`, or ``None``."""
    for path in candidates(start):
        if path.is_file():
            found = read(path)
            if found is not None:
                return found
    return None
