"""The media image's pins: its base (exact tag, and a digest once resolved with Docker) and its FFmpeg.

No synth and no Docker: these read the Dockerfile and pyproject.toml, and drive
``make media-base-digest``'s code (``infra.batch_image``) with a stand-in for the ``docker`` command.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra import batch_image
from infra.batch import DOCKERFILE
from infra.media_fast_path import FFMPEG_LAYER_REQUIREMENTS
from keyframe.registry import REPO_ROOT

pytestmark = [pytest.mark.infra]

DIGEST = "sha256:" + "0123456789abcdef" * 4
NEWER_DIGEST = "sha256:" + "fedcba9876543210" * 4


class FakeDocker:
    """Stands in for ``subprocess.run`` of the ``docker`` command: records calls, answers ``stdout``."""

    def __init__(self, stdout: str = "", returncode: int = 0, error: OSError | None = None) -> None:
        self.stdout, self.returncode, self.error = stdout, returncode, error
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        if self.error is not None:
            raise self.error
        return subprocess.CompletedProcess(command, self.returncode, self.stdout, "registry unreachable")


def _from_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.upper().startswith("FROM ")]


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    """A copy of the media Dockerfile to pin."""
    copy = tmp_path / "Dockerfile"
    shutil.copyfile(REPO_ROOT / DOCKERFILE, copy)
    return copy


def test_the_base_image_is_an_exact_tag_with_its_digest_or_the_documented_placeholder():
    # Given the one FROM line of the media Dockerfile
    base = batch_image.base_image()
    # Then it names an exact Python patch version on a Debian release, never a moving tag
    assert re.fullmatch(r"3\.13\.\d+-slim-[a-z]+", base.tag)
    # And it is pinned by digest, or it is the tag alone: the placeholder until `make media-base-digest`
    assert base.digest is None or re.fullmatch(r"sha256:[0-9a-f]{64}", base.digest)
    assert _from_lines(REPO_ROOT / DOCKERFILE) == [f"FROM {base.image}"]
    # And that step is where the README and the Makefile say it is
    assert "media-base-digest:" in (REPO_ROOT / "Makefile").read_text()
    assert "make media-base-digest" in (REPO_ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    "line",
    [
        "FROM python:3.13-slim",  # moving tag
        "FROM python:3.13-slim-bookworm",  # moving patch version
        "FROM python:latest",
        "FROM python",
        "FROM ${BASE_IMAGE}",  # a build argument hides the pin from review
        "FROM python:3.13.16-slim-bookworm@sha256:abc",  # not a whole digest
        "FROM python:3.13.16-slim-bookworm@sha256:" + "A" * 64,  # not lowercase hex
        "FROM debian:bookworm-slim",
        "FROM python:3.13.16-slim-bookworm AS build",
    ],
)
def test_a_moving_tag_a_build_argument_or_a_broken_digest_is_refused(tmp_path: Path, line: str):
    # Given a Dockerfile whose FROM is not an exact tag, with or without a whole digest
    path = tmp_path / "Dockerfile"
    path.write_text(f"# syntax=docker/dockerfile:1.7\n{line}\nRUN true\n")
    # Then reading its base fails, saying what to write instead
    with pytest.raises(ValueError, match=r"FROM"):
        batch_image.base_image(path)


def test_two_from_lines_are_refused(tmp_path: Path):
    # Given a Dockerfile with a second stage (the base would be written twice)
    path = tmp_path / "Dockerfile"
    path.write_text("FROM python:3.13.16-slim-bookworm\nFROM python:3.13.16-slim-bookworm\n")
    # Then it is refused
    with pytest.raises(ValueError, match="exactly one FROM"):
        batch_image.base_image(path)


def test_media_base_digest_writes_the_registrys_digest_on_the_from_line(dockerfile: Path):
    # Given the Dockerfile and a registry answering the tag's index digest
    before = batch_image.base_image(dockerfile)
    docker = FakeDocker(stdout=json.dumps(DIGEST) + "\n")
    # When the digest is resolved and written
    pinned = batch_image.pin(dockerfile, run=docker)
    # Then docker was asked about the tag (the multi-platform index: amd64 and arm64 alike)
    (command,) = docker.commands
    assert command[:5] == ["docker", "buildx", "imagetools", "inspect", before.reference]
    # And the FROM line now carries tag and digest, and nothing else in the file changed
    assert _from_lines(dockerfile) == [f"FROM {before.reference}@{DIGEST}"]
    assert pinned.digest == DIGEST
    original = (REPO_ROOT / DOCKERFILE).read_text().splitlines()
    assert [line for line in dockerfile.read_text().splitlines() if not line.startswith("FROM ")] == [
        line for line in original if not line.startswith("FROM ")
    ]
    # And running it again later replaces the digest rather than appending a second one
    batch_image.pin(dockerfile, run=FakeDocker(stdout=json.dumps(NEWER_DIGEST)))
    assert _from_lines(dockerfile) == [f"FROM {before.reference}@{NEWER_DIGEST}"]


@pytest.mark.parametrize(
    "docker",
    [
        FakeDocker(error=FileNotFoundError("docker")),  # no Docker on this machine
        FakeDocker(returncode=1),  # the registry does not answer
        FakeDocker(stdout="Name: docker.io/library/python\nMediaType: ...\n"),  # not the JSON asked for
        FakeDocker(stdout=json.dumps("sha256:short")),
    ],
)
def test_without_an_answer_from_docker_the_pin_fails_with_a_message_and_leaves_the_file(
    dockerfile: Path, docker: FakeDocker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # Given a machine where docker cannot resolve the digest
    before = dockerfile.read_text()
    monkeypatch.setattr(batch_image.subprocess, "run", docker)
    # When `make media-base-digest` runs
    code = batch_image.main([str(dockerfile)])
    # Then it fails with a message, and the Dockerfile is as it was
    assert code == 1
    assert capsys.readouterr().err.startswith("media-base-digest: ")
    assert dockerfile.read_text() == before


def _extras() -> dict[str, list[str]]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["optional-dependencies"]


def test_the_image_runs_the_ffmpeg_pinned_by_pyproject_and_the_tests_run_the_same():
    # Given the Dockerfile's instructions and pyproject.toml's extras
    text = (REPO_ROOT / DOCKERFILE).read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    media = _extras()["media"]
    # Then the media extra pins imageio-ffmpeg (the static FFmpeg) and PyAV (the probe) exactly
    pins = dict(requirement.split("==") for requirement in media)
    assert set(pins) == {"imageio-ffmpeg", "av"}
    assert all(re.fullmatch(r"\d+(\.\d+)+", version) for version in pins.values())
    # And the image installs that extra and links its ffmpeg first on PATH; Debian's is not installed
    assert any('pip install ".[media]"' in line for line in instructions)
    assert any("/usr/local/bin/ffmpeg" in line for line in instructions)
    apt = next(line for line in instructions if "apt-get install" in line)
    assert "ffmpeg" not in apt
    # And the tests and `make dev` install the same extra
    assert "keyframe[media]" in _extras()["dev"]
    # And the Lambda derive probes with the same PyAV (its FFmpeg is older and smaller: pyproject.toml)
    assert f"av=={pins['av']}" in FFMPEG_LAYER_REQUIREMENTS
