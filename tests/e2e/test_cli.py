"""The ``keyframe`` command as an artist uses it, against the real local stack.

Every call runs the installed ``keyframe`` script in its own process, from a folder two levels below
a checkout whose ``.keyframe/local-stack.json`` names the e2e stack: no ``--api`` anywhere, so each
call also proves the command finds the local stack by itself. One studio (an ADMIN who made the
project and invited the artist) and tiny clips keep it cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from keyframe.cli.clips import make_clip
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@contextmanager
def _ctrl_c_reaches_children() -> Iterator[None]:
    """Start CLI runs that the test stops with SIGINT as a terminal would: with SIGINT not ignored.

    A child inherits an *ignored* SIGINT from its parent, and Python then installs no
    KeyboardInterrupt handler. A pytest-xdist worker may run with SIGINT ignored (whatever an
    earlier test in the same worker left), and these runs then ignored the test's Ctrl-C. The
    worker's own handler is put back once the child has started.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, previous)


KEYFRAME = Path(sys.executable).with_name("keyframe")
PASSWORD = "correct horse battery staple"
WAIT = "240"
"""Seconds the commands wait for the pipeline and the render."""


@dataclass
class Artist:
    """An artist at their terminal: runs ``keyframe …`` in ``cwd`` with their own ``KEYFRAME_HOME``."""

    cwd: Path
    env: dict[str, str]
    email: str
    studio_id: str
    project_id: str
    stack: LocalStackProcess

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KEYFRAME), *args], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.run(*args)
        assert done.returncode == 0, f"keyframe {' '.join(args)} exited {done.returncode}\n{done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def token(self) -> str:
        stored = json.loads((Path(self.env["KEYFRAME_HOME"]) / "credentials.json").read_text())
        return str(stored["apis"][self.stack.http_url]["accessToken"])

    def api(self, path: str) -> Any:
        answer = requests.get(
            self.stack.http_url + path, headers={"Authorization": f"Bearer {self.token()}"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


def _studio_with_an_invited_artist(stack: LocalStackProcess) -> tuple[str, str, str]:
    """Register a studio, make its project, invite an ARTIST: ``(artist e-mail, studio id, project id)``."""
    run = uuid.uuid4().hex[:8]
    http = BaseUrlSession(stack.http_url)
    owner = {"studioName": f"CLI Studio {run}", "email": f"ada-{run}@example.com", "password": PASSWORD}
    admin = http.post("/auth/register", json={**owner, "displayName": "Ada"})
    assert admin.status_code == 201, admin.text
    auth = {"Authorization": f"Bearer {admin.json()['accessToken']}"}
    project = http.post(
        "/projects", json={"name": "Night Market", "code": f"NM{run[:4]}".upper()}, headers=auth
    )
    assert project.status_code == 201, project.text
    email = f"arlo-{run}@example.com"
    invited = http.post("/studio/invitations", json={"email": email, "role": "ARTIST"}, headers=auth)
    assert invited.status_code == 201, invited.text
    acceptance = {"token": invited.json()["token"], "password": PASSWORD, "displayName": "Arlo"}
    joined = http.post("/auth/accept-invitation", json=acceptance)
    assert joined.status_code == 201, joined.text
    return email, admin.json()["studio"]["studioId"], project.json()["id"]


@pytest.fixture(scope="module")
def artist(local_stack: LocalStackProcess, tmp_path_factory: pytest.TempPathFactory) -> Artist:
    """The artist, signed in with ``keyframe login`` from inside a checkout of the running stack."""
    checkout = tmp_path_factory.mktemp("checkout")
    (checkout / ".keyframe").mkdir()
    shutil.copy(local_stack.state_dir / "local-stack.json", checkout / ".keyframe" / "local-stack.json")
    cwd = checkout / "shots" / "sq010"
    cwd.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFRAME_")}
    env["KEYFRAME_HOME"] = str(checkout / "home")
    email, studio_id, project_id = _studio_with_an_invited_artist(local_stack)
    artist = Artist(cwd, env, email, studio_id, project_id, local_stack)
    done = artist.ok("login", "--email", email, "--password", PASSWORD)
    assert f"as ARTIST on {local_stack.http_url}" in done.stderr
    return artist


@pytest.fixture(scope="module")
def shots(artist: Artist) -> dict[str, str]:
    """Two shots the artist created with ``keyframe assets create``: name -> id."""
    made = {}
    for name in ("SQ010_SH020", "SQ010_SH030"):
        asset = artist.json("assets", "create", name, "--project", artist.project_id, "--type", "shot")
        made[name] = asset["id"]
    return made


@pytest.fixture(scope="module")
def version_1(artist: Artist, shots: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s clip uploaded with ``keyframe upload`` as SQ010_SH020's version 1 (READY)."""
    clip = make_clip(tmp_path_factory.mktemp("clips") / "sh020_v001.mp4", seconds=2, size="320x240")
    done = artist.ok("upload", str(clip), "--asset", "sq010_sh020", "--note", "blocking", "--timeout", WAIT)
    assert done.stdout.strip().splitlines()[-1] == "version 1 READY", done.stderr
    assert "checked sh020_v001.mp4 locally: video (mp4)" in done.stderr
    return clip


def test_the_artist_signs_in_and_finds_an_asset_by_name(artist: Artist, shots: dict[str, str]) -> None:
    # Given the artist signed in (the fixture) / Then who they are comes back as the API's JSON
    me = artist.json("whoami")
    assert (me["user"]["email"], me["role"], me["studio"]["studioId"]) == (
        artist.email,
        "ARTIST",
        artist.studio_id,
    )
    credentials = Path(artist.env["KEYFRAME_HOME"]) / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    # When searching the studio's assets by a name prefix, in any case
    found = artist.json("assets", "--q", "sq010_sh0")
    assert sorted(a["name"] for a in found["items"]) == ["SQ010_SH020", "SQ010_SH030"]
    assert found["nextCursor"] is None
    # When showing one by its name / Then it is that asset, as the API returns it
    shown = artist.json("assets", "show", "sq010_sh030")
    assert (shown["id"], shown["name"], shown["projectId"]) == (
        shots["SQ010_SH030"],
        "SQ010_SH030",
        artist.project_id,
    )
    # And a name that matches no asset whole is a usage error naming the near ones
    missing = artist.run("assets", "show", "SQ010")
    assert missing.returncode == 2 and "SQ010_SH020" in missing.stderr


def test_a_wrong_file_is_refused_locally_and_nothing_is_sent(
    artist: Artist, shots: dict[str, str], tmp_path: Path
) -> None:
    notes = tmp_path / "sh030_notes.mp4"
    notes.write_text("hold the blink two frames longer\n" * 50)
    renamed = make_clip(tmp_path / "sh030.mp4", seconds=1, size="160x120").rename(tmp_path / "sh030.zip")
    archive = tmp_path / "sh030_v002.mp4"  # a zip renamed .mp4
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("sh030/notes.txt", "hold the blink two frames longer\n" * 50)
    for wrong, why in ((notes, "INVALID_MEDIA"), (renamed, "TYPE_MISMATCH"), (archive, "TYPE_MISMATCH")):
        # When the artist uploads a wrong file
        done = artist.run("upload", str(wrong), "--asset", "SQ010_SH030")
        # Then it is refused before sending anything, exit 2, saying why and how to force it
        assert done.returncode == 2, done.stderr
        assert f"{wrong.name} refused before sending anything" in done.stderr and why in done.stderr
        assert "--force" in done.stderr
    # And no version, upload or stored byte exists for that shot
    asset_id = shots["SQ010_SH030"]
    assert artist.json("versions", "SQ010_SH030")["items"] == []
    s3 = artist.stack.client("s3")
    prefix = f"studios/{artist.studio_id}/assets/{asset_id}/"
    bucket = artist.stack.env["MEDIA_BUCKET"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) == 0
    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads")

    # When the artist insists with --force / Then the file is sent, and the pipeline refuses it
    forced = artist.run("upload", str(archive), "--asset", "SQ010_SH030", "--force", "--timeout", WAIT)
    assert forced.returncode == 1, forced.stderr
    assert "FAILED: The file's bytes are archive (zip) but its name" in forced.stdout, forced.stderr
    assert "refused before sending anything" not in forced.stderr
    # And the bytes it sent are kept, though no version was made of them
    kept = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert [o["Size"] for o in kept] == [archive.stat().st_size]
    assert artist.json("versions", "SQ010_SH030")["items"] == []


def test_the_proxy_download_resumes_with_range_after_an_interruption(artist: Artist, version_1: Path) -> None:
    proxy = artist.api(
        "/assets/{}/versions/1/derived/proxy".format(artist.json("assets", "show", "SQ010_SH020")["id"])
    )
    expected = requests.get(proxy["url"], timeout=30).content
    target = artist.cwd / "review"
    target.mkdir()
    part = target / f"{proxy['fileName']}.part"
    # Given a slow download (2 KiB/s: ~50 s, so even a starved test interrupts it) stopped with Ctrl-C
    command = ["download", "SQ010_SH020@1", "--derived", "proxy", "-o", str(target), "--limit-rate", "2k"]
    with _ctrl_c_reaches_children():
        slow = subprocess.Popen(
            [str(KEYFRAME), *command],
            cwd=artist.cwd,
            env=artist.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size >= 4 * 1024) and time.monotonic() < deadline:
        time.sleep(0.05)
    slow.send_signal(signal.SIGINT)
    _, err = slow.communicate(timeout=30)
    # Then it exits 130, keeping the bytes it got
    assert slow.returncode == 130, err
    kept = part.stat().st_size
    assert 4 * 1024 <= kept < len(expected), (kept, len(expected))
    assert "run the same command again to resume" in err

    # When the artist runs it again
    done = artist.ok("download", "SQ010_SH020@1", "--derived", "proxy", "-o", str(target))
    # Then it asked only for the rest (Range) and the file is exactly the proxy
    assert "(HTTP Range)" in done.stderr
    moved = len(expected) - kept
    assert "were already there (resumed)" in done.stderr and f"{kept / 1024:.1f} KiB of" in done.stderr
    assert Path(done.stdout.strip()) == target / proxy["fileName"]
    written = (target / proxy["fileName"]).read_bytes()
    assert hashlib.sha256(written).digest() == hashlib.sha256(expected).digest() and moved > 0
    assert not part.exists()
    # And the version's own file downloads whole, checked against its SHA-256
    original = artist.ok("download", "SQ010_SH020", "-o", str(target))
    assert Path(original.stdout.strip()).read_bytes() == version_1.read_bytes()


def test_a_render_is_followed_live_to_completion_and_opens(artist: Artist, version_1: Path) -> None:
    # When the artist requests an HLS render and watches it
    done = artist.run("render", "SQ010_SH020@1", "--preset", "hls", "--watch", "--timeout", WAIT, "--json")
    # Then it exits 0 with the finished job as JSON
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "SUCCEEDED" and job["version"] == 1 and job["preset"] == "hls"
    # And the status lines and the live progress bar were shown on stderr
    frames = [f for line in done.stderr.split("\n") for f in line.split("\r")]
    assert (
        f"render {job['renderJobId']} RUNNING" in frames
        and f"render {job['renderJobId']} SUCCEEDED" in frames
    )
    percents = {int(f.split("%")[0].split()[-1]) for f in frames if f.startswith("hls render:")}
    assert 100 in percents
    # And it is listed among the studio's finished renders
    listed = artist.json("renders", "--status", "SUCCEEDED")
    assert job["renderJobId"] in [j["renderJobId"] for j in listed["items"]]
    # And `keyframe open` prints a playback URL that plays without auth
    url = artist.ok("open", job["renderJobId"]).stdout.strip()
    master = requests.get(url, timeout=30)
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")


def test_the_artist_reads_and_adds_comments(artist: Artist, version_1: Path) -> None:
    assert artist.json("comments", "SQ010_SH020@1") == {"items": [], "nextCursor": None}
    # When a comment is added at a frame
    added = artist.json(
        "comments", "SQ010_SH020@1", "--add", "Hold the blink two frames longer", "--frame", "1013"
    )
    assert (added["version"], added["frame"], added["timecode"]) == (1, 1013, "00:00:00:12")
    # Then it is listed, as JSON and for people (the current version when none is named)
    listed = artist.json("comments", "SQ010_SH020@1")["items"]
    assert [c["commentId"] for c in listed] == [added["commentId"]]
    shown = artist.ok("comments", "SQ010_SH020").stdout
    assert (
        "frame 1013 (00:00:00:12)" in shown
        and "Arlo" in shown
        and "Hold the blink two frames longer" in shown
    )
