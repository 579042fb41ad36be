"""The upload command's moving parts without a network: part streaming, retries, waiting, exits."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

from keyframe.cli import credentials
from keyframe.cli import main as cli_main
from keyframe.cli.client import ApiError
from keyframe.cli.parts import PartReader, PartSender, UploadFailed, send_parts, sha256_of
from keyframe.cli.processing import Outcome, pipeline_outcome, wait_for_version
from keyframe.cli.session import make_client


class _Progress:
    def __init__(self) -> None:
        self.n = 0

    def update(self, count: int) -> None:
        self.n += count


class _Urls:
    def __init__(self) -> None:
        self.refreshed: list[int] = []

    def get(self, number: int) -> tuple[str, dict[str, str]]:
        return f"https://s3.test/part{number}?v={len(self.refreshed)}", {}

    def forget(self, number: int) -> None:
        self.refreshed.append(number)


class _Answer:
    def __init__(self, status: int, etag: str = "", text: str = "") -> None:
        self.status_code = status
        self.headers = {"ETag": etag} if etag else {}
        self.text = text


class _Http:
    """Answers PUTs from a script; reads the streamed body like urllib3 does (8 KiB blocks)."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.bodies: list[bytes] = []
        self.urls: list[str] = []

    def put(self, url: str, data: PartReader, headers: dict[str, str], timeout: Any) -> _Answer:
        assert headers["Content-Type"] == "application/octet-stream"
        self.urls.append(url)
        self.bodies.append(b"".join(iter(lambda: data.read(8192), b"")))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if step == "ok":
            return _Answer(200, f'"{hashlib.md5(self.bodies[-1]).hexdigest()}"')
        return step


@pytest.fixture
def file_of_25_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(25)))
    return path


def _sender(path: Path, http: _Http, urls: _Urls | None = None) -> tuple[PartSender, _Progress]:
    progress = _Progress()
    sender = PartSender(path, 10, 25, urls or _Urls(), progress, sleep=lambda s: None)
    sender._http = lambda: http  # type: ignore[method-assign]
    return sender, progress


def test_a_part_reader_streams_exactly_its_range(file_of_25_bytes: Path) -> None:
    seen: list[int] = []
    reader = PartReader(file_of_25_bytes, 10, 10, seen.append)
    # Then its length is the part's, blocks come as asked and "read all" returns the rest
    assert len(reader) == 10
    assert reader.read(4) == bytes(range(10, 14))
    assert reader.read() == bytes(range(14, 20))
    assert reader.read(4) == b""
    assert sum(seen) == 10 and reader.md5.hexdigest() == hashlib.md5(bytes(range(10, 20))).hexdigest()
    reader.close()


def test_the_last_part_is_the_remainder_and_the_etag_comes_back(file_of_25_bytes: Path) -> None:
    http = _Http(["ok"])
    sender, progress = _sender(file_of_25_bytes, http)
    etag = sender.send(3)
    assert http.bodies == [bytes(range(20, 25))]
    assert etag == hashlib.md5(bytes(range(20, 25))).hexdigest()
    assert progress.n == 5


def test_network_errors_and_5xx_are_retried_and_progress_undone(file_of_25_bytes: Path) -> None:
    http = _Http([requests.ConnectionError("reset"), _Answer(503, text="slow down"), "ok"])
    sender, progress = _sender(file_of_25_bytes, http)
    sender.send(1)
    assert len(http.bodies) == 3 and progress.n == 10


def test_an_expired_url_is_refreshed_before_the_retry(file_of_25_bytes: Path) -> None:
    urls = _Urls()
    http = _Http([_Answer(403, text="Request has expired"), "ok"])
    sender, _ = _sender(file_of_25_bytes, http, urls)
    sender.send(2)
    assert urls.refreshed == [2]
    assert http.urls == ["https://s3.test/part2?v=0", "https://s3.test/part2?v=1"]


def test_a_stored_part_that_does_not_match_the_bytes_read_is_sent_again(file_of_25_bytes: Path) -> None:
    http = _Http([_Answer(200, '"' + "0" * 32 + '"'), "ok"])
    sender, _ = _sender(file_of_25_bytes, http)
    assert sender.send(1) == hashlib.md5(bytes(range(10))).hexdigest()
    assert len(http.bodies) == 2


def test_a_client_error_is_not_retried_and_names_the_part(file_of_25_bytes: Path) -> None:
    http = _Http([_Answer(400, text="bad request")])
    sender, progress = _sender(file_of_25_bytes, http)
    with pytest.raises(UploadFailed, match=r"part 2 could not be sent .*HTTP 400"):
        sender.send(2)
    assert progress.n == 0


def test_after_a_part_fails_for_good_no_new_part_starts(file_of_25_bytes: Path) -> None:
    # Given one worker and part 1 failing every attempt
    http = _Http([_Answer(400, text="no")] + ["ok"] * 5)
    sender, _ = _sender(file_of_25_bytes, http)
    done: list[int] = []
    # When parts 1-3 are sent / Then the failure surfaces and parts 2-3 were never sent
    with pytest.raises(UploadFailed):
        send_parts(sender, [1, 2, 3], 1, lambda n, e: done.append(n))
    assert done == [] and len(http.bodies) == 1


def test_every_success_is_reported_as_it_lands(file_of_25_bytes: Path) -> None:
    http = _Http(["ok", "ok", "ok"])
    sender, _ = _sender(file_of_25_bytes, http)
    done: dict[int, str] = {}
    send_parts(sender, [1, 2, 3], 2, done.__setitem__)
    assert sorted(done) == [1, 2, 3]


def test_sha256_is_computed_by_streaming(file_of_25_bytes: Path) -> None:
    counted: list[int] = []
    assert sha256_of(file_of_25_bytes, counted.append) == hashlib.sha256(bytes(range(25))).hexdigest()
    assert sum(counted) == 25


@pytest.mark.parametrize(
    ("upload", "version", "expected"),
    [
        ({"version": None, "pipeline": {"status": "RUNNING"}}, None, None),
        ({"version": 3, "pipeline": {"status": "RUNNING"}}, {"version": 3, "status": "PROCESSING"}, None),
        (
            {"version": 3, "pipeline": {"status": "SUCCEEDED"}},
            {"version": 3, "status": "READY"},
            Outcome("READY", 3),
        ),
        (
            {"version": 2, "pipeline": {"status": "SUCCEEDED"}},
            {"version": 2, "status": "FAILED", "error": {"code": "DERIVE_FAILED", "message": "no frames"}},
            Outcome("FAILED", 2, "no frames"),
        ),
        (
            {
                "version": None,
                "pipeline": {
                    "status": "FAILED",
                    "error": {"code": "INVALID_MEDIA", "message": "not a video"},
                },
            },
            None,
            Outcome("FAILED", None, "not a video"),
        ),
        (
            {"version": None, "pipeline": {"status": "TIMED_OUT"}},
            None,
            Outcome("FAILED", None, "the pipeline ended TIMED_OUT"),
        ),
    ],
)
def test_the_outcome_is_read_from_the_version_first_then_the_pipeline(upload, version, expected) -> None:
    assert pipeline_outcome(upload, version) == expected


class _Api:
    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def get(self, path: str, params: Any = None) -> Any:
        self.calls.append(path)
        answer = self.answers[path].pop(0) if len(self.answers[path]) > 1 else self.answers[path][0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_waiting_polls_until_the_version_is_ready() -> None:
    upload = "/assets/a/uploads/u"
    api = _Api(
        {
            upload: [
                {"version": None, "pipeline": {"status": "RUNNING"}},
                {"version": 1, "pipeline": {"status": "RUNNING"}},
            ],
            "/assets/a/versions/1": [
                {"version": 1, "status": "PROCESSING"},
                {"version": 1, "status": "READY"},
            ],
        }
    )
    now = [0.0]
    outcome = wait_for_version(
        api, "a", "u", timeout=60, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0]
    )
    assert outcome == Outcome("READY", 1)
    assert api.calls.count(upload) == 3


def test_waiting_gives_up_after_the_timeout() -> None:
    api = _Api({"/assets/a/uploads/u": [{"version": None, "pipeline": {"status": "RUNNING"}}]})
    now = [0.0]
    outcome = wait_for_version(
        api, "a", "u", timeout=10, sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0]
    )
    assert outcome is None and now[0] == pytest.approx(10)


@pytest.fixture
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stored credentials, no stack file, no API or token from the environment."""
    monkeypatch.setenv("KEYFRAME_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for name in ("KEYFRAME_TOKEN", "KEYFRAME_API", "KEYFRAME_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_isolated")
def test_usage_errors_and_a_missing_token_exit_2(tmp_path: Path, capsys) -> None:
    assert cli_main.main(["upload"]) == 2
    assert cli_main.main(["nonsense"]) == 2
    assert cli_main.main(["--help"]) == 0
    # Given an API but no token anywhere / When uploading / Then exit 2 telling how to sign in
    capsys.readouterr()
    assert cli_main.main(["upload", str(tmp_path / "f"), "--asset", "a", "--api", "http://api.test"]) == 2
    assert "keyframe login" in capsys.readouterr().err


@pytest.mark.usefixtures("_isolated")
def test_an_api_error_prints_the_api_message_and_exits_2(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "f.mov"
    path.write_bytes(b"x")

    def refuse(self: Any, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        raise ApiError(413, "QUOTA_EXCEEDED", "This file needs 1 bytes but the studio has 0 left")

    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", refuse)
    argv = ["upload", str(path), "--asset", "a1", "--token", "t", "--api", "http://api.test", "--quiet"]
    code = cli_main.main([*argv, "--force"])
    assert code == 2
    assert "the studio has 0 left (QUOTA_EXCEEDED)" in capsys.readouterr().err


@pytest.mark.usefixtures("_isolated")
def test_credentials_are_private_and_only_sent_to_their_own_api(monkeypatch) -> None:
    # Given stored credentials for one API
    where = credentials.save(credentials.Credentials("http://api.test", "a@b.c", "s1", "access", "refresh"))
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    # When a client of that API is made / Then the stored token is used (and can be refreshed)
    client = make_client("http://api.test/")
    assert (client.base_url, client.token, client.stored is not None) == ("http://api.test", "access", True)
    # When a token is given / Then it wins and nothing is refreshed
    given = make_client("http://api.test", "flag")
    assert (given.token, given.stored) == ("flag", None)
    # When another API is named / Then the stored token (for another API) is not sent there
    assert make_client("http://elsewhere").token is None
