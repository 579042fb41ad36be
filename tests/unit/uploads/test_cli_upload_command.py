"""The upload command's moving parts without a network: part streaming, retries, waiting, exits."""

from __future__ import annotations

import argparse
import hashlib
import stat
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests

from keyframe.cli import credentials, upload
from keyframe.cli import main as cli_main
from keyframe.cli.client import ApiError
from keyframe.cli.parts import PartReader, PartSender, UploadFailed, part_crc32s, send_parts, sha256_of
from keyframe.cli.processing import Outcome, pipeline_outcome, wait_for_version
from keyframe.cli.session import make_client


class _Progress:
    def __init__(self) -> None:
        self.n = 0

    def update(self, count: int) -> None:
        self.n += count


class _Urls:
    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.refreshed: list[int] = []
        self.headers = headers or {}

    def get(self, number: int) -> tuple[str, dict[str, str]]:
        return f"https://s3.test/part{number}?v={len(self.refreshed)}", dict(self.headers)

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
        self.headers: list[dict[str, str]] = []

    def put(self, url: str, data: PartReader, headers: dict[str, str], timeout: Any) -> _Answer:
        assert headers["Content-Type"] == "application/octet-stream"
        self.urls.append(url)
        self.headers.append(headers)
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


_CRC_HEADERS = {"x-amz-checksum-crc32": "AAAAAA=="}


def test_a_part_whose_url_signs_a_checksum_is_sent_with_it_and_storage_checks_the_bytes(
    file_of_25_bytes: Path,
) -> None:
    # Given a URL signed with the part's CRC32 (storage verifies the bytes against it)
    http = _Http([_Answer(200, '"' + "0" * 32 + '"')])
    sender, _ = _sender(file_of_25_bytes, http, _Urls(_CRC_HEADERS))
    # When sent / Then the header goes with it and the ETag is taken as storage's: no MD5 of our own
    assert sender.send(1) == "0" * 32
    assert http.headers[0]["x-amz-checksum-crc32"] == "AAAAAA==" and len(http.bodies) == 1


def test_a_part_storage_found_corrupted_in_transit_is_sent_again(file_of_25_bytes: Path) -> None:
    # Given storage answering the first PUT 400 BadDigest (the bytes did not match the signed CRC32)
    bad_digest = _Answer(
        400, text="<Error><Code>BadDigest</Code><Message>The CRC32 you specified did not match"
    )
    http = _Http([bad_digest, "ok"])
    sender, progress = _sender(file_of_25_bytes, http, _Urls(_CRC_HEADERS))
    # When sent / Then it is read and sent again, and the progress counts its bytes once
    assert sender.send(2) == hashlib.md5(bytes(range(10, 20))).hexdigest()
    assert http.bodies == [bytes(range(10, 20))] * 2 and progress.n == 10


def test_part_crc32s_are_zlibs_crc32_of_each_planned_part(tmp_path: Path) -> None:
    # Given a file of two whole parts and a remainder, over several read blocks
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 8193
    path.write_bytes(data)
    part = 1024 * 1024 + 7
    # When checksummed / Then each part's CRC32, 8 hex characters, in part order
    expected = [f"{zlib.crc32(data[o : o + part]):08x}" for o in range(0, len(data), part)]
    assert part_crc32s(path, part, len(data)) == expected and len(expected) == 3


def test_part_crc32s_stop_at_the_declared_size(tmp_path: Path) -> None:
    # Given a file that grew past the size the upload declares
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 100
    path.write_bytes(data + b"appended")
    # When checksummed for the declared size / Then the bytes after it are not in the last part
    assert part_crc32s(path, 10_000, len(data)) == [
        f"{zlib.crc32(data[:10_000]):08x}",
        f"{zlib.crc32(data[10_000:20_000]):08x}",
        f"{zlib.crc32(data[20_000:]):08x}",
    ]


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


class _OpeningApi:
    """Answers ``POST …/uploads`` from a script of errors, then opens; records each body."""

    def __init__(self, *errors: ApiError) -> None:
        self.errors = list(errors)
        self.bodies: list[dict[str, Any]] = []

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        if self.errors:
            raise self.errors.pop(0)
        return {"uploadId": "u1"}


def _open_args() -> Any:
    return argparse.Namespace(asset="a1", content_type="video/mp4", note=None)


def _crc_file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(251)) * (size // 251) + bytes(size % 251))
    return path


def test_the_open_declares_each_default_part_crc32(tmp_path: Path) -> None:
    # Given a 20 MiB file (three parts of the server's default 8 MiB plan)
    path = _crc_file(tmp_path, 20 * 1024 * 1024)
    api = _OpeningApi()
    # When opened / Then one open declaring the three parts' CRC32
    upload._open_with_part_crc32(api, _open_args(), path, path.stat().st_size, None)  # type: ignore[arg-type]
    assert [b["partCrc32"] for b in api.bodies] == [part_crc32s(path, 8 * 1024 * 1024, 20 * 1024 * 1024)]


def test_a_server_planning_other_parts_gets_the_checksums_of_its_plan(tmp_path: Path) -> None:
    # Given a server planning 5 MiB parts: it refuses the 8 MiB guess naming its plan
    path = _crc_file(tmp_path, 12 * 1024 * 1024)
    mismatch = ApiError(400, "PART_CHECKSUMS_MISMATCH", "no", {"partSize": 5 * 1024 * 1024, "partCount": 3})
    api = _OpeningApi(mismatch)
    # When opened / Then the second open declares the CRC32 of each 5 MiB part
    upload._open_with_part_crc32(api, _open_args(), path, path.stat().st_size, None)  # type: ignore[arg-type]
    assert len(api.bodies[0]["partCrc32"]) == 2
    assert api.bodies[1]["partCrc32"] == part_crc32s(path, 5 * 1024 * 1024, 12 * 1024 * 1024)


def test_a_server_without_part_crc32_gets_the_open_of_before(tmp_path: Path) -> None:
    # Given a server from before partCrc32 (it refuses unknown fields)
    path = _crc_file(tmp_path, 1000)
    unknown = ApiError(
        400,
        "VALIDATION_ERROR",
        "Invalid request: partCrc32",
        {"fields": [{"field": "partCrc32", "message": "unknown field", "type": "extra_forbidden"}]},
    )
    api = _OpeningApi(unknown)
    # When opened / Then it is opened again without part checksums, as before
    assert upload._open_with_part_crc32(api, _open_args(), path, 1000, "ab" * 32) == {"uploadId": "u1"}  # type: ignore[arg-type]
    assert "partCrc32" in api.bodies[0] and "partCrc32" not in api.bodies[1]
    assert api.bodies[1] == {
        "fileName": "clip.mp4",
        "size": 1000,
        "contentType": "video/mp4",
        "sha256": "ab" * 32,
    }


def test_other_refusals_of_the_open_are_the_callers(tmp_path: Path) -> None:
    path = _crc_file(tmp_path, 1000)
    api = _OpeningApi(ApiError(413, "STORAGE_QUOTA_EXCEEDED", "full"))
    with pytest.raises(ApiError, match="full"):
        upload._open_with_part_crc32(api, _open_args(), path, 1000, None)  # type: ignore[arg-type]
    assert len(api.bodies) == 1


def test_a_file_over_the_limit_is_opened_without_part_checksums(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given files over 1 KB are not read before their open
    monkeypatch.setattr(upload, "PART_CRC32_MAX_BYTES", 1000)
    path = _crc_file(tmp_path, 1001)
    api = _OpeningApi()
    upload._open_with_part_crc32(api, _open_args(), path, 1001, None)  # type: ignore[arg-type]
    assert ["partCrc32" in b for b in api.bodies] == [False]
