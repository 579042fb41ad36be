"""``keyframe download ASSET[@V] [--derived NAME] [-o PATH]``: a version's file or a derived file, resumable.

The API hands out a presigned URL (``GET /assets/{id}/versions/{v}/download``, or
``…/derived/{thumbnail|proxy|waveform}``, 15 minutes); the bytes come straight from storage. They
are written to ``PATH.part`` with a small ``PATH.part.json`` beside it naming what is being fetched
and the object's ETag. When the download stops (Ctrl-C, a network failure), running the same
command again asks for a fresh URL and sends ``Range: bytes=N-`` for the bytes not yet there; the
answer must be a ``206`` for exactly that range of the same object (same ETag), otherwise the file
is fetched from the start. Network failures are retried (with a fresh URL) a few times in one run.
Once complete, the size is checked (and the SHA-256 of a version's own file when the API knows it)
and ``PATH.part`` becomes ``PATH``.

``--limit-rate`` caps the speed (``500k``, ``2M``: bytes per second, binary prefixes), for artists
sharing a studio's line.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import requests

from keyframe.cli import progress as progress_
from keyframe.cli.client import ApiClient, ApiError
from keyframe.cli.exits import EXIT_INTERRUPTED, Failed, Usage
from keyframe.cli.output import size
from keyframe.cli.resolve import asset_version
from keyframe.cli.session import Session, api_options, pass_session

DERIVED = ("thumbnail", "proxy", "waveform")
CHUNK = 256 * 1024
"""Bytes written at a time (less when the rate is capped)."""
ATTEMPTS = 5
"""Requests per run before giving up (each failure keeps what was written)."""
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?[bB])?$")


class RestartFromZero(Exception):
    """The stored object is not the one the partial file came from: fetch it from the start."""


@dataclass(frozen=True)
class Source:
    """What to fetch: the API path of its link, a key naming it, and its SHA-256 when known."""

    key: str
    link_path: str
    label: str
    sha256: str | None = None


def parse_rate(text: str | None) -> float | None:
    """``"500k"`` -> 512000.0 bytes per second (``k``/``M``/``G`` are binary); ``None`` stays ``None``.

    Raises
    ------
    click.BadParameter
        Not a rate.
    """
    if text is None:
        return None
    match = _RATE.match(text.strip())
    if not match or float(match[1]) <= 0:
        raise click.BadParameter(f"{text!r} is not a rate such as 500k or 2M (bytes per second)")
    return float(match[1]) * 1024 ** " KMG".index((match[2] or " ").upper())


class PartialFile:
    """``PATH.part`` and ``PATH.part.json`` (``{"key", "etag", "size"}``) of one download."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.part = target.with_name(target.name + ".part")
        self.meta = target.with_name(target.name + ".part.json")

    def resume_point(self, key: str) -> tuple[int, str | None]:
        """``(bytes already there, their ETag)`` for ``key``; ``(0, None)`` after clearing another's."""
        try:
            meta = json.loads(self.meta.read_text())
            if meta.get("key") == key and self.part.is_file():
                return self.part.stat().st_size, meta.get("etag")
        except (OSError, ValueError, AttributeError):
            pass
        self.clear()
        return 0, None

    def remember(self, key: str, etag: str | None, total: int | None) -> None:
        """Write what the partial file holds (before its first byte)."""
        self.meta.write_text(json.dumps({"key": key, "etag": etag, "size": total}))

    def clear(self) -> None:
        """Drop the partial file and its description."""
        self.part.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)

    def finish(self) -> Path:
        """Move the complete file into place."""
        self.part.replace(self.target)
        self.meta.unlink(missing_ok=True)
        return self.target


class Downloader:
    """Fetches one :class:`Source` into a :class:`PartialFile`, resuming with HTTP Range."""

    def __init__(
        self, client: ApiClient, source: Source, partial: PartialFile, *, rate: float | None = None,
        shown: bool = True,
    ) -> None:  # fmt: skip
        self.client, self.source, self.partial = client, source, partial
        self.rate, self.shown = rate, shown
        self.transfer: progress_.Transfer | None = None
        self._bar: Any = None
        self.resumed_from = 0

    def run(self) -> Path:
        """Download until complete; returns the final path.

        Raises
        ------
        Failed
            Still failing after :data:`ATTEMPTS` requests, or the bytes do not check out.
        ApiError
            The API refused the link.
        """
        offset, etag = self.partial.resume_point(self.source.key)
        self.resumed_from = offset
        if offset:
            progress_.say(f"resuming {self.partial.target.name} at {size(offset)} (HTTP Range)")
        problem = "no attempt made"
        try:
            for attempt in range(ATTEMPTS):
                if attempt:
                    time.sleep(min(10.0, 0.5 * 2**attempt))
                try:
                    total = self._fetch(offset, etag)
                except RestartFromZero as why:
                    progress_.say(f"note: {why}; fetching {self.partial.target.name} from the start")
                    self.partial.clear()
                    self._close_meter()
                    offset, etag = 0, None
                    continue
                except (requests.RequestException, OSError) as exc:
                    problem = str(exc)
                    offset, etag = self.partial.resume_point(self.source.key)
                    continue
                return self._complete(total)
        finally:
            if self.transfer is not None:
                self.transfer.finish()
            if self._bar is not None:
                self._bar.close()
        kept = self.partial.part.stat().st_size if self.partial.part.exists() else 0
        resume = f"; {size(kept)} kept: run the same command again to resume" if kept else ""
        raise Failed(f"{self.source.label} could not be downloaded ({problem}){resume}")

    def _fetch(self, offset: int, etag: str | None) -> int:
        """One GET from ``offset``; appends to the partial file; returns the whole size in bytes."""
        link = self.client.get(self.source.link_path)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self.client.http.get(link["url"], headers=headers, stream=True, timeout=(10, 60)) as answer:
            total = self._check_answer(answer, offset, etag, link)
            if offset == 0:
                self.partial.remember(self.source.key, answer.headers.get("ETag"), total)
            if total is not None and offset >= total:
                return total
            self._meter(total, offset)
            self._write(answer, offset)
        return total if total is not None else self.partial.part.stat().st_size

    def _check_answer(
        self, answer: requests.Response, offset: int, etag: str | None, link: dict[str, Any]
    ) -> int | None:
        if answer.status_code == 416 and offset and offset == link.get("size"):
            return offset
        if answer.status_code == 200:
            if offset:
                raise RestartFromZero("storage sent the whole file instead of the range asked for")
            length = answer.headers.get("Content-Length")
            return int(length) if length else link.get("size")
        if answer.status_code == 206:
            match = _CONTENT_RANGE.match(answer.headers.get("Content-Range", ""))
            if not match or int(match[1]) != offset:
                raise RestartFromZero("storage answered another range than the one asked for")
            if etag and answer.headers.get("ETag") and answer.headers["ETag"] != etag:
                raise RestartFromZero("the file changed since the download began")
            return int(match[3]) if match[3] != "*" else link.get("size")
        if answer.status_code in (403, 416) or answer.status_code >= 500 or answer.status_code == 429:
            raise requests.HTTPError(f"storage answered HTTP {answer.status_code}")
        raise Failed(f"storage answered HTTP {answer.status_code}: {answer.text[:200]}")

    def _close_meter(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = self.transfer = None

    def _meter(self, total: int | None, offset: int) -> None:
        if self.transfer is None:
            self._bar = progress_.bar(
                total, description=self.partial.target.name, initial=offset, enabled=self.shown
            )
            self.transfer = progress_.Transfer(total or 0, already=offset, on_bytes=self._bar.update)

    def _write(self, answer: requests.Response, offset: int) -> None:
        assert self.transfer is not None
        chunk = int(min(CHUNK, max(4096, (self.rate or CHUNK * 8) / 8)))
        started, moved = time.monotonic(), 0
        with self.partial.part.open("ab" if offset else "wb") as handle:
            for block in answer.iter_content(chunk_size=chunk):
                handle.write(block)
                self.transfer.update(len(block))
                moved += len(block)
                if self.rate:
                    ahead = moved / self.rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)

    def _complete(self, total: int) -> Path:
        have = self.partial.part.stat().st_size
        if have != total:
            raise Failed(f"{self.source.label}: got {have} bytes where {total} were announced; run again")
        if self.source.sha256:
            digest = hashlib.sha256()
            with self.partial.part.open("rb") as handle:
                while block := handle.read(1024 * 1024):
                    digest.update(block)
            if digest.hexdigest() != self.source.sha256:
                self.partial.clear()
                raise Failed(
                    f"{self.source.label}: the SHA-256 does not match the version's; deleted, run again"
                )
        return self.partial.finish()


def source_of(asset: dict[str, Any], version: int, derived: str | None, sha256: str | None) -> Source:
    """The :class:`Source` of a version's file (``derived`` ``None``) or of one of its derived files."""
    base = f"/assets/{asset['id']}/versions/{version}"
    label = f"{asset.get('name') or asset['id']} v{version}"
    if derived:
        return Source(f"{asset['id']}@{version}:{derived}", f"{base}/derived/{derived}", f"{label} {derived}")
    return Source(f"{asset['id']}@{version}", f"{base}/download", label, sha256)


@click.command("download")
@click.argument("asset", metavar="ASSET[@V]")
@click.option(
    "--derived", type=click.Choice(DERIVED), default=None, help="A derived file instead of the upload."
)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Where to write (a folder keeps the file's own name; default: here).")  # fmt: skip
@click.option("--project", default=None, metavar="PROJECT", help="Where to look an asset name up.")
@click.option("--limit-rate", default=None, metavar="RATE", help="Cap the speed, e.g. 500k or 2M per second.")
@click.option("--quiet", is_flag=True, help="No progress bar and no status lines.")
@api_options
@pass_session
def download_command(
    session: Session, *, asset: str, derived: str | None, output: Path | None, project: str | None,
    limit_rate: str | None, quiet: bool,
) -> int:  # fmt: skip
    """Download a version (default: the current one) or its derived thumbnail, proxy or waveform.

    Interrupted? Run the same command again: it resumes with HTTP Range. Prints the path written.

    \b
        keyframe download SQ010_SH020@1 --derived proxy -o review/
    """
    rate = parse_rate(limit_rate)
    client = session.client()
    found, version = asset_version(client, asset, project=project)
    sha256 = None
    if not derived:
        sha256 = ((client.get(f"/assets/{found['id']}/versions/{version}").get("file")) or {}).get("sha256")
    source = source_of(found, version, derived, sha256)
    try:
        name = client.get(source.link_path)["fileName"]
    except ApiError as exc:
        if exc.status == 404 and derived:
            raise Usage(f"{source.label}: no {derived} ({exc.message})") from exc
        raise
    target = output / name if output is not None and output.is_dir() else (output or Path(name))
    downloader = Downloader(client, source, PartialFile(target), rate=rate, shown=not quiet)
    try:
        path = downloader.run()
    except KeyboardInterrupt:
        kept = downloader.partial.part.stat().st_size if downloader.partial.part.exists() else 0
        where = downloader.partial.part
        progress_.say(f"! interrupted: {size(kept)} kept in {where}; run the same command again to resume")
        return EXIT_INTERRUPTED
    if not quiet and downloader.transfer is not None:
        progress_.say(downloader.transfer.summary("downloaded", path.name))
    click.echo(str(path))
    return 0
