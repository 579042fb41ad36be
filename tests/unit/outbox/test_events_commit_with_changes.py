"""Guard of issue 13.1: a domain stores its events with its change (``publisher.stage``), not alone.

:func:`keyframe.events.publisher.emit` stores an event on its own; only what changes nothing stored may
call it. This test lists the modules that do, so a new call is a decision someone writes down here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import keyframe

LAYER = Path(keyframe.__file__).parent

EMITTING_ALONE = {
    "live/presence.py": "presence: a connection's state, nothing stored changes",
    "notifications/service.py": "a member's notification pushes (ephemeral; the inbox item is the record)",
    "catalog/graph.py": "asset:dependency-updated of a dependent that only follows: nothing of it changes",
}


def _calls_emit(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "emit":
                return True
    return False


def test_only_changes_that_store_nothing_emit_events_alone() -> None:
    emitting = {
        str(path.relative_to(LAYER))
        for path in LAYER.rglob("*.py")
        if path.relative_to(LAYER).parts[0] not in {"events", "local", "cli"} and _calls_emit(path)
    }
    assert emitting == set(EMITTING_ALONE)
