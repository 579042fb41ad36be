"""``keyframe download`` resumes with HTTP Range, and restarts when storage holds other bytes.

Storage is a stand-in that honours ``Range`` like S3 (206 + ``Content-Range``), and can be told to
break a transfer after some bytes, to ignore ``Range``, or to hold another object (another ETag).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from keyframe.cli import download
from keyframe.cli.download import Downloader, PartialFile, Source, parse_rate
from keyframe.cli.exits import Failed

DATA = bytes(range(256)) * 400  # 102,400 bytes


class _Answer:
    def __init__(self, status: int, body: bytes, headers: dict[str, str], break_after: int | None) -> None:
        self.status_code, self.body, self.headers = status, body, headers
        self.break_after = break_after
        self.text = ""

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        step = min(chunk_size, 8192)  # as the network hands them over
        for start in range(0, len(self.body), step):
            if self.break_after is not None and start >= self.break_after:
                raise requests.ConnectionError("connection reset by peer")
            yield self.body[start : start + step]


class _Storage:
    def __init__(self, data: bytes = DATA, etag: str = '"e1"') -> None:
        self.data, self.etag = data, etag
        self.ranges: list[str | None] = []
        self.break_after: list[int | None] = []
        self.ignore_range = False

    def get(self, url: str, headers: dict[str, str], stream: bool, timeout: Any) -> _Answer:
        asked = headers.get("Range")
        self.ranges.append(asked)
        broken = self.break_after.pop(0) if self.break_after else None
        if asked and not self.ignore_range:
            start = int(re.match(r"bytes=(\d+)-", asked)[1])  # type: ignore[index]
            if start >= len(self.data):
                return _Answer(416, b"", {}, None)
            headers_out = {
                "ETag": self.etag,
                "Content-Range": f"bytes {start}-{len(self.data) - 1}/{len(self.data)}",
            }
            return _Answer(206, self.data[start:], headers_out, broken)
        return _Answer(200, self.data, {"ETag": self.etag, "Content-Length": str(len(self.data))}, broken)


class _Client:
    def __init__(self, storage: _Storage) -> None:
        self.http = storage
        self.links = 0

    def get(self, path: str) -> dict[str, Any]:
        self.links += 1
        return {
            "url": f"https://storage.test/o?sig={self.links}",
            "fileName": "proxy.mp4",
            "size": len(self.http.data),
        }


SOURCE = Source("asset-1@1:proxy", "/assets/asset-1/versions/1/derived/proxy", "SQ010 v1 proxy")


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download.time, "sleep", lambda s: None)


def _download(storage: _Storage, target: Path, source: Source = SOURCE) -> Downloader:
    downloader = Downloader(_Client(storage), source, PartialFile(target), shown=False)  # type: ignore[arg-type]
    downloader.run()
    return downloader


def test_an_interrupted_download_resumes_from_the_bytes_kept(tmp_path: Path) -> None:
    storage = _Storage()
    target = tmp_path / "proxy.mp4"
    # Given a download whose connection breaks after 32 KiB, then at once on every retry of that run
    storage.break_after = [32 * 1024] + [0] * (download.ATTEMPTS - 1)
    with pytest.raises(Failed, match="run the same command again to resume"):
        _download(storage, target)
    kept = target.with_name("proxy.mp4.part").stat().st_size
    assert kept == 32 * 1024 and not target.exists()

    # When it runs again
    storage.ranges.clear()
    resumed = _download(storage, target)
    # Then only the rest was asked for, with Range, and the file is whole
    assert storage.ranges == [f"bytes={kept}-"]
    assert target.read_bytes() == DATA
    assert resumed.resumed_from == kept
    assert resumed.transfer is not None and resumed.transfer.moved == len(DATA) - kept
    assert (
        not target.with_name("proxy.mp4.part").exists()
        and not target.with_name("proxy.mp4.part.json").exists()
    )


def test_a_broken_connection_is_retried_within_the_run_from_where_it_stopped(tmp_path: Path) -> None:
    storage = _Storage()
    storage.break_after = [40 * 1024]
    _download(storage, tmp_path / "proxy.mp4")
    assert storage.ranges == [None, f"bytes={40 * 1024}-"]
    assert (tmp_path / "proxy.mp4").read_bytes() == DATA


def test_when_the_object_changed_the_download_starts_again(tmp_path: Path) -> None:
    storage = _Storage()
    storage.break_after = [16 * 1024] + [0] * (download.ATTEMPTS - 1)
    with pytest.raises(Failed):
        _download(storage, tmp_path / "proxy.mp4")
    # Given the derived proxy was made again (another object, another ETag)
    storage.data, storage.etag = DATA[::-1], '"e2"'
    storage.ranges.clear()
    _download(storage, tmp_path / "proxy.mp4")
    assert storage.ranges == [f"bytes={16 * 1024}-", None]
    assert (tmp_path / "proxy.mp4").read_bytes() == DATA[::-1]


def test_a_server_that_ignores_range_gets_the_whole_file_written_once(tmp_path: Path) -> None:
    storage = _Storage()
    storage.break_after = [8 * 1024] + [0] * (download.ATTEMPTS - 1)
    with pytest.raises(Failed):
        _download(storage, tmp_path / "proxy.mp4")
    storage.ignore_range = True
    _download(storage, tmp_path / "proxy.mp4")
    assert (tmp_path / "proxy.mp4").read_bytes() == DATA


def test_a_partial_file_of_another_download_is_not_reused(tmp_path: Path) -> None:
    storage = _Storage()
    storage.break_after = [8 * 1024] + [0] * (download.ATTEMPTS - 1)
    with pytest.raises(Failed):
        _download(storage, tmp_path / "proxy.mp4")
    storage.ranges.clear()
    other = Source("asset-1@2:proxy", "/assets/asset-1/versions/2/derived/proxy", "SQ010 v2 proxy")
    _download(storage, tmp_path / "proxy.mp4", other)
    assert storage.ranges == [None]


def test_a_version_file_whose_sha256_differs_is_not_kept(tmp_path: Path) -> None:
    wrong = Source("asset-1@1", "/assets/asset-1/versions/1/download", "SQ010 v1", sha256="0" * 64)
    with pytest.raises(Failed, match="SHA-256"):
        _download(_Storage(), tmp_path / "shot.mov", wrong)
    assert not (tmp_path / "shot.mov").exists() and not (tmp_path / "shot.mov.part").exists()
    right = Source(
        "asset-1@1", "/assets/asset-1/versions/1/download", "SQ010 v1", hashlib.sha256(DATA).hexdigest()
    )
    _download(_Storage(), tmp_path / "shot.mov", right)
    assert (tmp_path / "shot.mov").read_bytes() == DATA


@pytest.mark.parametrize(
    ("text", "rate"), [("500k", 512000.0), ("2M", 2 * 1024**2), ("1000", 1000.0), ("1.5KiB", 1536.0)]
)
def test_rates_read_with_binary_prefixes(text: str, rate: float) -> None:
    assert parse_rate(text) == rate
