"""The local HTTP API server's own answers: the error shape for requests it cannot read, no banner."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from keyframe.local.restapi import RestApiServer


def _hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"hello": "world"}']


@pytest.fixture
def server() -> Iterator[RestApiServer]:
    server = RestApiServer(_hello, "127.0.0.1", 0)  # type: ignore[arg-type]
    server.start()
    yield server
    server.stop()


def _get(server: RestApiServer, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/health", headers=headers)
    return connection.getresponse()


@pytest.mark.parametrize(
    "headers",
    [{"X-Huge": "a" * 70_000}, {f"X-Many-{i}": "1" for i in range(120)}],
    ids=["a header line over 64 KiB", "over 100 header lines"],
)
def test_oversized_headers_answer_431_in_the_error_shape(
    server: RestApiServer, headers: dict[str, str]
) -> None:
    # Given a request whose headers the server refuses to read / When it is sent
    response = _get(server, headers)

    # Then 431 in the one error shape, with its correlation id echoed, and no software banner
    body = json.loads(response.read())
    assert response.status == 431
    assert response.getheader("Content-Type") == "application/json"
    assert body["error"]["code"] == "HEADERS_TOO_LARGE"
    assert body["error"]["correlationId"] == response.getheader("X-Correlation-Id")
    assert response.getheader("Server") is None


def test_a_malformed_request_answers_400_in_the_error_shape(server: RestApiServer) -> None:
    # Given a request line that is not HTTP
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"GET /health HTTP/1.1 extra\r\n\r\n")
        chunks = []
        while chunk := raw.recv(65536):  # the server closes the connection after an error
            chunks.append(chunk)
    answer = b"".join(chunks).decode()

    # Then a 400 whose body is the error shape, without a Server header
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.") and " 400 " in head.splitlines()[0]
    assert "server:" not in head.lower()
    assert json.loads(body)["error"]["code"] == "BAD_REQUEST"


def test_answers_carry_no_server_banner(server: RestApiServer) -> None:
    # When an ordinary request is answered
    response = _get(server, {})

    # Then the app's answer went out without a Server header naming the software
    assert response.status == 200 and json.loads(response.read()) == {"hello": "world"}
    assert response.getheader("Server") is None
    assert response.getheader("Date")
