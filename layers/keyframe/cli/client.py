"""A small client of Keyframe's public REST API for the command line.

Errors come back as :class:`ApiError` carrying the API's unified error body
(``{"error": {"code", "message", "details"?, "correlationId"}}``). When the token came from
``keyframe login``'s credentials file, a 401 triggers one refresh (``POST /auth/refresh``) and a
retry, so an upload that outlives a 15-minute access token keeps going.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import requests

from keyframe.cli import credentials

DEFAULT_TIMEOUT = (10, 60)
"""(connect, read) seconds for API calls."""


class ApiError(Exception):
    """The API answered an error (or could not be reached: ``status`` 0).

    Attributes
    ----------
    status:
        HTTP status (0 when the request never got an answer).
    code, message, details:
        From the API's error body.
    """

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})" if status else message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class ApiClient:
    """``client.post("/assets/a1/uploads", {...})`` -> parsed JSON, or :class:`ApiError`.

    Parameters
    ----------
    base_url:
        The API root, e.g. ``http://127.0.0.1:3000``.
    token:
        A bearer access token; ``None`` to use (and refresh) the stored credentials.
    stored:
        Credentials from ``keyframe login`` (used when ``token`` is ``None``).
    on_refresh:
        Called with the new credentials after a refresh (to save them).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        stored: credentials.Credentials | None = None,
        on_refresh: Callable[[credentials.Credentials], object] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token or (stored.access_token if stored else None)
        self.stored = stored if token is None else None
        self.on_refresh = on_refresh
        self.http = session or requests.Session()
        self._lock = threading.Lock()
        self.sent_bytes = 0
        """Bytes of request bodies sent to the API (the bench checks no file content goes here)."""
        self.received_bytes = 0

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """Send one API request; returns the parsed JSON body (``None`` for 204).

        Raises
        ------
        ApiError
            Any non-2xx answer, or no answer at all.
        """
        response = self._send(method, path, body, params)
        # a refused sign-in (/auth/login, /auth/refresh) is the answer itself, never a stale token
        if (
            response.status_code == 401
            and self.stored
            and self.stored.refresh_token
            and not path.startswith("/auth/")
        ):
            self._refresh()
            response = self._send(method, path, body, params)
        if response.status_code >= 400:
            raise error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None) -> requests.Response:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            prepared = self.http.prepare_request(
                requests.Request(method, self.base_url + path, json=body, params=params, headers=headers)
            )
            body = prepared.body
            with self._lock:
                self.sent_bytes += len(body) if isinstance(body, bytes | str) else 0
            response = self.http.send(prepared, timeout=DEFAULT_TIMEOUT)
        except requests.RequestException as exc:
            message = f"Cannot reach the Keyframe API at {self.base_url}: {exc}"
            raise ApiError(0, "UNREACHABLE", message) from exc
        with self._lock:
            self.received_bytes += len(response.content or b"")
        return response

    def _refresh(self) -> None:
        assert self.stored is not None
        response = self._send("POST", "/auth/refresh", {"refreshToken": self.stored.refresh_token}, None)
        if response.status_code >= 400:
            raise error_of(response)
        self.stored = credentials.from_auth_response(response.json(), self.stored.api, self.stored.email)
        self.token = self.stored.access_token
        if self.on_refresh:
            self.on_refresh(self.stored)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path``."""
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        """POST ``path`` with a JSON body."""
        return self.request("POST", path, body)

    def delete(self, path: str) -> Any:
        """DELETE ``path``."""
        return self.request("DELETE", path)


def error_of(response: requests.Response) -> ApiError:
    """An :class:`ApiError` from an error response (unified body, or whatever the server sent)."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    return ApiError(
        response.status_code,
        error.get("code") or f"HTTP_{response.status_code}",
        error.get("message") or (response.text[:200] or response.reason or "request failed"),
        error.get("details"),
    )
