"""What ``make dev`` uses when a variable is not set (light: the README generator imports it)."""

from __future__ import annotations

CORS_ORIGINS = "http://localhost:5173,http://127.0.0.1:5173"
"""``CORS_ALLOW_ORIGINS`` on the local stack: a Vite dev server on its default port (5173)."""

FRONTEND_URL = "http://localhost:5173"
"""``FRONTEND_URL`` on the local stack: e-mail links point at the Vite dev server."""

MAIL_FROM = "Keyframe <no-reply@keyframe.test>"
"""``MAIL_FROM`` on the local stack (its domain is verified in the emulator's SES at start)."""

SETTINGS_DEFAULTS: dict[str, str] = {
    "CORS_ALLOW_ORIGINS": CORS_ORIGINS,
    "FRONTEND_URL": FRONTEND_URL,
    "MAIL_FROM": MAIL_FROM,
}
"""Settings variables that the local stack sets when the environment does not."""
