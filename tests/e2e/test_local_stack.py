"""`make dev` end to end: the local stack answered over HTTP, WebSocket and its AWS emulator only."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PASSWORD = "correct-horse-battery-staple"


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _register(http: BaseUrlSession) -> dict[str, Any]:
    email = _email("admin")
    response = http.post(
        "/auth/register",
        json={
            "studioName": "Blue Fox Animation",
            "email": email,
            "password": PASSWORD,
            "displayName": "Ada Admin",
        },
    )
    assert response.status_code == 201, response.text
    return {**response.json(), "email": email}


# ----------------------------------------------------------------------------------- HTTP API
def test_health_and_ready_answer(http: BaseUrlSession) -> None:
    # Given a running stack / When / Then
    health = http.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["X-Correlation-Id"]
    ready = http.get("/ready")
    assert ready.status_code == 200
    assert set(ready.json()["checks"]) >= {"tenants", "catalog", "mediaBucket"}


def test_openapi_document_and_docs_page_are_served(http: BaseUrlSession) -> None:
    # Given a running stack / When / Then (both read the committed layers/keyframe/http/openapi.json)
    document = http.get("/openapi.json")
    assert document.status_code == 200, document.text
    assert "/health" in document.json()["paths"]
    docs = http.get("/docs")
    assert docs.status_code == 200 and docs.headers["Content-Type"].startswith("text/html")


def test_unknown_routes_and_missing_tokens_get_the_unified_error(http: BaseUrlSession) -> None:
    missing = http.get("/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ROUTE_NOT_FOUND"
    anonymous = http.get("/me")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["correlationId"]


def test_a_browser_origin_of_the_dev_server_is_allowed(http: BaseUrlSession) -> None:
    response = http.get("/health", headers={"Origin": "http://localhost:5173"})
    assert response.headers.get("Access-Control-Allow-Origin") == "http://localhost:5173"


def test_foundation_flow_studio_login_refresh_invite_roles(http: BaseUrlSession) -> None:
    # Given a new studio with its first ADMIN
    admin = _register(http)
    assert admin["role"] == "ADMIN"

    # When the admin logs in and rotates the refresh token
    login = http.post("/auth/login", json={"email": admin["email"], "password": PASSWORD})
    assert login.status_code == 200, login.text
    first = login.json()["refreshToken"]
    rotated = http.post("/auth/refresh", json={"refreshToken": first})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refreshToken"]
    assert second != first

    # Then a second tab refreshing with the same token at once gets the same new pair (grace window)
    again = http.post("/auth/refresh", json={"refreshToken": first})
    assert again.status_code == 200, again.text
    assert again.json()["refreshToken"] == second

    # And once the family has moved on, reusing a token two rotations old revokes the whole family
    third = http.post("/auth/refresh", json={"refreshToken": second})
    assert third.status_code == 200, third.text
    reused = http.post("/auth/refresh", json={"refreshToken": first})
    assert reused.status_code == 401
    assert http.post("/auth/refresh", json={"refreshToken": third.json()["refreshToken"]}).status_code == 401

    # When the admin invites a DIRECTOR who accepts
    token = admin["accessToken"]
    director_email = _email("director")
    invitation = http.post(
        "/studio/invitations", json={"email": director_email, "role": "DIRECTOR"}, headers=_bearer(token)
    )
    assert invitation.status_code == 201, invitation.text
    accepted = http.post(
        "/auth/accept-invitation",
        json={"token": invitation.json()["token"], "password": PASSWORD, "displayName": "Dee Director"},
    )
    assert accepted.status_code == 201, accepted.text
    director = accepted.json()
    assert director["role"] == "DIRECTOR"
    assert director["studio"]["studioId"] == admin["studio"]["studioId"]

    # Then both are members, and the admin can change the director's role
    members = http.get("/studio/members", headers=_bearer(token))
    assert members.status_code == 200
    roles = {m["email"]: m["role"] for m in members.json()["items"]}
    assert roles == {admin["email"]: "ADMIN", director_email: "DIRECTOR"}
    changed = http.patch(
        f"/studio/members/{director['user']['userId']}", json={"role": "PRODUCER"}, headers=_bearer(token)
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "PRODUCER"

    # And /me tells each who they are
    me = http.get("/me", headers=_bearer(director["accessToken"]))
    assert me.status_code == 200
    assert me.json()["user"]["email"] == director_email
    assert http.get("/me", headers=_bearer(token)).json()["role"] == "ADMIN"


# ---------------------------------------------------------------------------------- WebSocket
def _connection_with_ticket(local_stack: LocalStackProcess, http: BaseUrlSession, ticket: str) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for connection in http.get(f"{local_stack.connections_url}/@connections").json()["connections"]:
            if connection["query"].get("ticket") == [ticket]:
                return str(connection["connectionId"])
        time.sleep(0.05)
    raise AssertionError("the connection was not registered")


def test_websocket_refuses_a_connection_without_a_ticket(local_stack: LocalStackProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(local_stack.ws_url, proxy=None, open_timeout=10)
    assert refused.value.response.status_code == 401


def test_backend_pushes_to_a_websocket_client_through_connections(
    local_stack: LocalStackProcess, http: BaseUrlSession
) -> None:
    # Given a signed-in user with a live ticket, connected to the WebSocket URL it names
    admin = _register(http)
    issued = http.post("/live/tickets", headers=_bearer(admin["accessToken"]))
    assert issued.status_code == 201, issued.text
    url = issued.json()["url"]
    ticket = parse_qs(urlsplit(url).query)["ticket"][0]
    management = local_stack.client("apigatewaymanagementapi", endpoint_url=local_stack.connections_url)
    with connect(url, proxy=None, open_timeout=10) as ws:
        connection_id = _connection_with_ticket(local_stack, http, ticket)

        # When the backend posts to the connection with boto3
        management.post_to_connection(ConnectionId=connection_id, Data=json.dumps({"type": "hello"}).encode())

        # Then the client receives it, and the connection is known
        assert json.loads(ws.recv(timeout=10)) == {"type": "hello"}
        assert management.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"] == "127.0.0.1"

    # And once closed, posting answers GoneException
    deadline = time.monotonic() + 5
    while True:
        try:
            management.post_to_connection(ConnectionId=connection_id, Data=b"late")
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "GoneException"
            break
        assert time.monotonic() < deadline, "the closed connection still accepts posts"
        time.sleep(0.05)


# ------------------------------------------------------------------------------- AWS emulator
def test_emulator_holds_the_bootstrapped_resources(local_stack: LocalStackProcess) -> None:
    # Given the stack's emulator / When listing resources
    tables = local_stack.client("dynamodb").list_tables()["TableNames"]
    cors = local_stack.client("s3").get_bucket_cors(Bucket=local_stack.env["MEDIA_BUCKET"])["CORSRules"][0]
    secret = local_stack.client("secretsmanager").get_secret_value(
        SecretId=local_stack.env["JWT_SECRET_NAME"]
    )

    # Then every table, the media bucket's browser-upload CORS and the signing key exist
    assert {"keyframe-local-tenants", "keyframe-local-catalog", "keyframe-local-live"} <= set(tables)
    assert "PUT" in cors["AllowedMethods"] and "ETag" in cors["ExposeHeaders"]
    assert json.loads(secret["SecretString"])["kid"] == "local-1"
    assert local_stack.env["AWS_ENDPOINT_URL"] == local_stack.emulator_url


def test_lambda_invoke_through_the_emulator_runs_the_real_handlers(local_stack: LocalStackProcess) -> None:
    client = local_stack.client("lambda")
    # Given a REST proxy event for GET /health / When the meta function is invoked by name
    event = {
        "resource": "/health",
        "path": "/health",
        "httpMethod": "GET",
        "headers": {},
        "requestContext": {"requestId": "e2e", "stage": "local"},
        "body": None,
        "isBase64Encoded": False,
    }
    answer = client.invoke(FunctionName="keyframe-local-meta-api", Payload=json.dumps(event).encode())
    # Then it answers as Lambda does
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(json.loads(answer["Payload"].read())["body"]) == {"status": "ok"}

    # When the $connect authorizer refuses a bogus ticket / Then Lambda's unhandled-error shape comes back
    refused = client.invoke(
        FunctionName="keyframe-local-live-authorizer",
        Payload=json.dumps(
            {
                "type": "REQUEST",
                "queryStringParameters": {"ticket": "nope"},
                "methodArn": "arn:aws:execute-api:x",
            }
        ).encode(),
    )
    assert refused["FunctionError"] == "Unhandled"
    assert json.loads(refused["Payload"].read())["errorMessage"] == "Unauthorized"


def test_batch_job_submit_describe_terminate(local_stack: LocalStackProcess) -> None:
    batch = local_stack.client("batch")
    # Given a tiny job definition whose command starts, prints and waits
    batch.register_job_definition(
        jobDefinitionName="e2e-sleeper",
        type="container",
        containerProperties={
            "image": "local",
            "command": [
                "python",
                "-c",
                "import time; print('frame Ref::frame started', flush=True); time.sleep(60)",
            ],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
    )

    # When it is submitted and runs
    job = batch.submit_job(
        jobName="sleeper",
        jobQueue=local_stack.env["BATCH_JOB_QUEUE_ARN"],
        jobDefinition="e2e-sleeper",
        parameters={"frame": "101"},
    )
    deadline = time.monotonic() + 30
    while (described := batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0])["status"] != "RUNNING":
        assert time.monotonic() < deadline, described["status"]
        time.sleep(0.2)
    log = Path(described["container"]["logStreamName"])
    while "started" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the job printed nothing"
        time.sleep(0.2)

    # Then terminating it stops the process and fails the job with the reason
    batch.terminate_job(jobId=job["jobId"], reason="Cancelled from the e2e test")
    while (described := batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0])["status"] != "FAILED":
        assert time.monotonic() < deadline, described["status"]
        time.sleep(0.2)
    assert described["statusReason"] == "Cancelled from the e2e test"
    assert "frame 101 started" in log.read_text()
    assert log.parent == local_stack.state_dir / "batch-logs"


def test_batch_jobs_find_ffmpeg_on_their_path(local_stack: LocalStackProcess) -> None:
    batch = local_stack.client("batch")
    # Given a job definition whose command is plain `ffmpeg -version`
    batch.register_job_definition(
        jobDefinitionName="e2e-ffmpeg",
        type="container",
        containerProperties={
            "image": "local",
            "command": ["ffmpeg", "-hide_banner", "-version"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        },
    )

    # When it runs
    job = batch.submit_job(
        jobName="ffmpeg", jobQueue=local_stack.env["BATCH_JOB_QUEUE_ARN"], jobDefinition="e2e-ffmpeg"
    )
    deadline = time.monotonic() + 30
    while (described := batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0])["status"] not in (
        "SUCCEEDED",
        "FAILED",
    ):
        assert time.monotonic() < deadline, described["status"]
        time.sleep(0.2)

    # Then it succeeded with the local FFmpeg
    assert described["status"] == "SUCCEEDED", Path(described["container"]["logStreamName"]).read_text()
    assert "ffmpeg version" in Path(described["container"]["logStreamName"]).read_text()
