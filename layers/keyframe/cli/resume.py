"""Resume state of ``keyframe upload`` and the decision of what to do on the next run (no network).

One JSON file per (API, asset, file path) in ``~/.keyframe/uploads/`` (or ``--state-dir``), named
by a hash of the three, holds the upload id and the file's size and modification time at the start.
On the next run for the same file and asset the server's view (``GET …/uploads/{uploadId}``) is the
truth: only its ``missingParts`` are sent again.

A file that changed since is uploaded afresh as a new session, and the earlier session is never
aborted on the user's behalf: it stays open (its parts kept, its quota held) until it expires with
the bucket's 7-day rule, or until the user asks for it to go (``--abort-previous``, or
``DELETE /assets/{assetId}/uploads/{uploadId}``). Its id is kept in the new state's ``superseded``
so that a later run of the same upload with ``--abort-previous`` can still abort it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from keyframe.cli.credentials import home

Action = Literal["start", "upload", "complete", "wait"]


@dataclass
class ResumeState:
    """What a run of ``keyframe upload`` remembers about its upload session.

    Attributes
    ----------
    api, asset_id, path:
        Where, for which asset and which file (absolute, resolved path).
    size, mtime_ns:
        The file's size (bytes) and modification time (ns) when the upload began.
    sha256:
        SHA-256 of the whole file (hex), as declared when opening.
    upload_id, part_size, part_count:
        The session and its part plan.
    etags:
        ``{partNumber: etag}`` of the parts this client saw S3 accept.
    completed:
        True once ``complete`` answered 202 (the next run only waits for the pipeline).
    superseded:
        Ids of earlier sessions of this file (before it changed) that were left open.
    """

    api: str
    asset_id: str
    path: str
    size: int
    mtime_ns: int
    upload_id: str
    part_size: int
    part_count: int
    sha256: str | None = None
    etags: dict[int, str] = field(default_factory=dict)
    completed: bool = False
    superseded: list[str] = field(default_factory=list)

    def matches(self, size: int, mtime_ns: int) -> bool:
        """True when the file on disk is still the one this state describes."""
        return self.size == size and self.mtime_ns == mtime_ns

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (part numbers as string keys)."""
        data = asdict(self)
        data["etags"] = {str(k): v for k, v in sorted(self.etags.items())}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResumeState:
        """Parse :meth:`to_json` output.

        Raises
        ------
        KeyError, TypeError, ValueError
            On a malformed document.
        """
        values = dict(data)
        values["etags"] = {int(k): str(v) for k, v in (data.get("etags") or {}).items()}
        values["superseded"] = [str(u) for u in data.get("superseded") or []]
        return cls(**values)


def default_dir() -> Path:
    """``~/.keyframe/uploads`` (or under ``KEYFRAME_HOME``)."""
    return home() / "uploads"


def state_key(api: str, asset_id: str, path: Path) -> str:
    """The state file's stem: a SHA-256 of the API root, the asset id and the resolved path."""
    material = "\n".join([api.rstrip("/"), asset_id, str(Path(path).resolve())])
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class StateStore:
    """Resume files in ``folder``: load, save atomically, forget."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_of(self, key: str) -> Path:
        """The file holding ``key``'s state."""
        return self.folder / f"{key}.json"

    def load(self, key: str) -> ResumeState | None:
        """The saved state, or ``None`` (no file, or a damaged one: the upload starts afresh)."""
        try:
            return ResumeState.from_json(json.loads(self.path_of(key).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: str, state: ResumeState) -> None:
        """Write the state (temporary file + rename, so a crash never leaves half a file)."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path_of(key)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(state.to_json(), indent=1))
        os.replace(temporary, target)

    def forget(self, key: str) -> None:
        """Delete the state (done, or no longer valid)."""
        self.path_of(key).unlink(missing_ok=True)


@dataclass(frozen=True)
class Decision:
    """What the next run does.

    Attributes
    ----------
    action:
        ``start`` (open a new upload), ``upload`` (send ``parts_to_send`` then complete),
        ``complete`` (every part is there) or ``wait`` (completed: wait for the pipeline).
    parts_to_send:
        Part numbers to PUT, ascending.
    etags:
        ``{partNumber: etag}`` already held by S3 and trusted for ``complete``.
    previous_upload_id:
        The earlier session of this file, still OPEN on the server, that no longer matches the file
        (it changed since): a new session is started and this one is left alone, never aborted
        unless the user asks (``--abort-previous``).
    """

    action: Action
    parts_to_send: tuple[int, ...] = ()
    etags: dict[int, str] = field(default_factory=dict)
    previous_upload_id: str | None = None


def decide(state: ResumeState | None, size: int, mtime_ns: int, session: dict[str, Any] | None) -> Decision:
    """Decide how to continue from a saved ``state`` and the server's ``session`` (no I/O).

    Parameters
    ----------
    state:
        The saved state, if any.
    size, mtime_ns:
        The file as it is now.
    session:
        ``GET …/uploads/{state.upload_id}`` (``None`` when it answered 404 or was not asked).

    Returns
    -------
    Decision
    """
    if state is None:
        return Decision("start")
    if not state.matches(size, mtime_ns):
        still_open = session is not None and session.get("status") == "OPEN"
        return Decision("start", previous_upload_id=state.upload_id if still_open else None)
    if session is None or session.get("status") == "ABORTED":
        return Decision("start")
    status = session.get("status")
    if status == "COMPLETED" or state.completed:
        return Decision("wait")
    if status == "COMPLETING":
        return Decision("complete", etags=dict(state.etags))
    missing = set(session.get("missingParts") or [])
    etags: dict[int, str] = {}
    for part in session.get("uploadedParts") or []:
        number, etag = int(part["partNumber"]), str(part["etag"]).strip('"')
        if number in missing:
            continue
        remembered = state.etags.get(number)
        if remembered is not None and remembered.strip('"') != etag:
            missing.add(number)  # S3 holds other bytes than this client sent: send them again
            continue
        etags[number] = etag
    to_send = tuple(sorted(n for n in missing if 1 <= n <= state.part_count))
    return Decision("upload" if to_send else "complete", parts_to_send=to_send, etags=etags)
