"""A real browser on another origin uses the local stack as a web front end would.

Headless Chromium (Debian's ``chromium``), driven by Playwright, opens a page whose origin is
``http://localhost:5173`` (the local stack's default allowed origin; the page and hls.js are served to
the browser by Playwright's request routing, so no port is taken) and, from that page's scripts, with
the browser's own CORS and media stack:

1. signs in (``POST /auth/login``);
2. reads a 401 from the authorizer for an expired token (readable: CORS on the gateway's answer) and
   refreshes (``POST /auth/refresh``), then reads ``/me``;
3. uploads a small video with presigned part PUTs straight to S3 and completes the upload;
4. lists the project's assets once the pipeline made the version READY and loads its thumbnail;
5. opens the live socket with a ticket, subscribes to the asset's room, comments over REST and
   receives the ``asset:commented`` event with the author's display name;
6. renders HLS and plays it with hls.js (pinned in ``tests/js``, served locally): frames decode and
   are drawn into a canvas.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest

from keyframe.identity import token_keys, tokens
from keyframe.local.ffmpeg import ffmpeg_path
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.js import npm

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e")]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGE_ORIGIN = "http://localhost:5173"  # the local stack's default CORS origin (keyframe.local.defaults)
PASSWORD = "browser-test-password"
TIMEOUT_MS = 45_000


def _clip(tmp_path: Path) -> bytes:
    """A 2 s 320x240 H.264/AAC MP4 (about 60 KB), made with FFmpeg."""
    out = tmp_path / "shot.mp4"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out.read_bytes()


def _expired(token: str, stack: LocalStackProcess) -> str:
    """``token`` with the same claims and key, expired a minute ago (signed with the stack's KMS key)."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    now = int(time.time())
    claims.update(iat=now - 1000, nbf=now - 1000, exp=now - 60)
    return tokens.sign_jwt(claims, token_keys.KmsSigner(header["kid"], stack.client("kms")))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield launched
        finally:
            launched.close()


PAGE = b"<!doctype html><html><head><script src='/hls.min.js'></script></head><body></body></html>"


class _PageServer(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A page at ``http://localhost:5173`` with hls.js loaded.

    The page's files come from a loopback HTTP server on a free port: Playwright sends the browser's
    requests for ``localhost:5173`` there (``route.continue_``), so the page's origin is the allowed
    one, and Chromium sees a page on a loopback address (its Local Network Access checks refuse calls
    from a public page to 127.0.0.1; a page fulfilled by Playwright alone counts as public).
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_bytes(PAGE)
    shutil.copy(npm.node_modules() / "hls.js" / "dist" / "hls.min.js", site / "hls.min.js")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_PageServer, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served = f"http://127.0.0.1:{server.server_port}"
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.route(
        f"{PAGE_ORIGIN}/**",
        lambda route: route.continue_(url=served + route.request.url[len(PAGE_ORIGIN) :]),
    )
    page.goto(f"{PAGE_ORIGIN}/index.html")
    try:
        yield page
    finally:
        context.close()
        server.shutdown()
        server.server_close()


JS_CALL = """
window.call = async (method, path, token, body) => {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(window.API + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {status: response.status, body: text ? JSON.parse(text) : null,
          correlationId: response.headers.get("X-Correlation-Id")};
};
window.until = async (check, what, ms) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 300));
  }
};
true;
"""


def test_a_web_front_end_on_another_origin_uses_the_whole_api(
    page: Any, http: BaseUrlSession, local_stack: LocalStackProcess, tmp_path: Path
) -> None:
    # Given a studio (Ada, ADMIN) with a project and a shot, made over HTTP
    email = f"browser-{uuid.uuid4().hex[:10]}@example.com"
    registered = http.post(
        "/auth/register",
        json={"studioName": "Browser Studio", "email": email, "password": PASSWORD, "displayName": "Ada"},
    )
    assert registered.status_code == 201, registered.text
    admin = {"Authorization": f"Bearer {registered.json()['accessToken']}"}
    project = http.post(
        "/projects", json={"name": "Pilot", "code": "B" + uuid.uuid4().hex[:4]}, headers=admin
    )
    shot = http.post(
        "/assets", json={"projectId": project.json()["id"], "name": "SH010", "type": "SHOT"}, headers=admin
    ).json()
    page.evaluate(f"window.API = {json.dumps(local_stack.http_url)};" + JS_CALL)
    assert page.evaluate("location.origin") == PAGE_ORIGIN != local_stack.http_url

    # When the page signs in
    login = page.evaluate(
        "(b) => call('POST', '/auth/login', null, b)", {"email": email, "password": PASSWORD}
    )
    assert login["status"] == 200, login
    tokens = login["body"]

    # Then an expired token reads as a 401 (not a network error), and a refresh gets a working one
    expired = page.evaluate("(t) => call('GET', '/me', t)", _expired(tokens["accessToken"], local_stack))
    assert expired["status"] == 401 and expired["body"]["error"]["code"] == "UNAUTHENTICATED"
    assert expired["correlationId"], "X-Correlation-Id is exposed to scripts"
    refreshed = page.evaluate(
        "(r) => call('POST', '/auth/refresh', null, {refreshToken: r})", tokens["refreshToken"]
    )
    assert refreshed["status"] == 200, refreshed
    token = refreshed["body"]["accessToken"]
    me = page.evaluate("(t) => call('GET', '/me', t)", token)
    assert me["status"] == 200 and me["body"]["user"]["displayName"] == "Ada"

    # When the page uploads a small video with presigned part PUTs straight to S3
    uploaded = page.evaluate(
        """async ({token, assetId, b64}) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
          const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
          const opened = await call("POST", `/assets/${assetId}/uploads`, token,
            {fileName: "shot.mp4", size: bytes.length, contentType: "video/mp4", sha256});
          if (opened.status !== 201) return opened;
          const parts = [];
          for (const part of opened.body.parts) {
            const start = (part.partNumber - 1) * opened.body.partSize;
            const put = await fetch(part.url, {method: "PUT", headers: part.headers || {},
              body: new Blob([bytes.slice(start, start + opened.body.partSize)],
                             {type: "application/octet-stream"})});
            if (!put.ok) return {status: put.status, body: await put.text()};
            parts.push({partNumber: part.partNumber, etag: put.headers.get("ETag")});
          }
          const done = await call("POST", `/assets/${assetId}/uploads/${opened.body.uploadId}/complete`,
                                  token, {parts});
          return {status: done.status, parts: parts.length, etags: parts.map((p) => p.etag)};
        }""",
        {"token": token, "assetId": shot["id"], "b64": base64.b64encode(_clip(tmp_path)).decode()},
    )
    # Then S3's ETag was readable (bucket CORS) and the upload completed
    assert uploaded["status"] == 202, uploaded
    assert uploaded["parts"] >= 1 and all(uploaded["etags"]), uploaded

    # When the pipeline made version 1 READY, the page lists the project's assets
    page.evaluate(
        """({token, assetId}) => until(async () =>
             (await call("GET", `/assets/${assetId}`, token)).body.currentVersion === 1,
             "version 1 READY", 40000)""",
        {"token": token, "assetId": shot["id"]},
    )
    thumbnail = page.evaluate(
        """async ({token, projectId, assetId}) => {
          const listed = await call("GET", `/assets?projectId=${projectId}`, token);
          const item = listed.body.items.find((a) => a.id === assetId);
          if (!item.thumbnail) return {missing: item};
          const img = new Image();
          await new Promise((ok, fail) => {
            img.onload = ok;
            img.onerror = () => fail(new Error("thumbnail"));
            img.src = item.thumbnail.url;
          });
          document.body.append(img);
          return {width: img.naturalWidth, height: img.naturalHeight};
        }""",
        {"token": token, "projectId": shot["projectId"], "assetId": shot["id"]},
    )
    # Then the listing carried a thumbnail link and the browser decoded the image
    assert thumbnail.get("width", 0) > 0 and thumbnail.get("height", 0) > 0, thumbnail

    # When the page requests an HLS render, opens the live socket, subscribes and comments
    render = page.evaluate(
        "({token, assetId}) => call('POST', `/assets/${assetId}/renders`, token, {preset: 'hls'})",
        {"token": token, "assetId": shot["id"]},
    )
    assert render["status"] == 202, render
    event = page.evaluate(
        """async ({token, assetId}) => {
          const ticket = await call("POST", "/live/tickets", token, {});
          const socket = new WebSocket(ticket.body.url);
          const frames = [];
          socket.onmessage = (m) => frames.push(JSON.parse(m.data));
          await new Promise((ok, fail) => {
            socket.onopen = ok;
            socket.onerror = () => fail(new Error("socket"));
          });
          const room = `asset:${assetId}`;
          socket.send(JSON.stringify({action: "subscribe", room, correlationId: "sub-1"}));
          await until(() => frames.find((f) => f.type === "subscribed"), "subscribed", 10000);
          const posted = await call("POST", `/assets/${assetId}/versions/1/comments`, token,
                                    {body: "Timing on the turn", frame: 12});
          if (posted.status !== 201) return posted;
          const commented = () => frames.find((f) => f.type === "asset:commented");
          const got = await until(commented, "comment event", 10000);
          socket.close();
          return got;
        }""",
        {"token": token, "assetId": shot["id"]},
    )
    # Then the comment event arrives in the envelope, with what a UI shows (no other call needed)
    assert {"type", "room", "seq", "ts", "correlationId", "data"} <= set(event), event
    assert event["room"] == f"asset:{shot['id']}"
    assert event["data"]["body"] == "Timing on the turn" and event["data"]["frame"] == 12
    assert event["data"]["authorName"] == "Ada"

    # When the render SUCCEEDED, the page plays it with hls.js
    played = page.evaluate(
        """async ({token, jobId}) => {
          await until(async () => {
            const job = (await call("GET", `/renders/${jobId}`, token)).body;
            if (job.status === "FAILED" || job.status === "CANCELLED") throw new Error(JSON.stringify(job));
            return job.status === "SUCCEEDED";
          }, "render SUCCEEDED", 45000);
          const link = (await call("GET", `/renders/${jobId}/playback`, token)).body;
          const video = document.createElement("video");
          video.muted = true;
          document.body.append(video);
          const hls = new Hls();
          await new Promise((ok, fail) => {
            hls.on(Hls.Events.ERROR, (_, data) => {
              if (data.fatal) fail(new Error(data.type + " " + data.details));
            });
            hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().then(ok, fail));
            hls.loadSource(link.url);
            hls.attachMedia(video);
          });
          await until(() => video.currentTime > 0.5, "playback to advance", 15000);
          const canvas = document.createElement("canvas");
          canvas.width = video.videoWidth; canvas.height = video.videoHeight;
          const context = canvas.getContext("2d");
          context.drawImage(video, 0, 0);
          const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
          const colours = new Set();
          for (let i = 0; i < pixels.length; i += 4 * 97) {
            colours.add(pixels[i] + "," + pixels[i + 1] + "," + pixels[i + 2]);
          }
          const quality = video.getVideoPlaybackQuality();
          hls.destroy();
          return {width: canvas.width, height: canvas.height, colours: colours.size,
                  frames: quality.totalVideoFrames, currentTime: video.currentTime};
        }""",
        {"token": token, "jobId": render["body"]["renderJobId"]},
    )
    # Then frames decoded: the canvas holds the test picture (many colours), not a blank frame
    assert played["width"] > 0 and played["height"] > 0, played
    assert played["frames"] > 0 and played["colours"] > 20, played
