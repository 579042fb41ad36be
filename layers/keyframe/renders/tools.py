"""Where the scene renderers are: Blender and Synfig, found on ``PATH`` (or named by variables).

================  ===============================  ============================================
tool              variable (optional)              package (Debian/Ubuntu; the render image's)
================  ===============================  ============================================
``blender``       ``KEYFRAME_BLENDER``             ``blender`` (3.4.1 on Debian 12)
``synfig``        ``KEYFRAME_SYNFIG``              ``synfig`` (1.4.x on Debian 12, 1.5.1 on testing)
================  ===============================  ============================================

``make dev`` prints :func:`missing_message` when one is absent (scene renders of that kind then fail
``RENDERER_UNAVAILABLE``; every other feature works), and tests that need one skip naming it.
"""

from __future__ import annotations

import os
import shutil

TOOLS: dict[str, tuple[str, str]] = {
    "blender": ("KEYFRAME_BLENDER", "blender"),
    "synfig": ("KEYFRAME_SYNFIG", "synfig"),
}
"""``tool -> (environment variable naming its path, Debian package)``."""


def find(tool: str) -> str | None:
    """The path of ``tool`` (``blender`` or ``synfig``), or ``None`` when this machine lacks it."""
    variable, _ = TOOLS[tool]
    named = os.environ.get(variable)
    if named:
        return named if os.path.isfile(named) and os.access(named, os.X_OK) else None
    return shutil.which(tool)


def missing() -> list[str]:
    """The renderers this machine lacks."""
    return [tool for tool in TOOLS if find(tool) is None]


def missing_message(tools: list[str]) -> str:
    """What to install, in one line (empty when nothing is missing)."""
    if not tools:
        return ""
    packages = " ".join(TOOLS[t][1] for t in tools)
    return (
        f"Scene renders need {' and '.join(tools)}, which this machine lacks: install them with "
        f"`sudo apt-get install -y {packages}` (or set {', '.join(TOOLS[t][0] for t in tools)} to their "
        "paths). Everything else works without them."
    )
