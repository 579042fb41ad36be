"""``keyframe upload`` refuses, before any API call or byte sent, a file the pipeline would refuse."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
import requests

from keyframe.cli import main
from keyframe.cli.client import ApiError
from keyframe.cli.preflight import check_file
from keyframe.media.errors import InvalidMediaError, TypeMismatchError

ASSET_ID = "0b6f3c1e-2d4a-4e8b-9c7d-1a2b3c4d5e6f"


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes() -> bytes:
    """The top-level boxes of an MP4 (ftyp, moov, mdat): what the detector and the box walk read."""
    return (
        _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
        + _box(b"moov", b"\x00" * 32)
        + _box(b"mdat", b"\x01" * 4000)
    )


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every API call and storage PUT the command makes (the API answers 404, storage fails the test)."""
    made: list[str] = []

    def request(self: Any, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        made.append(f"{method} {path}")
        raise ApiError(404, "ASSET_NOT_FOUND", "Asset not found")

    def put(self: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        made.append(f"PUT {url}")
        raise AssertionError("no byte was to be sent")

    monkeypatch.setattr("keyframe.cli.client.ApiClient.request", request)
    monkeypatch.setattr(requests.Session, "put", put)
    return made


def test_an_mp4_passes_under_its_own_name(tmp_path: Path) -> None:
    path = tmp_path / "sh020.mp4"
    path.write_bytes(mp4_bytes())
    found = check_file(path, "video/mp4")
    assert (found.kind, found.format) == ("video", "mp4")


@pytest.mark.parametrize(
    ("name", "data", "content_type", "error", "says"),
    [
        (
            "notes.mp4",
            b"Shot notes: hold the blink two frames\n" * 20,
            "video/mp4",
            InvalidMediaError,
            "text file",
        ),
        ("clip.zip", mp4_bytes(), "application/zip", TypeMismatchError, "says archive"),
        ("cut.mp4", mp4_bytes()[:-1000], "video/mp4", InvalidMediaError, "truncated"),
        ("empty.mov", b"", "video/quicktime", InvalidMediaError, "empty"),
    ],
)
def test_what_the_pipeline_refuses_is_refused_locally(
    tmp_path: Path, name: str, data: bytes, *, content_type: str, error: type[Exception], says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(error, match=says):
        check_file(path, content_type)


@pytest.mark.parametrize(
    ("name", "data"), [("notes.mp4", b"just some text\n" * 10), ("clip.zip", mp4_bytes())]
)
def test_the_upload_command_refuses_before_calling_the_api_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str], name: str, data: bytes
) -> None:
    # Given a wrong file / When uploading it
    path = tmp_path / name
    path.write_bytes(data)
    code = main.main(["upload", str(path), "--asset", ASSET_ID, "--api", "http://api.test", "--token", "t"])
    # Then exit 2 saying why and how to force it, with no API call and no byte sent
    err = capsys.readouterr().err
    assert code == 2
    assert f"{name} refused before sending anything" in err and "--force" in err
    assert calls == []


def test_force_skips_the_local_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"text\n")
    code = main.main(["upload", str(path), "--asset", ASSET_ID, "--api", "http://api.test", "--token", "t",
                      "--force", "--state-dir", str(tmp_path / "state")])  # fmt: skip
    # Then the file went on to the API (which answers 404 here: exit 2 with its message)
    assert calls == [f"POST /assets/{ASSET_ID}/uploads"]
    err = capsys.readouterr().err
    assert code == 2 and "Asset not found (ASSET_NOT_FOUND)" in err and "refused" not in err
