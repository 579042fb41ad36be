"""``keyframe upload`` end to end in-process: real presigned PUTs over HTTP, resume after a failure.

S3 is a ``ThreadedMotoServer`` on a free port (sharing moto's in-process state), so the command's
part PUTs travel over a real socket to the presigned URLs; the Keyframe API is the in-process
gateway, mounted as a ``requests`` transport adapter under ``http://keyframe.test``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import socket
import stat
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from keyframe.cli import credentials, parts, session
from keyframe.cli import main as cli_main
from keyframe.cli.output import size
from keyframe.cli.resume import ResumeState
from keyframe.pipeline import service as pipeline_service
from tests.integration.uploads.conftest import PART, Studio, executions, file_bytes, s3_object
from tests.integration.uploads.http_adapter import API, GatewayAdapter


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3_server(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a real HTTP S3 endpoint; presigned URLs point at it."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    yield endpoint
    server.stop()


@pytest.fixture
def keyframe_cli(api: Any, s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    """Run ``keyframe …`` in-process: ``run([...]) -> (exit code, stdout, stderr)``."""
    monkeypatch.setenv("KEYFRAME_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for name in ("KEYFRAME_API", "KEYFRAME_TOKEN", "KEYFRAME_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    real_make_client = session.make_client

    def make_client(base_url: str, token: str | None = None) -> Any:
        client = real_make_client(base_url, token)
        client.http.mount(API, GatewayAdapter(api.gateway))
        return client

    monkeypatch.setattr(session, "make_client", make_client)

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = cli_main.main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _args(path: Path, studio: Studio, *extra: str) -> list[str]:
    """``keyframe upload`` of ``path``; ``--force``: these files are not media (the transport is tested)."""
    return [
        "upload",
        str(path),
        "--asset",
        studio.asset_id,
        "--api",
        API,
        "--token",
        studio.admin.access_token,
        "--no-wait",
        "--force",
        *extra,
    ]


def test_the_command_uploads_in_parallel_parts_over_http(
    keyframe_cli, studio: Studio, tmp_path: Path, pipeline_machine: str
) -> None:
    # Given a three-part file
    data = file_bytes(2 * PART + 4321)
    path = tmp_path / "shot 010.mov"
    path.write_bytes(data)

    # When uploaded to an asset that does not exist / Then exit 2 with the API's message
    code, _, err = keyframe_cli([*_args(path, studio)[:3], str(uuid.uuid4()), *_args(path, studio)[4:]])
    assert code == 2
    assert "Asset not found (ASSET_NOT_FOUND)" in err
    # And a name that no asset has is refused the same way, naming it
    code, _, err = keyframe_cli([*_args(path, studio)[:3], "nope", *_args(path, studio)[4:]])
    assert code == 2 and "no asset named 'nope'" in err

    # When uploaded with three parallel PUTs
    code, out, err = keyframe_cli(_args(path, studio, "--parallel", "3", "--note", "first pass", "--quiet"))

    # Then the command exits 0 having completed one upload with one pipeline execution
    assert code == 0, err
    upload_id = out.split()[1]
    assert out.strip() == f"upload {upload_id} COMPLETED"
    assert [e["name"] for e in executions(pipeline_machine)] == [upload_id]
    # And storage holds exactly the file's bytes
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{upload_id}/shot 010.mov"
    assert s3_object(key) == data
    # And the SHA-256 hashed while the parts went up reached the pipeline with the complete
    assert (
        pipeline_service.require(studio.admin.studio_id, upload_id).sha256 == hashlib.sha256(data).hexdigest()
    )
    # And each part went up with its CRC32, for this server's plan of 5 MiB parts (not the default
    # 8 MiB the command guessed first): the object holds the CRC32 of the parts' CRC32s
    head = boto3.client("s3").head_object(Bucket=os.environ["MEDIA_BUCKET"], Key=key, ChecksumMode="ENABLED")
    crcs = b"".join(zlib.crc32(data[o : o + PART]).to_bytes(4, "big") for o in range(0, len(data), PART))
    assert (
        head["ChecksumCRC32"].split("-")[0] == base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode()
    )


def test_an_interrupted_upload_resumes_with_only_the_missing_parts(
    keyframe_cli, studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = file_bytes(2 * PART + 10, seed=7)
    path = tmp_path / "anim.mp4"
    path.write_bytes(data)
    monkeypatch.setattr(parts, "PART_ATTEMPTS", 1)
    sent: list[int] = []
    network_up = False
    real_put = requests.Session.put

    def recording_put(self: requests.Session, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        number = int(parse_qs(urlsplit(url).query)["partNumber"][0])
        sent.append(number)
        if number != 1 and not network_up:
            raise requests.ConnectionError("network down")
        return real_put(self, url, *args, **kwargs)

    # Given the network fails for every part after the first
    monkeypatch.setattr(requests.Session, "put", recording_put)

    # When the command runs (one part at a time) / Then it stops with exit 1 and a resume hint
    code, _, err = keyframe_cli(_args(path, studio, "--parallel", "1"))
    assert code == 1
    assert "Run the same command again to resume" in err
    assert sent == [1, 2]

    # When the network is back and the same command runs again
    network_up = True
    sent.clear()
    code, out, err = keyframe_cli(_args(path, studio, "--parallel", "2"))

    # Then only the missing parts 2 and 3 were sent, and the upload completed with the whole file
    assert code == 0, err
    assert sorted(sent) == [2, 3]
    upload_id = out.split()[1]
    assert f"Resuming upload {upload_id}: parts 2, 3 of 3 left" in err
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{upload_id}/anim.mp4"
    assert s3_object(key) == data


def test_login_stores_a_private_token_that_upload_uses_and_refreshes(
    keyframe_cli, studio: Studio, tmp_path: Path
) -> None:
    # Given the artist signs in once
    code, _, err = keyframe_cli(
        ["login", "--api", API, "--email", studio.admin.email, "--password", studio.admin.password]
    )
    assert code == 0, err
    stored = credentials.load()
    assert stored is not None and stored.api == API and stored.studio_id == studio.admin.studio_id
    assert stat.S_IMODE(credentials.path().stat().st_mode) == 0o600

    # And the stored access token has since expired (here: replaced by a bad one)
    credentials.save(dataclasses.replace(stored, access_token="expired.token.value"))

    # When uploading with neither --token nor --api
    path = tmp_path / "take.mov"
    path.write_bytes(file_bytes(100))
    code, out, err = keyframe_cli(
        ["upload", str(path), "--asset", studio.asset_id, "--no-wait", "--quiet", "--force"]
    )

    # Then the command refreshed the token, saved it and completed the upload
    assert code == 0, err
    assert out.startswith("upload ")
    refreshed = credentials.load()
    assert refreshed is not None and refreshed.access_token not in (
        "expired.token.value",
        stored.access_token,
    )
    assert refreshed.refresh_token != stored.refresh_token


def _interrupt_after_part_1(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Fail every part PUT but part 1 until ``network["up"]`` is set True."""
    network = {"up": False}
    real_put = requests.Session.put

    def flaky_put(self: requests.Session, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        number = int(parse_qs(urlsplit(url).query)["partNumber"][0])
        if number != 1 and not network["up"]:
            raise requests.ConnectionError("network down")
        return real_put(self, url, *args, **kwargs)

    monkeypatch.setattr(parts, "PART_ATTEMPTS", 1)
    monkeypatch.setattr(requests.Session, "put", flaky_put)
    return network


def _status(api: Any, studio: Studio, upload_id: str) -> dict[str, Any]:
    answer = api.get(f"/assets/{studio.asset_id}/uploads/{upload_id}", token=studio.admin.access_token)
    assert answer.status == 200, answer.body
    return answer.json()


def _interrupted_upload_id(tmp_path: Path) -> str:
    """The upload id in the one resume state the command saved."""
    states = list((tmp_path / "home" / "uploads").glob("*.json"))
    assert len(states) == 1
    return ResumeState.from_json(json.loads(states[0].read_text())).upload_id


def test_a_changed_file_starts_a_new_upload_and_never_aborts_the_old_one(
    api, keyframe_cli, studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "anim.mov"
    path.write_bytes(file_bytes(2 * PART + 10, seed=3))
    network = _interrupt_after_part_1(monkeypatch)
    # Given an upload interrupted after its first part
    code, _, _ = keyframe_cli(_args(path, studio, "--parallel", "1"))
    assert code == 1
    old_id = _interrupted_upload_id(tmp_path)

    # When the artist changes the file and runs the same command again
    data = file_bytes(PART + 99, seed=4)
    path.write_bytes(data)
    network["up"] = True
    code, out, err = keyframe_cli(_args(path, studio, "--quiet"))

    # Then the new file went up as a new upload
    assert code == 0, err
    new_id = out.split()[1]
    assert new_id != old_id
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{new_id}/anim.mov"
    assert s3_object(key) == data
    # And the old upload is still open with the part it received, and one note line says how to drop it
    old = _status(api, studio, old_id)
    assert old["status"] == "OPEN" and [p["partNumber"] for p in old["uploadedParts"]] == [1]
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert old_id in notes[0] and old["sessionExpiresAt"] in notes[0]
    assert "--abort-previous" in notes[0] and f"DELETE /assets/{studio.asset_id}/uploads/{old_id}" in notes[0]


def test_abort_previous_aborts_the_earlier_upload_even_on_a_later_run(
    api, keyframe_cli, studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "anim.mov"
    path.write_bytes(file_bytes(2 * PART + 10, seed=5))
    network = _interrupt_after_part_1(monkeypatch)
    # Given an upload interrupted, the file changed, and the new upload interrupted too
    assert keyframe_cli(_args(path, studio, "--parallel", "1"))[0] == 1
    old_id = _interrupted_upload_id(tmp_path)
    data = file_bytes(2 * PART + 20, seed=6)
    path.write_bytes(data)
    assert keyframe_cli(_args(path, studio, "--parallel", "1"))[0] == 1
    new_id = _interrupted_upload_id(tmp_path)
    assert new_id != old_id and _status(api, studio, old_id)["status"] == "OPEN"

    # When the artist runs it again with --abort-previous
    network["up"] = True
    code, out, err = keyframe_cli(_args(path, studio, "--abort-previous", "--quiet"))

    # Then the earlier upload is aborted (asked for), and the new one resumed and completed
    assert code == 0, err
    assert f"Aborted the earlier upload {old_id} of anim.mov (--abort-previous)" in err
    old = _status(api, studio, old_id)
    assert (old["status"], old["failureReason"]) == ("ABORTED", "ABORTED")
    assert out.split()[1] == new_id
    key = f"studios/{studio.admin.studio_id}/assets/{studio.asset_id}/uploads/{new_id}/anim.mov"
    assert s3_object(key) == data


def _visible(stderr: str) -> list[str]:
    """The lines a terminal shows for ``stderr``: each line as left after its carriage returns."""
    return [line.split("\r")[-1].rstrip() for line in stderr.split("\n") if line.split("\r")[-1].strip()]


def test_a_resumed_upload_shows_its_bar_from_the_bytes_held_and_a_true_summary(
    keyframe_cli, studio: Studio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = file_bytes(2 * PART + 10, seed=9)
    path = tmp_path / "anim.mov"
    path.write_bytes(data)
    network = _interrupt_after_part_1(monkeypatch)
    # Given an upload interrupted after its first part (the progress bar on, as an artist sees it)
    assert keyframe_cli(_args(path, studio, "--parallel", "1"))[0] == 1

    # When it is run again
    network["up"] = True
    code, _, err = keyframe_cli(_args(path, studio))

    # Then the sending bar's first frame already shows part 1 held (50 %) with no rate measured yet
    assert code == 0, err
    frames = [f for line in err.split("\n") for f in line.split("\r") if f.startswith("anim.mov:")]
    assert frames and " 50%|" in frames[0] and "?B/s" in frames[0], frames[:2]
    # And status lines stand whole above the bar
    visible = _visible(err)
    assert any(
        line.startswith("Resuming upload ") and line.endswith("parts 2, 3 of 3 left") for line in visible
    )
    # And the summary line stays, counting only what this run sent
    (summary,) = [line for line in visible if line.startswith("sent anim.mov")]
    assert summary.startswith(f"sent anim.mov (2 parts): {size(PART + 10)} in ")
    assert summary.endswith(f"; {size(PART)} of {size(2 * PART + 10)} were already there (resumed)")
