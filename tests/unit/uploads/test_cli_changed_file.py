"""``keyframe upload`` never aborts an earlier upload on the user's behalf (no network).

When the file changed since its upload began, the command starts a new upload and leaves the old one
open (it expires by itself); a one-line note says so and how to abort it. Only ``--abort-previous``
aborts it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

from keyframe.cli.client import ApiError
from keyframe.cli.resume import ResumeState, StateStore, state_key
from keyframe.cli.upload import UploadRun

API = "http://api.test"


class _Api:
    """Answers GET of the session from ``sessions``; records every DELETE (answered by ``deletes``)."""

    base_url = API

    def __init__(self, sessions: dict[str, dict[str, Any]], deletes: dict[str, ApiError] | None = None):
        self.sessions = sessions
        self.deletes = deletes or {}
        self.deleted: list[str] = []

    def get(self, path: str) -> dict[str, Any]:
        upload_id = path.rsplit("/", 1)[-1]
        if upload_id not in self.sessions:
            raise ApiError(404, "UPLOAD_NOT_FOUND", "Upload not found")
        return self.sessions[upload_id]

    def delete(self, path: str) -> None:
        upload_id = path.rsplit("/", 1)[-1]
        self.deleted.append(path)
        if upload_id in self.deletes:
            raise self.deletes[upload_id]


def _open_session(expires: str = "2030-01-08T10:00:00Z") -> dict[str, Any]:
    return {
        "status": "OPEN",
        "uploadedParts": [],
        "missingParts": [1],
        "parts": [],
        "sessionExpiresAt": expires,
    }


@pytest.fixture
def changed_file(tmp_path: Path) -> tuple[Path, StateStore]:
    """A file whose saved resume state (upload ``u-old``) describes an older, smaller version of it."""
    path = tmp_path / "shot.mov"
    path.write_bytes(b"new bytes, longer than before")
    store = StateStore(tmp_path / "state")
    store.save(
        state_key(API, "a1", path),
        ResumeState(
            api=API,
            asset_id="a1",
            path=str(path.resolve()),
            size=5,
            mtime_ns=os.stat(path).st_mtime_ns,
            upload_id="u-old",
            part_size=8,
            part_count=1,
            superseded=["u-older"],
        ),
    )
    return path, store


def _args(path: Path, store: StateStore, **extra: Any) -> argparse.Namespace:
    values = dict(file=path, asset="a1", state_dir=store.folder, quiet=True, abort_previous=False)
    values.update(extra)
    return argparse.Namespace(**values)


def test_a_changed_file_leaves_the_earlier_upload_open_and_says_so_in_one_line(
    changed_file: tuple[Path, StateStore], capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = changed_file
    api = _Api({"u-old": _open_session()})

    # When the command decides what to do (even with --quiet)
    decision, _, _ = UploadRun(api, _args(path, store)).decide()  # type: ignore[arg-type]

    # Then a new upload starts, nothing is deleted, and one note line names the upload and the ways out
    assert decision.action == "start" and decision.previous_upload_id == "u-old"
    assert api.deleted == []
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    note = lines[0]
    assert note.startswith("note: shot.mov changed since upload u-old began")
    assert "2030-01-08T10:00:00Z" in note
    assert "--abort-previous" in note and "DELETE /assets/a1/uploads/u-old" in note


def test_an_unchanged_file_or_a_finished_earlier_upload_needs_no_note(
    changed_file: tuple[Path, StateStore], capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = changed_file
    # Given the earlier upload was completed meanwhile / When deciding / Then no note, no DELETE
    api = _Api({"u-old": {**_open_session(), "status": "COMPLETED"}})
    decision, _, _ = UploadRun(api, _args(path, store)).decide()  # type: ignore[arg-type]
    assert decision.action == "start" and decision.previous_upload_id is None
    assert api.deleted == [] and capsys.readouterr().err == ""


def test_abort_previous_aborts_the_earlier_uploads_it_remembers(
    changed_file: tuple[Path, StateStore], capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = changed_file
    # Given the earlier upload u-old (open) and u-older (left open by an earlier change, now completed)
    api = _Api(
        {"u-old": _open_session()},
        deletes={"u-older": ApiError(409, "UPLOAD_COMPLETED", "The upload is already completed")},
    )
    run = UploadRun(api, _args(path, store, abort_previous=True))  # type: ignore[arg-type]

    # When deciding with --abort-previous
    decision, _, _ = run.decide()

    # Then both were asked to abort; the completed one is kept and reported; none is left to abort
    assert decision.action == "start"
    assert sorted(api.deleted) == ["/assets/a1/uploads/u-old", "/assets/a1/uploads/u-older"]
    err = capsys.readouterr().err
    assert "Aborted the earlier upload u-old of shot.mov (--abort-previous)" in err
    assert "the earlier upload u-older was completed; not aborted" in err
    assert run.superseded == []


def test_an_abort_that_fails_keeps_the_upload_remembered(
    changed_file: tuple[Path, StateStore], capsys: pytest.CaptureFixture[str]
) -> None:
    path, store = changed_file
    api = _Api({"u-old": _open_session()}, deletes={"u-old": ApiError(0, "NETWORK", "connection refused")})
    run = UploadRun(api, _args(path, store, abort_previous=True))  # type: ignore[arg-type]
    # When the DELETE of u-old cannot reach the API (u-older's goes through)
    run.decide()
    # Then an error line, and u-old is kept for the next try
    assert "! could not abort the earlier upload u-old" in capsys.readouterr().err
    assert run.superseded == ["u-old"]
