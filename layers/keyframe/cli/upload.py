"""``keyframe upload FILE --asset ID``: send a file as the asset's next version, resumably.

Steps, all through the public API and the presigned URLs it hands out:

1. hash the file (SHA-256, streaming: never the whole file in memory);
2. open an upload (``POST /assets/{assetId}/uploads``) and save the resume state;
3. PUT the parts in parallel straight to storage (``Content-Type: application/octet-stream``),
   each streamed from disk, with a progress bar in bytes; an expired URL is refreshed with
   ``GET …/uploads/{uploadId}?fromPart=``, a failed PUT retried with backoff;
4. complete (``POST …/complete``) and, unless ``--no-wait``, wait for the pipeline and print the
   version and its status.

Run the same command again after a crash or a network failure: it asks the server which parts are
missing and sends only those. If the file changed since its upload began, a new upload is started
and the earlier one is left open, never aborted on the user's behalf (its parts are kept until it
expires with the bucket's 7-day rule); a one-line note says so. ``--abort-previous`` aborts it
(as does ``DELETE /assets/{assetId}/uploads/{uploadId}``).

Exit codes: 0 READY (or completed with ``--no-wait``), 1 FAILED, 2 usage or API errors (the API's
message is printed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from keyframe.cli.client import ApiClient, ApiError
from keyframe.cli.resume import Decision, ResumeState, StateStore, decide, default_dir, state_key

READ_BLOCK = 1024 * 1024
"""Bytes read from disk at a time (hashing and streaming a part)."""
PART_ATTEMPTS = 5
URL_MARGIN = timedelta(seconds=60)
"""A URL this close to expiry is refreshed before use."""
STATE_SAVE_INTERVAL = 2.0
"""Seconds between resume-state writes while parts complete (and once at the end)."""
VERSION_FAILED = "FAILED"
VERSION_READY = "READY"
_PIPELINE_FAILED = {"FAILED", "TIMED_OUT", "ABORTED"}


class UploadFailed(Exception):
    """A part could not be sent after every retry (the resume state is saved)."""


class _Stopped(Exception):
    """A part was not started because another one failed or the user interrupted."""


def register(commands: Any) -> None:
    """Add the ``upload`` command to the ``commands`` sub-parser collection."""
    parser = commands.add_parser(
        "upload",
        help="upload a file as a new version of an asset (resumable)",
        description="Upload FILE as the next version of --asset. "
        "Run it again to resume an interrupted upload.",
    )
    parser.add_argument("file", type=Path, help="the file to upload")
    parser.add_argument("--asset", required=True, help="the asset id")
    parser.add_argument("--note", default=None, help="change note of the new version")
    parser.add_argument("--parallel", type=int, default=4, help="parts sent at once (1-32, default 4)")
    parser.add_argument("--no-wait", action="store_true", help="return once the upload is complete")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the pipeline")
    parser.add_argument("--state-dir", type=Path, default=None, help="where resume state is kept")
    parser.add_argument("--content-type", default=None, help="MIME type (guessed from the name by default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--abort-previous",
        action="store_true",
        help="abort this file's earlier upload that was left open because the file changed since it "
        "began (its uploaded parts are dropped); without it that upload is kept until it expires",
    )
    parser.set_defaults(handler=run, needs_api=True)


# ---------------------------------------------------------------- file reading


class PartReader:
    """A file-like view of ``length`` bytes at ``offset`` that requests streams (never all in memory).

    It has ``__len__`` (so requests sends ``Content-Length``) and no ``fileno``/``tell`` (so
    requests does not measure the whole file). It computes the MD5 of what was read and reports
    each block to ``on_read``.
    """

    def __init__(self, path: Path, offset: int, length: int, on_read: Callable[[int], None]) -> None:
        self._file = path.open("rb")
        self._file.seek(offset)
        self._left = length
        self._length = length
        self._on_read = on_read
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.read_bytes = 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes; everything that is left when ``size`` is negative or ``None``.

        HTTP clients read in blocks (8 KiB to 1 MiB); only a caller asking for "all" gets the
        rest of the part in one piece.
        """
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(READ_BLOCK), b""))
        chunk = self._file.read(min(size, self._left)) if self._left and size else b""
        if chunk:
            self._left -= len(chunk)
            self.read_bytes += len(chunk)
            self.md5.update(chunk)
            self._on_read(len(chunk))
        return chunk

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def sha256_of(path: Path, on_read: Callable[[int], None] | None = None) -> str:
    """SHA-256 (hex) of the file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
            if on_read:
                on_read(len(block))
    return digest.hexdigest()


def guess_content_type(path: Path) -> str:
    """The MIME type from the file name, ``application/octet-stream`` when unknown."""
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# ---------------------------------------------------------------- part URLs


def _parse_time(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC) + timedelta(minutes=10)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class PartUrls:
    """Presigned URLs by part number, refreshed from the API when missing or about to expire."""

    def __init__(self, api: ApiClient, asset_id: str, upload_id: str) -> None:
        self.api = api
        self.path = f"/assets/{asset_id}/uploads/{upload_id}"
        self._urls: dict[int, tuple[str, dict[str, str], datetime]] = {}
        self._lock = threading.Lock()

    def add(self, parts: list[dict[str, Any]], expires_at: str | None) -> None:
        """Remember the ``parts`` (``[{partNumber, url, headers?}]``) of an API answer."""
        expiry = _parse_time(expires_at)
        with self._lock:
            for part in parts:
                self._urls[int(part["partNumber"])] = (part["url"], dict(part.get("headers") or {}), expiry)

    def get(self, number: int) -> tuple[str, dict[str, str]]:
        """The URL and headers for part ``number``.

        Raises
        ------
        UploadFailed
            The server no longer lists the part as missing.
        """
        with self._lock:
            found = self._urls.get(number)
            if found and found[2] - URL_MARGIN > datetime.now(UTC):
                return found[0], found[1]
            body = self.api.get(self.path, params={"fromPart": number})
        self.add(body.get("parts") or [], body.get("expiresAt"))
        with self._lock:
            found = self._urls.get(number)
        if not found:
            raise UploadFailed(f"the server does not list part {number} as missing any more")
        return found[0], found[1]

    def forget(self, number: int) -> None:
        """Drop part ``number``'s URL (it was refused: fetch a fresh one next time)."""
        with self._lock:
            self._urls.pop(number, None)


# ---------------------------------------------------------------- sending parts


@dataclass
class PartSender:
    """Sends parts of ``path`` for one upload, in parallel threads, with retries."""

    path: Path
    plan_part_size: int
    size: int
    urls: PartUrls
    progress: Any
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._local = threading.local()
        self.stop = threading.Event()

    def _http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def part_range(self, number: int) -> tuple[int, int]:
        """``(offset, length)`` of part ``number``."""
        offset = (number - 1) * self.plan_part_size
        return offset, min(self.plan_part_size, self.size - offset)

    def send(self, number: int) -> str:
        """PUT part ``number`` to its presigned URL; returns the ETag S3 answered.

        Retries connection errors, 5xx and 429 with exponential backoff, refreshes the URL after a
        403 (expired), and re-sends a part whose ETag is not the MD5 of the bytes read.

        Raises
        ------
        UploadFailed
            After :data:`PART_ATTEMPTS` attempts.
        """
        offset, length = self.part_range(number)
        last_problem = "no attempt made"
        for attempt in range(PART_ATTEMPTS):
            if self.stop.is_set():
                raise _Stopped(number)
            if attempt:
                self.sleep(min(30.0, 0.5 * 2**attempt))
            url, headers = self.urls.get(number)
            reader = PartReader(self.path, offset, length, self.progress.update)
            try:
                response = self._http().put(
                    url,
                    data=reader,
                    headers={"Content-Type": "application/octet-stream", **headers},
                    timeout=(10, 300),
                )
            except requests.RequestException as exc:
                last_problem = f"network error: {exc}"
                self.progress.update(-reader.read_bytes)
                continue
            finally:
                reader.close()
            if response.status_code == 200:
                etag = (response.headers.get("ETag") or "").strip('"')
                if _is_md5(etag) and etag.lower() != reader.md5.hexdigest():
                    last_problem = "the stored part does not match the bytes sent"
                    self.progress.update(-reader.read_bytes)
                    continue
                return etag
            self.progress.update(-reader.read_bytes)
            last_problem = f"storage answered HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code == 403:
                self.urls.forget(number)
            elif response.status_code < 500 and response.status_code != 429:
                break
        raise UploadFailed(f"part {number} could not be sent ({last_problem})")


def _is_md5(etag: str) -> bool:
    return len(etag) == 32 and all(c in "0123456789abcdefABCDEF" for c in etag)


def send_parts(
    sender: PartSender, numbers: list[int], parallel: int, on_done: Callable[[int, str], None]
) -> None:
    """Send ``numbers`` with ``parallel`` threads; ``on_done(number, etag)`` right after each success.

    After the first part that fails for good (or Ctrl-C) no further part is started; parts already
    in flight finish and are reported.

    Raises
    ------
    UploadFailed
        The first part that failed for good.
    """
    failures: list[BaseException] = []
    lock = threading.Lock()

    def finished(number: int, future: Future[str]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            on_done(number, future.result())
            return
        if not isinstance(error, _Stopped):
            with lock:
                failures.append(error)
            sender.stop.set()

    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="keyframe-part")
    try:
        futures = []
        for number in numbers:
            future = pool.submit(sender.send, number)
            future.add_done_callback(partial(finished, number))
            futures.append(future)
        wait(futures)
    except BaseException:
        sender.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failures:
        raise failures[0]


# ---------------------------------------------------------------- waiting for the pipeline


@dataclass(frozen=True)
class Outcome:
    """Where processing ended: ``status`` READY or FAILED, the version (if any) and why it failed."""

    status: str
    version: int | None
    reason: str | None = None


def pipeline_outcome(upload: dict[str, Any], version: dict[str, Any] | None) -> Outcome | None:
    """Read a final outcome from an upload's status and its version (``None``: still processing).

    The version's own status (catalog) wins when known; otherwise a failed pipeline execution
    (``FAILED``/``TIMED_OUT``/``ABORTED``) ends the wait with its error.
    """
    number = upload.get("version")
    if version is not None:
        status = str(version.get("status") or "").upper()
        if status == VERSION_READY:
            return Outcome(VERSION_READY, version.get("version", number))
        if status == VERSION_FAILED:
            error = version.get("error") or {}
            reason = error.get("message") or error.get("code")
            return Outcome(VERSION_FAILED, version.get("version", number), reason)
    pipeline = upload.get("pipeline") or {}
    status = str(pipeline.get("status") or "").upper()
    if status == VERSION_READY and number is not None:
        return Outcome(VERSION_READY, number)
    if status in _PIPELINE_FAILED or status == VERSION_FAILED:
        error = pipeline.get("error")
        reason = (
            (error.get("message") or error.get("code")) if isinstance(error, dict) else error
        ) or pipeline.get("reason") or pipeline.get("cause") or f"the pipeline ended {status}"
        return Outcome(VERSION_FAILED, number, str(reason))
    return None


def wait_for_version(
    api: ApiClient,
    asset_id: str,
    upload_id: str,
    *,
    timeout: float,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome | None:
    """Poll the upload (and its version once known) until READY or FAILED; ``None`` on timeout."""
    deadline = clock() + timeout
    while True:
        upload = api.get(f"/assets/{asset_id}/uploads/{upload_id}")
        version_body = None
        if upload.get("version") is not None:
            try:
                version_body = api.get(f"/assets/{asset_id}/versions/{upload['version']}")
            except ApiError as exc:
                if exc.status != 404:
                    raise
        outcome = pipeline_outcome(upload, version_body)
        if outcome is not None:
            return outcome
        if clock() >= deadline:
            return None
        sleep(min(interval, max(0.0, deadline - clock())))
        interval = min(interval * 1.5, 10.0)


# ---------------------------------------------------------------- the command


def _say(args: argparse.Namespace, message: str, *, always: bool = False) -> None:
    """A line on stderr; ``--quiet`` hides it unless it is an error (``!``) or ``always``."""
    if always or not getattr(args, "quiet", False) or message.startswith("!"):
        print(message, file=sys.stderr, flush=True)


class _Saver:
    """Writes the resume state at most every few seconds while parts complete."""

    def __init__(self, store: StateStore, key: str, state: ResumeState) -> None:
        self.store, self.key, self.state = store, key, state
        self._lock = threading.Lock()
        self._last = 0.0

    def part_done(self, number: int, etag: str) -> None:
        with self._lock:
            self.state.etags[number] = etag
            if time.monotonic() - self._last >= STATE_SAVE_INTERVAL:
                self.flush_locked()

    def flush(self) -> None:
        with self._lock:
            self.flush_locked()

    def flush_locked(self) -> None:
        self.store.save(self.key, self.state)
        self._last = time.monotonic()


def _open(api: ApiClient, args: argparse.Namespace, path: Path, size: int, sha256: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fileName": path.name,
        "size": size,
        "contentType": args.content_type or guess_content_type(path),
        "sha256": sha256,
    }
    if args.note:
        body["changeNote"] = args.note
    return api.post(f"/assets/{args.asset}/uploads", body)


class UploadRun:
    """One run of ``keyframe upload``: resume or start, send parts, complete, wait."""

    def __init__(self, api: ApiClient, args: argparse.Namespace) -> None:
        self.api = api
        self.args = args
        self.path: Path = args.file
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path} is not a file")
        self.stat = self.path.stat()
        self.store = StateStore(args.state_dir or default_dir())
        self.key = state_key(api.base_url, args.asset, self.path)
        self.uploads = f"/assets/{args.asset}/uploads"
        self.superseded: list[str] = []

    def decide(self) -> tuple[Decision, ResumeState | None, dict[str, Any] | None]:
        """Read the saved state and the server's session; decide how to go on.

        An earlier session of this file that is still open although the file changed since is
        never aborted on the user's behalf: it is left open (a one-line note says so and how to
        abort it) and remembered in the state's ``superseded``. ``--abort-previous`` aborts it,
        and any other superseded session this state remembers.
        """
        state = self.store.load(self.key)
        session = None
        if state is not None:
            try:
                session = self.api.get(f"{self.uploads}/{state.upload_id}")
            except ApiError as exc:
                if exc.status != 404:
                    raise
        decision = decide(state, self.stat.st_size, self.stat.st_mtime_ns, session)
        self.superseded = list(state.superseded) if state is not None else []
        previous = decision.previous_upload_id
        if previous:
            self.superseded.append(previous)
        if getattr(self.args, "abort_previous", False):  # callers building args by hand may omit it
            self.superseded = self._abort(self.superseded)
        elif previous:
            expires = (session or {}).get("sessionExpiresAt") or "in at most 7 days"
            _say(self.args, f"note: {self.path.name} changed since upload {previous} began, so this is a new "
                            f"upload; {previous} stays open with its parts until it expires ({expires}). "
                            f"Abort it with --abort-previous or DELETE {self.uploads}/{previous}",
                 always=True)
        if state is not None and decision.action != "start" and state.superseded != self.superseded:
            state.superseded = list(self.superseded)
            self.store.save(self.key, state)
        return decision, state, session

    def _abort(self, upload_ids: list[str]) -> list[str]:
        """DELETE each earlier session the user asked to abort; returns those still open."""
        left = []
        for upload_id in upload_ids:
            try:
                self.api.delete(f"{self.uploads}/{upload_id}")
            except ApiError as exc:
                if exc.status == 404:  # gone already (expired and deleted)
                    continue
                if exc.status == 409:  # it became a version meanwhile: never deleted by an abort
                    _say(self.args, f"note: the earlier upload {upload_id} was completed; not aborted",
                         always=True)
                    continue
                _say(self.args, f"! could not abort the earlier upload {upload_id}: {exc}")
                left.append(upload_id)
                continue
            _say(self.args, f"Aborted the earlier upload {upload_id} of {self.path.name} (--abort-previous)",
                 always=True)
        return left

    def start(self, progress: Any) -> tuple[Decision, ResumeState, PartUrls]:
        """Hash the file, open the upload, save the state: every part is to be sent."""
        progress.set_description(f"hashing {self.path.name}")
        sha256 = sha256_of(self.path, progress.update)
        opened = _open(self.api, self.args, self.path, self.stat.st_size, sha256)
        state = ResumeState(
            api=self.api.base_url, asset_id=self.args.asset, path=str(self.path.resolve()),
            size=self.stat.st_size, mtime_ns=self.stat.st_mtime_ns, upload_id=opened["uploadId"],
            part_size=opened["partSize"], part_count=opened["partCount"], sha256=sha256,
            superseded=list(self.superseded),
        )
        self.store.save(self.key, state)
        urls = PartUrls(self.api, self.args.asset, state.upload_id)
        urls.add(opened.get("parts") or [], opened.get("expiresAt"))
        _say(self.args, f"Uploading {self.path.name} as upload {state.upload_id}: {state.part_count} "
                        f"parts of {state.part_size} bytes")
        return Decision("upload", tuple(range(1, state.part_count + 1)), {}), state, urls

    def resume(self, decision: Decision, state: ResumeState, session: dict[str, Any]) -> PartUrls:
        """Say what is left and keep the fresh URLs the session answer carried."""
        urls = PartUrls(self.api, self.args.asset, state.upload_id)
        urls.add(session.get("parts") or [], session.get("expiresAt"))
        if decision.action == "upload":
            left = decision.parts_to_send
            shown = ", ".join(str(n) for n in left[:20]) + (" …" if len(left) > 20 else "")
            _say(self.args, f"Resuming upload {state.upload_id}: parts {shown} of {state.part_count} left")
        else:
            _say(self.args, f"Resuming upload {state.upload_id}: {decision.action}")
        return urls

    def send(self, decision: Decision, state: ResumeState, urls: PartUrls, progress: Any) -> None:
        """PUT the parts still to send, saving the state as they land."""
        saver = _Saver(self.store, self.key, state)
        state.etags.update(decision.etags)
        progress.reset()
        progress.set_description(self.path.name)
        held = sum(min(state.part_size, state.size - (n - 1) * state.part_size) for n in decision.etags)
        progress.update(held)
        sender = PartSender(self.path, state.part_size, state.size, urls, progress)
        parallel = max(1, min(32, self.args.parallel))
        try:
            send_parts(sender, list(decision.parts_to_send), parallel, saver.part_done)
        finally:
            saver.flush()

    def complete(self, state: ResumeState) -> None:
        """``POST …/complete`` with every part's ETag; remember that it is done."""
        parts = [{"partNumber": n, "etag": e} for n, e in sorted(state.etags.items())]
        completed = self.api.post(f"{self.uploads}/{state.upload_id}/complete", {"parts": parts})
        state.completed = True
        self.store.save(self.key, state)
        _say(self.args, f"Upload {state.upload_id} complete; pipeline {completed['pipeline']['status']}")

    def wait(self, state: ResumeState) -> int:
        """Wait for the pipeline; print the version and its status; the exit code."""
        if self.args.no_wait:
            print(f"upload {state.upload_id} COMPLETED")
            return 0
        _say(self.args, "Waiting for processing …")
        outcome = wait_for_version(self.api, self.args.asset, state.upload_id, timeout=self.args.timeout)
        if outcome is None:
            print(f"! still processing after {self.args.timeout:.0f} s; run the same command again to keep "
                  "waiting", file=sys.stderr)
            return 2
        self.store.forget(self.key)
        if outcome.status == VERSION_READY:
            print(f"version {outcome.version} READY")
            return 0
        label = f"version {outcome.version}" if outcome.version is not None else f"upload {state.upload_id}"
        print(f"{label} FAILED: {outcome.reason or 'no reason given'}")
        return 1


def upload_file(api: ApiClient, args: argparse.Namespace) -> int:
    """Run ``keyframe upload`` with a ready API client; returns the exit code.

    Raises
    ------
    FileNotFoundError
        ``args.file`` is not a file.
    ApiError
        The API refused a call (the caller prints its message, exit 2).
    UploadFailed
        A part could not be sent (state saved; run again to resume).
    """
    run_ = UploadRun(api, args)
    decision, state, session = run_.decide()
    with tqdm(total=run_.stat.st_size, unit="B", unit_scale=True, unit_divisor=1024, disable=args.quiet,
              desc=run_.path.name, file=sys.stderr, leave=False) as progress:
        if decision.action == "start":
            decision, state, urls = run_.start(progress)
        else:
            assert state is not None and session is not None
            urls = run_.resume(decision, state, session)
        if decision.action == "upload":
            run_.send(decision, state, urls, progress)
    if decision.action in ("upload", "complete"):
        if decision.action == "complete":
            state.etags.update(decision.etags)
        run_.complete(state)
    return run_.wait(state)


def run(args: argparse.Namespace, api: ApiClient) -> int:
    """The ``upload`` command (see :func:`upload_file`), mapping failures to exit codes."""
    try:
        return upload_file(api, args)
    except FileNotFoundError as exc:
        print(f"! {exc}", file=sys.stderr)
        return 2
    except UploadFailed as exc:
        print(f"! upload interrupted: {exc}. Run the same command again to resume.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("! interrupted. Run the same command again to resume.", file=sys.stderr)
        return 130
