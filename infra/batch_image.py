"""The media image's base image: one ``FROM`` line, an exact tag, and its digest once resolved.

The ``FROM`` line of ``functions/media_container/Dockerfile`` is the one place the base is written.
Its accepted forms (:data:`BASE_IMAGE`):

- ``python:3.13.16-slim-bookworm@sha256:<64 hex>``: pinned, what a production deploy should build;
- ``python:3.13.16-slim-bookworm``: the documented placeholder until someone with Docker runs
  ``make media-base-digest``. An exact Python patch version and Debian release, never a moving tag.

``make media-base-digest`` runs ``python -m infra.batch_image``: it asks the registry for the tag's
multi-platform index digest (``docker buildx imagetools inspect <tag> --format '{{json .Manifest.Digest}}'``)
and writes ``<tag>@<digest>`` on the ``FROM`` line. The index digest covers every platform, so the
same line builds linux/amd64 and linux/arm64. Run it again to move to a newer build of the same tag
(Debian security updates), or edit the tag first to move to another Python or Debian release.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyframe.registry import REPO_ROOT

DOCKERFILE = "functions/media_container/Dockerfile"
"""The media container's Dockerfile, relative to the build context (the repository root)."""
DOCKERFILE_PATH = REPO_ROOT / DOCKERFILE

BASE_IMAGE = re.compile(
    r"^(?P<repository>python):(?P<tag>3\.\d+\.\d+-slim-(?P<release>[a-z]+))"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
"""``python:<major.minor.patch>-slim-<debian release>``, optionally ``@sha256:<64 lowercase hex>``."""

_FROM = re.compile(r"^FROM\s+(?P<image>\S+)(?P<rest>.*)$", re.IGNORECASE | re.MULTILINE)

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class BaseImage:
    """The parsed ``FROM`` of the media image.

    Attributes
    ----------
    repository / tag / release:
        ``python``, ``3.13.16-slim-bookworm``, ``bookworm``.
    digest:
        ``sha256:...`` when pinned, ``None`` for the placeholder (tag only).
    """

    repository: str
    tag: str
    release: str
    digest: str | None

    @property
    def reference(self) -> str:
        """``repository:tag`` (what ``docker buildx imagetools inspect`` is asked about)."""
        return f"{self.repository}:{self.tag}"

    @property
    def image(self) -> str:
        """The ``FROM`` operand: ``repository:tag`` or ``repository:tag@digest``."""
        return f"{self.reference}@{self.digest}" if self.digest else self.reference


def parse_base_image(image: str) -> BaseImage:
    """``python:3.13.16-slim-bookworm[@sha256:...]`` -> :class:`BaseImage`.

    Raises
    ------
    ValueError
        Anything else: a moving tag (``3.13-slim``, ``latest``), a build argument, another image, a
        digest that is not ``sha256:`` and 64 lowercase hex digits.
    """
    match = BASE_IMAGE.match(image)
    if match is None:
        raise ValueError(
            f"The media image's FROM {image!r} is neither python:<x.y.z>-slim-<debian>@sha256:<digest> nor "
            "the placeholder python:<x.y.z>-slim-<debian>: write an exact tag, then run "
            "`make media-base-digest` on a machine with Docker"
        )
    return BaseImage(match["repository"], match["tag"], match["release"], match["digest"])


def base_image(dockerfile: Path = DOCKERFILE_PATH) -> BaseImage:
    """The base image of ``dockerfile`` (read from its single ``FROM`` line).

    Raises
    ------
    ValueError
        Not exactly one ``FROM``, a ``FROM ... AS stage``, or a form :func:`parse_base_image` refuses.
    """
    froms = list(_FROM.finditer(dockerfile.read_text()))
    if len(froms) != 1:
        raise ValueError(f"{dockerfile} must have exactly one FROM line, found {len(froms)}")
    (line,) = froms
    if line["rest"].strip():
        raise ValueError(f"{dockerfile}: the FROM line must name the image only, found {line[0]!r}")
    return parse_base_image(line["image"])


def resolve_digest(reference: str, run: Runner = subprocess.run) -> str:
    """The registry's multi-platform index digest of ``reference`` (``python:3.13.16-slim-bookworm``).

    Runs ``docker buildx imagetools inspect <reference> --format '{{json .Manifest.Digest}}'`` (a JSON
    string; the plain ``{{.Manifest.Digest}}`` template is printed as the whole report by some buildx
    versions). Needs Docker with buildx and access to the registry; reads nothing local.

    Raises
    ------
    RuntimeError
        Docker is missing or failed, or its answer holds no ``sha256:`` digest.
    """
    command = [
        "docker",
        "buildx",
        "imagetools",
        "inspect",
        reference,
        "--format",
        "{{json .Manifest.Digest}}",
    ]
    try:
        completed = run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise RuntimeError(
            f"Cannot run docker ({exc}): resolving the digest needs Docker with buildx"
        ) from exc
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {completed.stderr.strip() or completed.returncode}")
    try:
        answer: Any = json.loads(completed.stdout)
    except ValueError as exc:
        raise RuntimeError(
            f"No digest in the answer of {' '.join(command)}: {completed.stdout[:200]!r}"
        ) from exc
    if not isinstance(answer, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", answer):
        raise RuntimeError(f"Unexpected digest {answer!r} for {reference}")
    return answer


def pin(dockerfile: Path = DOCKERFILE_PATH, *, run: Runner = subprocess.run) -> BaseImage:
    """Write ``<tag>@<digest>`` on the ``FROM`` line of ``dockerfile`` (replacing any older digest).

    Returns
    -------
    BaseImage
        The pinned base.

    Raises
    ------
    ValueError / RuntimeError
        As :func:`base_image` / :func:`resolve_digest`; the file is then left as it was.
    """
    current = base_image(dockerfile)
    digest = resolve_digest(current.reference, run)
    pinned = BaseImage(current.repository, current.tag, current.release, digest)
    text = _FROM.sub(lambda match: f"{match[0].split()[0]} {pinned.image}", dockerfile.read_text(), count=1)
    dockerfile.write_text(text)
    return pinned


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infra.batch_image [DOCKERFILE]``: pin the base of the media image (exit 1 if not)."""
    args = list(sys.argv[1:] if argv is None else argv)
    dockerfile = Path(args[0]) if args else DOCKERFILE_PATH
    try:
        pinned = pin(dockerfile)
    except (ValueError, RuntimeError) as exc:
        print(f"media-base-digest: {exc}", file=sys.stderr)  # noqa: T201 - a command's answer
        return 1
    print(f"FROM {pinned.image}  ({dockerfile})")  # noqa: T201 - a command's answer
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
