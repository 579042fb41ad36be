"""Which API the command talks to (flag, env, the local stack's file here or above, last login, ask)
and the credentials kept per API (0600)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from keyframe.cli import credentials, session, stackfile
from keyframe.cli.exits import Usage


def _stack_file(folder: Path, api: str, pid: int | None = None) -> Path:
    path = folder / ".keyframe" / "local-stack.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid or os.getpid(), "urls": {"api": api, "websocket": "ws://x/live"}}))
    return path


def _dead_pid() -> int:
    pid = 2**22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_the_stack_file_is_found_from_a_folder_below_the_checkout(tmp_path: Path, monkeypatch) -> None:
    # Given a running stack's file in the checkout, and an artist two folders below
    written = _stack_file(tmp_path, "http://127.0.0.1:4631")
    below = tmp_path / "shots" / "sq010"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    # When the API is chosen with nothing else given / Then it is the stack's, from that file
    assert session.choose_api(None) == session.ApiChoice("http://127.0.0.1:4631", str(written))


def test_the_order_is_flag_then_env_then_stack_file_then_last_login(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    credentials.save(credentials.Credentials("http://last-login.test", "a@b.c", "s", "t", "r"))
    assert session.choose_api(None).url == "http://last-login.test"
    _stack_file(tmp_path, "http://stack.test")
    assert session.choose_api(None).url == "http://stack.test"
    monkeypatch.setenv("KEYFRAME_API", "http://env.test/")
    assert session.choose_api(None) == session.ApiChoice("http://env.test", "KEYFRAME_API")
    assert session.choose_api("http://flag.test/") == session.ApiChoice("http://flag.test", "--api")


def test_keyframe_state_dir_names_the_stack_file_first(tmp_path: Path, monkeypatch) -> None:
    _stack_file(Path.cwd(), "http://here.test")
    state = tmp_path / "state"
    _stack_file(state, "http://state-dir.test")
    monkeypatch.setenv("KEYFRAME_STATE_DIR", str(state / ".keyframe"))
    assert session.choose_api(None).url == "http://state-dir.test"


def test_a_stack_file_left_by_a_stack_that_no_longer_runs_is_skipped(tmp_path: Path, monkeypatch) -> None:
    # Given a stale file in the current folder and a live one above
    _stack_file(tmp_path, "http://live.test")
    here = tmp_path / "sub"
    _stack_file(here, "http://crashed.test", pid=_dead_pid())
    monkeypatch.chdir(here)
    # Then the live one is used
    assert stackfile.find() is not None and session.choose_api(None).url == "http://live.test"


def test_with_nothing_found_a_person_is_asked_and_a_script_exits_2(monkeypatch) -> None:
    with pytest.raises(Usage) as refused:
        session.choose_api(None, can_ask=False)
    assert refused.value.exit_code == 2 and "local-stack.json" in refused.value.message
    monkeypatch.setattr("click.prompt", lambda *a, **k: "http://typed.test/")
    assert session.choose_api(None, can_ask=True) == session.ApiChoice("http://typed.test", "asked")


def test_credentials_are_kept_per_api_in_a_private_file() -> None:
    # Given logins to the local stack and to a deployed API
    credentials.save(credentials.Credentials("http://127.0.0.1:3000", "ada@x.studio", "s1", "local", "r1"))
    where = credentials.save(
        credentials.Credentials("https://api.studio/", "ada@x.studio", "s2", "prod", "r2")
    )
    # Then each API keeps its own token, the last login is current, and the file is 0600 in a 0700 folder
    assert credentials.load("http://127.0.0.1:3000/").access_token == "local"  # type: ignore[union-attr]
    assert credentials.load("https://api.studio").access_token == "prod"  # type: ignore[union-attr]
    assert credentials.current_api() == "https://api.studio"
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert stat.S_IMODE(where.parent.stat().st_mode) == 0o700
    # When a token is refreshed / Then the current API does not change
    credentials.update(credentials.Credentials("http://127.0.0.1:3000", "ada@x.studio", "s1", "new", "r3"))
    assert credentials.current_api() == "https://api.studio"
    assert credentials.load("http://127.0.0.1:3000").access_token == "new"  # type: ignore[union-attr]
    # When one is forgotten / Then the other stays
    assert credentials.remove("https://api.studio") is not None
    assert credentials.load("https://api.studio") is None
    assert credentials.current_api() == "http://127.0.0.1:3000"


def test_a_credentials_file_of_the_first_shape_is_read_as_one_entry() -> None:
    credentials.home().mkdir(parents=True)
    credentials.path().write_text(
        json.dumps(
            {"api": "http://old.test", "email": "e", "studioId": "s", "accessToken": "a", "refreshToken": "r"}
        )
    )
    assert credentials.load("http://old.test") == credentials.Credentials(
        "http://old.test", "e", "s", "a", "r"
    )
    assert credentials.current_api() == "http://old.test"
