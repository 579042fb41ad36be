"""The ``keyframe`` command's arguments and exit codes (0 ok, 1 failed work, 2 usage/auth, 130 interrupted).

The API is replaced by a stub of :meth:`ApiClient.request`: no network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.shell_completion import BashComplete

from keyframe import readme
from keyframe.cli import credentials, main
from keyframe.cli.client import ApiError

API = "http://api.test"
ASSET_ID = "0b6f3c1e-2d4a-4e8b-9c7d-1a2b3c4d5e6f"


def _answer(routes: dict[tuple[str, str], Any]) -> Callable[..., Any]:
    """A stand-in for ``ApiClient.request`` answering ``(method, path)`` from ``routes``."""

    def request(self: Any, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        answer = routes[(method, path)]
        if isinstance(answer, BaseException):
            raise answer
        return answer(body, params) if callable(answer) else answer

    return request


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_and_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == "keyframe 0.1.0"
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("login", "assets", "upload", "download", "render", "renders", "open", "comments"):
        assert f"  {command} " in out
    assert run(capsys, "download", "--help")[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["nonsense"],
        ["upload"],  # FILE and --asset missing
        ["upload", "f.mov"],  # --asset missing
        ["download", "a", "--derived", "poster"],  # not a derived file name
        ["render", "a"],  # --preset missing
        ["assets", "--limit", "0"],
        ["download", "a", "--limit-rate", "fast", "--api", API, "--token", "t"],
        ["comments", "a", "--frame", "12", "--api", API, "--token", "t"],  # --frame without --add
        ["completion", "powershell"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert err.strip()


def test_without_an_api_a_script_is_told_how_to_give_one_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given no --api, no KEYFRAME_API, no stack file here or above, no login, and no terminal
    code, _, err = run(capsys, "assets")
    # Then exit 2, naming every way to give one
    assert code == 2
    assert "--api" in err and "KEYFRAME_API" in err and ".keyframe/local-stack.json" in err


def test_without_a_token_exit_2_telling_how_to_sign_in(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "assets", "--api", API)
    assert code == 2 and "keyframe login" in err and API in err


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ApiError(404, "ASSET_NOT_FOUND", "Asset not found"), 2),
        (ApiError(403, "FORBIDDEN", "Your role cannot do that"), 2),
        (ApiError(401, "UNAUTHORIZED", "Token expired"), 2),
        (ApiError(503, "UNAVAILABLE", "Try again"), 1),
        (ApiError(0, "UNREACHABLE", "Cannot reach the Keyframe API"), 1),
    ],
)
def test_api_errors_exit_2_when_refused_and_1_when_the_api_failed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, error: ApiError, expected: int
) -> None:
    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", _answer({("GET", "/me"): error}))
    code, _, err = run(capsys, "whoami", "--api", API, "--token", "t")
    assert code == expected
    assert f"! {error.message} ({error.code})" in err


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "keyframe.cli.client.ApiClient.request", _answer({("GET", "/me"): KeyboardInterrupt()})
    )
    code, _, err = run(capsys, "whoami", "--api", API, "--token", "t")
    assert code == 130 and "interrupted" in err


def test_common_options_work_before_and_after_the_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str | None]] = []

    def request(self: Any, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        seen.append((self.base_url, self.token))
        return {"user": {}, "studio": {}, "role": "ARTIST"}

    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", request)
    assert run(capsys, "--api", API + "/", "--token", "before", "whoami")[0] == 0
    assert run(capsys, "whoami", "--api", "http://other.test", "--token", "after")[0] == 0
    # the command's own options win over the group's
    assert run(capsys, "--api", API, "--token", "a", "whoami", "--token", "b")[0] == 0
    assert seen == [(API, "before"), ("http://other.test", "after"), (API, "b")]


def test_listings_print_the_apis_page_with_json_and_follow_cursors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = {None: {"items": [{"id": "p1"}, {"id": "p2"}], "nextCursor": "c2"},
             "c2": {"items": [{"id": "p3"}], "nextCursor": None}}  # fmt: skip
    asked: list[dict[str, Any]] = []

    def projects(_body: Any, params: dict[str, Any]) -> Any:
        asked.append(dict(params))
        return pages[params.get("cursor")]

    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", _answer({("GET", "/projects"): projects}))
    code, out, _ = run(capsys, "projects", "--json", "--api", API, "--token", "t")
    assert code == 0
    assert json.loads(out) == {"items": [{"id": "p1"}, {"id": "p2"}, {"id": "p3"}], "nextCursor": None}
    # --limit stops early and hands back the cursor to continue from
    asked.clear()
    code, out, _ = run(capsys, "projects", "--json", "--limit", "2", "--api", API, "--token", "t")
    assert json.loads(out) == {"items": [{"id": "p1"}, {"id": "p2"}], "nextCursor": "c2"}
    assert asked == [{"limit": 2}]


def test_assets_filters_become_the_apis_query(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, Any]] = []
    project = {"id": ASSET_ID, "code": "NM", "name": "Night Market"}
    routes = {
        ("GET", "/projects"): {"items": [project], "nextCursor": None},
        ("GET", "/assets"): lambda _b, params: (
            asked.append(dict(params)) or {"items": [], "nextCursor": None}
        ),
    }
    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", _answer(routes))
    code, out, _ = run(capsys, "assets", "--project", "nm", "--type", "shot", "--q", "sq010", "--api", API,
                       "--token", "t")  # fmt: skip
    assert code == 0 and "(no assets)" in out
    assert asked == [{"projectId": ASSET_ID, "type": "SHOT", "q": "sq010", "limit": 50}]


def test_shell_completion_completes_commands_and_known_values() -> None:
    completion = BashComplete(main.cli, {}, "keyframe", "_KEYFRAME_COMPLETE")
    assert [c.value for c in completion.get_completions([], "as")] == ["assets"]
    assert [c.value for c in completion.get_completions(["download", "x", "--derived"], "pr")] == ["proxy"]
    assert [c.value for c in completion.get_completions(["render", "x", "--preset"], "re")] == ["review-mp4"]


def test_the_completion_command_prints_a_script_for_the_shell(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "completion", "bash")
    assert code == 0 and "_KEYFRAME_COMPLETE" in out and "complete " in out


def test_logout_revokes_and_forgets_only_that_apis_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    credentials.save(credentials.Credentials("http://other.test", "a@b.c", "s0", "a0", "r0"))
    credentials.save(credentials.Credentials(API, "a@b.c", "s1", "access", "refresh"))
    revoked: list[Any] = []
    routes = {("POST", "/auth/logout"): lambda body, _p: revoked.append(body)}
    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", _answer(routes))
    code, _, err = run(capsys, "logout", "--api", API)
    assert code == 0 and "Signed out" in err
    assert revoked == [{"refreshToken": "refresh"}]
    assert credentials.load(API) is None
    assert credentials.load("http://other.test") is not None


def test_the_readme_lists_every_command_with_an_example_and_the_exit_codes() -> None:
    text = readme.README.read_text()
    section = text.split("## The `keyframe` command", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for name, command in main.cli.commands.items():
        names = [name] + [f"{name} {sub}" for sub in getattr(command, "commands", {})]
        for full in names:
            cells = [r.split(" | ") for r in rows if r.startswith(f"| `{name}")]
            listed = any(all(word in c[0] for word in full.split()) for c in cells)
            assert listed, f"`keyframe {full}` is not listed"
            assert any(f"keyframe {full}" in c[-1] for c in cells), f"no example of `keyframe {full}`"
    for code in (0, 1, 2, 130):
        assert f"\n| {code} | " in section


def test_studios_use_signs_in_again_to_the_chosen_studio(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials.save(credentials.Credentials(API, "ada@x.studio", "s1", "access-1", "refresh-1"))
    mine = {"items": [{"studio": {"studioId": "s1", "name": "Night Market"}, "role": "ADMIN"},
                      {"studio": {"studioId": "s2", "name": "Day Market"}, "role": "ARTIST"}]}  # fmt: skip
    logins: list[Any] = []

    def login(body: dict[str, Any], _params: Any) -> Any:
        logins.append(body)
        return {"accessToken": "access-2", "refreshToken": "refresh-2", "role": "ARTIST",
                "studio": {"studioId": body["studioId"], "name": "Day Market"}}  # fmt: skip

    routes = {("GET", "/me/studios"): mine, ("POST", "/auth/login"): login}
    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", _answer(routes))
    monkeypatch.setenv("KEYFRAME_PASSWORD", "secret")
    # When the artist switches by the studio's name
    code, _, err = run(capsys, "studios", "use", "day market", "--api", API)
    # Then they signed in again to that studio, and the stored token is for it
    assert code == 0 and "Signed in to Day Market (s2) as ARTIST" in err
    assert logins == [{"email": "ada@x.studio", "password": "secret", "studioId": "s2"}]
    stored = credentials.load(API)
    assert stored is not None and (stored.studio_id, stored.access_token) == ("s2", "access-2")
    # And a studio they are not a member of is a usage error
    assert run(capsys, "studios", "use", "Elsewhere", "--api", API)[0] == 2


def test_a_wrong_password_says_so_even_with_an_earlier_login_stored(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a token stored by an earlier login to the API (its refresh token no longer valid)
    credentials.save(credentials.Credentials(API, "a@b.c", "s1", "access", "refresh"))
    sent: list[str] = []

    def send(self: Any, method: str, path: str, body: Any, params: Any) -> requests.Response:
        sent.append(path)
        refused = requests.Response()
        refused.status_code = 401
        code = "INVALID_CREDENTIALS" if path == "/auth/login" else "INVALID_REFRESH_TOKEN"
        refused._content = json.dumps(
            {"error": {"code": code, "message": code.lower(), "correlationId": "c"}}
        ).encode()
        return refused

    monkeypatch.setattr("keyframe.cli.client.ApiClient._send", send)
    # When signing in with a wrong password
    code, _, err = run(capsys, "login", "--api", API, "--email", "a@b.c", "--password", "wrong")
    # Then the API's refusal of the password is what the user reads, and no refresh was tried
    assert code == 2 and "INVALID_CREDENTIALS" in err, err
    assert sent == ["/auth/login"]
