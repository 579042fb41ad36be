"""Resume state of ``keyframe upload``: where it is kept and what the next run does (no network)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from keyframe.cli.resume import Decision, ResumeState, StateStore, decide, state_key


def _state(**overrides) -> ResumeState:
    values = dict(
        api="http://api",
        asset_id="a1",
        path="/f.mov",
        size=30,
        mtime_ns=111,
        upload_id="u1",
        part_size=10,
        part_count=3,
        sha256="ab" * 32,
    )
    values.update(overrides)
    return ResumeState(**values)


def _session(status: str = "OPEN", uploaded: dict[int, str] | None = None, missing: list[int] | None = None):
    return {
        "status": status,
        "uploadedParts": [{"partNumber": n, "size": 10, "etag": e} for n, e in (uploaded or {}).items()],
        "missingParts": missing or [],
        "parts": [],
    }


def test_the_state_file_is_named_by_api_asset_and_resolved_path(tmp_path: Path) -> None:
    # Given the same file named two ways / Then one key; another asset or API -> another key
    (tmp_path / "d").mkdir()
    same = state_key("http://api/", "a1", tmp_path / "d" / ".." / "f.mov")
    assert same == state_key("http://api", "a1", tmp_path / "f.mov")
    assert same != state_key("http://api", "a2", tmp_path / "f.mov")
    assert same != state_key("http://other", "a1", tmp_path / "f.mov")
    assert len(same) == 32


def test_state_survives_a_round_trip_and_a_damaged_file_means_none(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "uploads")
    state = _state(etags={2: "e2", 1: "e1"}, completed=True)
    # When saved and loaded / Then equal, stored in a private folder
    store.save("k", state)
    assert store.load("k") == state
    assert stat.S_IMODE((tmp_path / "uploads").stat().st_mode) == 0o700
    # When the file is damaged / Then it reads as no state; forget removes it
    store.path_of("k").write_text("{not json")
    assert store.load("k") is None
    store.forget("k")
    assert not store.path_of("k").exists()
    assert store.load("missing") is None


def test_no_state_starts_a_new_upload() -> None:
    assert decide(None, 30, 111, None) == Decision("start")


def test_a_changed_file_starts_a_new_upload_and_only_names_the_old_open_session() -> None:
    state = _state()
    # Given the file's size or mtime changed / Then a new upload; the old one is named, not aborted
    assert decide(state, 31, 111, _session()) == Decision("start", previous_upload_id="u1")
    assert decide(state, 30, 222, _session()) == Decision("start", previous_upload_id="u1")
    # an old session that is no longer open is not worth a mention
    assert decide(state, 31, 111, _session("ABORTED")) == Decision("start")
    assert decide(state, 31, 111, _session("COMPLETED")) == Decision("start")
    assert decide(state, 31, 111, None) == Decision("start")


def test_superseded_sessions_survive_a_round_trip_and_old_state_files_still_load(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    # Given a state remembering an earlier session left open / When saved and loaded / Then kept
    store.save("k", _state(superseded=["u0"]))
    assert store.load("k") == _state(superseded=["u0"])
    # Given a state file written before ``superseded`` existed / Then it loads with none
    data = _state().to_json()
    del data["superseded"]
    store.path_of("k").write_text(json.dumps(data))
    assert store.load("k") == _state()


def test_a_session_gone_or_aborted_starts_afresh() -> None:
    assert decide(_state(), 30, 111, None) == Decision("start")
    assert decide(_state(), 30, 111, _session("ABORTED")) == Decision("start")


def test_an_open_session_sends_only_the_missing_parts() -> None:
    # Given S3 holds parts 1 and 3; part 2 is missing
    decision = decide(_state(), 30, 111, _session(uploaded={1: '"e1"', 3: "e3"}, missing=[2]))
    # Then only part 2 is sent and the server's ETags are kept for complete
    assert decision == Decision("upload", (2,), {1: "e1", 3: "e3"})


def test_a_part_s3_holds_with_other_bytes_than_this_client_sent_is_sent_again() -> None:
    state = _state(etags={1: "e1", 3: "mine"})
    decision = decide(state, 30, 111, _session(uploaded={1: "e1", 3: "theirs"}, missing=[2]))
    assert decision == Decision("upload", (2, 3), {1: "e1"})


def test_everything_uploaded_goes_straight_to_complete() -> None:
    decision = decide(_state(), 30, 111, _session(uploaded={1: "e1", 2: "e2", 3: "e3"}))
    assert decision == Decision("complete", (), {1: "e1", 2: "e2", 3: "e3"})


def test_completing_uses_the_remembered_etags_and_completed_only_waits() -> None:
    state = _state(etags={1: "e1", 2: "e2", 3: "e3"})
    assert decide(state, 30, 111, _session("COMPLETING")) == Decision("complete", (), state.etags)
    assert decide(state, 30, 111, _session("COMPLETED")).action == "wait"
    assert decide(_state(completed=True), 30, 111, _session("OPEN")).action == "wait"
