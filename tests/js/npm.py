"""The test suite's JavaScript tools, installed once from ``tests/js/package-lock.json`` (``npm ci``).

``node_modules()`` installs them when the lock changed (under a file lock, so parallel pytest
workers install once) and returns the folder. The pinned packages: ``@asyncapi/parser`` (validates the
live API's document) and ``hls.js`` (the browser test plays a render with it).
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
LOCK = HERE / "package-lock.json"


class NodeMissing(RuntimeError):
    """``node`` or ``npm`` is not on PATH."""


def node() -> str:
    """The path of ``node``.

    Raises
    ------
    NodeMissing
        No Node.js on PATH.
    """
    found = shutil.which("node")
    if not found:
        raise NodeMissing("Node.js (node, npm) is needed for tests/js tools")
    return found


def node_modules() -> Path:
    """``tests/js/node_modules`` with exactly the locked packages (``npm ci`` when the lock changed).

    Raises
    ------
    NodeMissing
        No ``npm`` on PATH.
    subprocess.CalledProcessError
        ``npm ci`` failed (the package registry is unreachable on a first run).
    """
    npm = shutil.which("npm")
    if not npm:
        raise NodeMissing("npm is needed to install tests/js tools")
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    stamp = HERE / "node_modules" / f".installed-{digest}"
    if stamp.exists():
        return stamp.parent
    with open(HERE / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=HERE,
                check=True,
                timeout=600,
            )
            stamp.touch()
    return stamp.parent
