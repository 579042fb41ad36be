"""``keyframe upload FILE --asset ASSET``: send a file as the asset's next version, resumably.

Steps, all through the public API and the presigned URLs it hands out:

0. check the file locally with the pipeline's own detector (:mod:`keyframe.cli.preflight`): a file
   the pipeline would refuse (text, a zip renamed ``.mp4``, a truncated MP4) is refused before a
   single byte or API call is sent; ``--force`` skips the check;
1. hash the file (SHA-256, streaming: never the whole file in memory);
2. open an upload (``POST /assets/{assetId}/uploads``, declaring each part's CRC32 for a file up to
   1 GiB so that storage verifies every part) and save the resume state;
3. PUT the parts in parallel straight to storage (:mod:`keyframe.cli.parts`), with a progress bar in
   bytes that starts at the bytes already sent when resuming, status lines above it and a summary
   line (bytes sent by this run, real throughput) once it ends;
4. complete (``POST …/complete``) and, unless ``--no-wait``, wait for the pipeline and print the
   version and its status (:mod:`keyframe.cli.processing`).

Run the same command again after a crash or a network failure: it asks the server which parts are
missing and sends only those. If the file changed since its upload began, a new upload is started
and the earlier one is left open, never aborted on the user's behalf (its parts are kept until it
expires with the bucket's 7-day rule); a one-line note says so. ``--abort-previous`` aborts it
(as does ``DELETE /assets/{assetId}/uploads/{uploadId}``).

Exit codes: 0 READY (or completed with ``--no-wait``), 1 FAILED, a part that could not be sent
(run again to resume) or still processing at ``--timeout``, 2 usage (no such file, a file refused
locally, not signed in) or the API refused, 130 interrupted.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

import click

from keyframe.cli import progress as progress_
from keyframe.cli.client import ApiClient, ApiError
from keyframe.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Usage
from keyframe.cli.output import size as human_size
from keyframe.cli.parts import (
    PartSender,
    PartUrls,
    UploadFailed,
    guess_content_type,
    part_crc32s,
    send_parts,
    sha256_of,
)
from keyframe.cli.preflight import check_file
from keyframe.cli.processing import VERSION_READY, wait_for_version
from keyframe.cli.resolve import find_asset, looks_like_id, project_id_of
from keyframe.cli.resume import Decision, ResumeState, StateStore, decide, default_dir, state_key
from keyframe.cli.session import Session, api_options, pass_session
from keyframe.media.errors import InvalidMediaError

STATE_SAVE_INTERVAL = 2.0
"""Seconds between resume-state writes while parts complete (and once at the end)."""
PART_CRC32_MAX_BYTES = 1024**3
"""Files up to this size (1 GiB) are opened with each part's CRC32, read before the open (about
0.03 s of CPU per 100 MiB, plus the read from disk): storage verifies each part. Larger files are
not read twice before their first byte is sent; their parts' MD5 is checked against the ETags."""
DEFAULT_PART_SIZE = 8 * 1024**2
"""The part size a server with the default settings plans for every file up to 78 GiB (the CLI imports
nothing of the server: another plan is named by the server's 400 and followed)."""

__all__ = ["UploadFailed", "UploadRun", "upload_command", "upload_file"]


def _say(args: argparse.Namespace, message: str, *, always: bool = False) -> None:
    """A status line on stderr above the bar; ``--quiet`` hides it unless an error (``!``) or ``always``."""
    if always or not getattr(args, "quiet", False) or message.startswith("!"):
        progress_.say(message)


def _parts(count: int) -> str:
    return f"{count} part{'' if count == 1 else 's'}"


def say(message: str) -> None:
    """A status line on stderr above the bar."""
    progress_.say(message)


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


def _open(
    api: ApiClient,
    args: argparse.Namespace,
    path: Path,
    size: int,
    sha256: str | None,
    *,
    part_crc32: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fileName": path.name,
        "size": size,
        "contentType": args.content_type or guess_content_type(path),
    }
    if sha256:
        body["sha256"] = sha256
    if args.note:
        body["changeNote"] = args.note
    if part_crc32 is not None:
        body["partCrc32"] = part_crc32
    return api.post(f"/assets/{args.asset}/uploads", body)


def _open_with_part_crc32(
    api: ApiClient, args: argparse.Namespace, path: Path, size: int, sha256: str | None
) -> dict[str, Any]:
    """Open the upload declaring each part's CRC32 (``partCrc32``) when the file is at most
    :data:`PART_CRC32_MAX_BYTES`: storage then verifies every part against its checksum (the part
    URLs sign it) and the parts' MD5 is not needed. The parts are those of the server's plan, guessed
    with its default part size (:data:`DEFAULT_PART_SIZE`); a server that plans otherwise names its
    plan in the 400 (``PART_CHECKSUMS_MISMATCH``) and the checksums are made again for it. A larger
    file, or a server that takes no ``partCrc32``, is opened without part checksums, as before."""
    if not 0 < size <= PART_CRC32_MAX_BYTES:
        return _open(api, args, path, size, sha256)
    part_size = DEFAULT_PART_SIZE
    for _ in range(2):
        try:
            return _open(api, args, path, size, sha256, part_crc32=part_crc32s(path, part_size, size))
        except ApiError as exc:
            planned = (exc.details or {}).get("partSize") if isinstance(exc.details, dict) else None
            if exc.status == 400 and exc.code == "PART_CHECKSUMS_MISMATCH" and isinstance(planned, int):
                if planned == part_size:
                    break
                part_size = planned
                continue
            if exc.status == 400 and "partCrc32" in f"{exc.message} {exc.details}":
                break  # a server from before partCrc32: it refuses the unknown field
            raise
    return _open(api, args, path, size, sha256)


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
            _say(
                self.args,
                f"note: {self.path.name} changed since upload {previous} began, so this is a new "
                f"upload; {previous} stays open with its parts until it expires ({expires}). "
                f"Abort it with --abort-previous or DELETE {self.uploads}/{previous}",
                always=True,
            )
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
                    _say(
                        self.args,
                        f"note: the earlier upload {upload_id} was completed; not aborted",
                        always=True,
                    )
                    continue
                _say(self.args, f"! could not abort the earlier upload {upload_id}: {exc}")
                left.append(upload_id)
                continue
            _say(
                self.args,
                f"Aborted the earlier upload {upload_id} of {self.path.name} (--abort-previous)",
                always=True,
            )
        return left

    def hash_file(self, progress: Any) -> str:
        """SHA-256 of the file (hex), reporting the bytes read to ``progress.update``."""
        progress.set_description(f"hashing {self.path.name}")
        return sha256_of(self.path, progress.update)

    def open_upload(self, sha256: str | None) -> tuple[Decision, ResumeState, PartUrls]:
        """Open the upload and save its resume state: every part is to be sent.

        ``sha256`` is ``None`` when the file is hashed while its parts are sent (:class:`BackgroundHash`);
        the hash then goes with the complete."""
        opened = _open_with_part_crc32(self.api, self.args, self.path, self.stat.st_size, sha256)
        state = ResumeState(
            api=self.api.base_url, asset_id=self.args.asset, path=str(self.path.resolve()),
            size=self.stat.st_size, mtime_ns=self.stat.st_mtime_ns, upload_id=opened["uploadId"],
            part_size=opened["partSize"], part_count=opened["partCount"], sha256=sha256,
            superseded=list(self.superseded),
        )  # fmt: skip
        self.store.save(self.key, state)
        urls = PartUrls(self.api, self.args.asset, state.upload_id)
        urls.add(opened.get("parts") or [], opened.get("expiresAt"))
        _say(
            self.args,
            f"Uploading {self.path.name} as upload {state.upload_id}: {_parts(state.part_count)} "
            f"of {human_size(state.part_size)}",
        )
        return Decision("upload", tuple(range(1, state.part_count + 1)), {}), state, urls

    def start(self, progress: Any) -> tuple[Decision, ResumeState, PartUrls]:
        """Hash the file (reporting to ``progress``), open the upload, save the state."""
        return self.open_upload(self.hash_file(progress))

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

    @staticmethod
    def held_bytes(decision: Decision, state: ResumeState) -> int:
        """Bytes of the parts storage already holds (not sent again by this run)."""
        return sum(min(state.part_size, state.size - (n - 1) * state.part_size) for n in decision.etags)

    def send(self, decision: Decision, state: ResumeState, urls: PartUrls, progress: Any) -> None:
        """PUT the parts still to send, saving the state as they land.

        ``progress.update(n)`` is called with the bytes sent (negative when an attempt is retried);
        the bytes already held (:meth:`held_bytes`) are not reported.
        """
        saver = _Saver(self.store, self.key, state)
        state.etags.update(decision.etags)
        sender = PartSender(self.path, state.part_size, state.size, urls, progress)
        parallel = max(1, min(32, self.args.parallel))
        try:
            send_parts(sender, list(decision.parts_to_send), parallel, saver.part_done)
        finally:
            saver.flush()

    def complete(self, state: ResumeState, sha256: str | None = None) -> None:
        """``POST …/complete`` with every part's ETag and the file's SHA-256; remember that it is done.

        ``sha256`` is the hash made while sending; without it (and none in the state, as after an
        interrupted run that had not finished hashing) the file is hashed now."""
        parts = [{"partNumber": n, "etag": e} for n, e in sorted(state.etags.items())]
        state.sha256 = state.sha256 or sha256 or sha256_of(self.path)
        self.store.save(self.key, state)
        completed = self.api.post(
            f"{self.uploads}/{state.upload_id}/complete", {"parts": parts, "sha256": state.sha256}
        )
        state.completed = True
        self.store.save(self.key, state)
        _say(self.args, f"Upload {state.upload_id} complete; pipeline {completed['pipeline']['status']}")

    def wait(self, state: ResumeState) -> int:
        """Wait for the pipeline; print the version and its status; the exit code."""
        if self.args.no_wait:
            click.echo(f"upload {state.upload_id} COMPLETED")
            return EXIT_OK
        _say(self.args, "Waiting for processing …")
        outcome = wait_for_version(self.api, self.args.asset, state.upload_id, timeout=self.args.timeout)
        if outcome is None:
            say(
                f"! still processing after {self.args.timeout:.0f} s; run the same command again to keep "
                "waiting"
            )
            return EXIT_FAILED
        self.store.forget(self.key)
        if outcome.status == VERSION_READY:
            click.echo(f"version {outcome.version} READY")
            return EXIT_OK
        label = f"version {outcome.version}" if outcome.version is not None else f"upload {state.upload_id}"
        click.echo(f"{label} FAILED: {outcome.reason or 'no reason given'}")
        return EXIT_FAILED


class BackgroundHash:
    """The SHA-256 of a file, computed on a daemon thread from the moment it is made."""

    def __init__(self, path: Path) -> None:
        self._digest: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="keyframe-sha256", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._digest = sha256_of(path)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> str:
        """The hex digest (waits for the thread).

        Raises
        ------
        OSError
            The file could not be read.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest


def upload_file(api: ApiClient, args: argparse.Namespace) -> int:
    """Run ``keyframe upload`` with a ready API client; returns the exit code.

    ``args`` carries ``file``, ``asset`` (id), ``note``, ``parallel``, ``no_wait``, ``timeout``,
    ``state_dir``, ``content_type``, ``quiet`` and optionally ``abort_previous``. The local file check
    is the command's (:func:`upload_command`), not this function's.

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
    shown = not getattr(args, "quiet", False)
    total = run_.stat.st_size
    background: BackgroundHash | None = None
    if decision.action == "start":
        # the file is hashed on another thread from now on, while the parts' CRC32s are made, the
        # upload opened and the parts sent (hashlib releases the GIL), and the hash goes with the
        # complete: the SHA-256 never holds back the first byte sent
        background = BackgroundHash(run_.path)
        decision, state, urls = run_.open_upload(None)
    else:
        assert state is not None and session is not None
        urls = run_.resume(decision, state, session)
    if decision.action == "upload":
        held = run_.held_bytes(decision, state)
        with progress_.bar(total, description=run_.path.name, initial=held, enabled=shown) as sending:
            transfer = progress_.Transfer(total, already=held, on_bytes=sending.update)
            try:
                run_.send(decision, state, urls, transfer)
            finally:
                transfer.finish()
        _say(args, transfer.summary("sent", f"{run_.path.name} ({_parts(len(decision.parts_to_send))})"))
    if decision.action in ("upload", "complete"):
        if decision.action == "complete":
            state.etags.update(decision.etags)
        run_.complete(state, background.result() if background is not None else None)
    return run_.wait(state)


def run(args: argparse.Namespace, api: ApiClient) -> int:
    """:func:`upload_file`, mapping a missing file, a failed part and Ctrl-C to exit codes."""
    try:
        return upload_file(api, args)
    except FileNotFoundError as exc:
        raise Usage(str(exc)) from exc
    except UploadFailed as exc:
        say(f"! upload interrupted: {exc}. Run the same command again to resume.")
        return EXIT_FAILED
    except KeyboardInterrupt:
        say("! interrupted. Run the same command again to resume.")
        return EXIT_INTERRUPTED


def check_locally(path: Path, content_type: str, *, quiet: bool) -> None:
    """Refuse ``path`` before anything is sent when the pipeline would refuse it.

    Raises
    ------
    Usage
        Not a file, or refused (exit 2), with what the bytes are and how to force it.
    """
    if not path.is_file():
        raise Usage(f"{path} is not a file")
    try:
        detected = check_file(path, content_type)
    except InvalidMediaError as exc:
        raise Usage(
            f"{path.name} refused before sending anything: {exc.message} ({exc.code}). "
            "Nothing was sent. Use --force to upload it anyway (the pipeline will then refuse it)."
        ) from exc
    if not quiet:
        found = f"{detected.kind} ({detected.format}), {human_size(path.stat().st_size)}"
        say(f"checked {path.name} locally: {found}")


@click.command("upload")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--asset", required=True, metavar="ASSET", help="The asset: its id or its name.")
@click.option(
    "--project", default=None, metavar="PROJECT", help="Where to look the asset name up (id or code)."
)
@click.option("--note", default=None, help="Change note of the new version.")
@click.option(
    "--parallel", type=click.IntRange(1, 32), default=4, show_default=True, help="Parts sent at once."
)
@click.option(
    "--no-wait", is_flag=True, help="Return once the upload is complete (do not wait for processing)."
)
@click.option(
    "--timeout", type=float, default=1800.0, show_default=True, help="Seconds to wait for processing."
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where resume state is kept (default ~/.keyframe/uploads).",
)
@click.option("--content-type", default=None, help="MIME type (guessed from the name by default).")
@click.option("--force", is_flag=True, help="Skip the local file check (the pipeline still checks).")
@click.option(
    "--abort-previous",
    is_flag=True,
    help="Abort this file's earlier upload, left open because the file changed since it began.",
)
@click.option("--quiet", is_flag=True, help="No progress bar and no status lines.")
@api_options
@pass_session
def upload_command(session: Session, file: Path, asset: str, project: str | None, **options: Any) -> int:
    """Upload FILE as the next version of an asset; run it again to resume an interrupted upload.

    The file is checked locally first with the pipeline's own detector: a file the pipeline would
    refuse is refused before a byte is sent (exit 2). Example:

    \b
        keyframe upload sh020_v3.mov --asset SQ010_SH020 --note "blocking pass"
    """
    client = session.client()
    content_type = options["content_type"] or guess_content_type(file)
    if options["force"]:
        if not file.is_file():
            raise Usage(f"{file} is not a file")
    else:
        check_locally(file, content_type, quiet=options["quiet"])
    asset_id = (
        asset
        if looks_like_id(asset)
        else find_asset(client, asset, project_id=project_id_of(client, project))["id"]
    )
    args = argparse.Namespace(file=file, asset=asset_id, **options)
    return run(args, client)
