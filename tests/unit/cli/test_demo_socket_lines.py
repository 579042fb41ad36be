"""What the demo prints of the director's socket: a pipeline:update older than the one shown says so."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from keyframe.cli.demo_day import Day, Narrator


def _update(seq: int, revision: int, status: str, step: str | None = None) -> dict:
    validate = "SUCCEEDED" if status == "SUCCEEDED" else "RUNNING" if step else "PENDING"
    steps = [{"name": "validate", "status": validate}]
    data = {"uploadId": "u1", "status": status, "revision": revision, "steps": steps}
    if step:
        data["changedStep"] = step
    return {"type": "pipeline:update", "room": "asset:a1", "seq": seq, "data": data}


def test_an_update_numbered_after_a_newer_one_is_printed_as_ignored(tmp_path: Path) -> None:
    # Given the demo's day watching the shot's room
    out = io.StringIO()
    day = Day("http://127.0.0.1:1", argparse.Namespace(), Narrator(out, clock=lambda: 0.0), tmp_path)
    day.room = "asset:a1"
    # When the pipeline's steps arrive first and the complete's two updates last (a slow outbox stream)
    for event in (
        _update(5, 3, "RUNNING", "validate"),
        _update(6, 4, "SUCCEEDED"),
        _update(7, 1, "PENDING"),
        _update(8, 2, "RUNNING"),
    ):
        day.director_event(event)
    # Then the newer ones print as the state and the older ones say they were ignored
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("step validate RUNNING") and "ignored" not in lines[1]
    assert lines[1].endswith("pipeline SUCCEEDED")
    assert lines[2].endswith("pipeline PENDING (revision 1, older than 4 shown: ignored)")
    assert lines[3].endswith("pipeline RUNNING (revision 2, older than 4 shown: ignored)")
    # And an event of another room prints nothing
    day.director_event({**_update(9, 5, "RUNNING"), "room": "studio"})
    assert out.getvalue().splitlines() == lines
