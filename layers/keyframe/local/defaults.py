"""What ``make dev`` uses when a variable is not set (light: the README generator imports it)."""

from __future__ import annotations

CORS_ORIGINS = "http://localhost:5173,http://127.0.0.1:5173"
"""``CORS_ALLOW_ORIGINS`` on the local stack: a Vite dev server on its default port (5173)."""

SETTINGS_DEFAULTS: dict[str, str] = {"CORS_ALLOW_ORIGINS": CORS_ORIGINS}
"""Settings variables that the local stack sets when the environment does not."""
