"""Lambda-faithful concurrency on the local stack: hundreds of mixed requests at once, none mixed up.

Each function runs in its own execution environments, one request at a time (as in Lambda), so a
request's status, body and log lines are its own even when dozens run at once. Every request here
carries something only it can answer with (its own e-mail, its own project code, its own studio),
and those answering with an error carry their own correlation id into the handlers' JSON log.
"""

from __future__ import annotations

import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

THREADS = 24
PASSWORD = "concurrency-test-password"


@dataclass
class Account:
    email: str
    studio_id: str
    user_id: str
    token: str


@dataclass
class Call:
    kind: str
    method: str
    path: str
    body: dict[str, Any] | None
    token: str | None
    expected_status: int
    correlation_id: str
    expect: dict[str, Any]


def _register(api: str, run: str, index: int) -> Account:
    email = f"conc-{run}-{index}@example.com"
    body = {"studioName": f"Conc {run} {index}", "email": email, "password": PASSWORD, "displayName": "C"}
    answer = requests.post(f"{api}/auth/register", json=body, timeout=60)
    assert answer.status_code == 201, answer.text
    data = answer.json()
    return Account(email, data["studio"]["studioId"], data["user"]["userId"], data["accessToken"])


def _calls(accounts: list[Account], run: str) -> list[Call]:
    """250 calls: 40 of each kind, but 10 registrations (hashing a password is the costly part)."""
    calls: list[Call] = []
    cid = lambda: str(uuid.uuid4())  # noqa: E731
    for i in range(40):
        me = accounts[i % len(accounts)]
        code = f"C{i:03d}"
        calls += [
            Call("me", "GET", "/me", None, me.token, 200, cid(),
                 {"userId": me.user_id, "studioId": me.studio_id}),
            Call("create-project", "POST", "/projects", {"name": f"Project {code}", "code": code}, me.token,
                 201, cid(), {"code": code, "createdBy": me.user_id}),
            Call("list-projects", "GET", "/projects", None, me.token, 200, cid(), {"studioId": me.studio_id}),
            Call("missing-project", "GET", f"/projects/missing-{i}", None, me.token, 404, cid(),
                 {"error_code": "PROJECT_NOT_FOUND", "function": "catalog-api"}),
            Call("missing-member", "PATCH", f"/studio/members/missing-{i}", {"role": "ARTIST"}, me.token,
                 404, cid(), {"function": "identity-api"}),
            Call("no-token", "GET", "/me", None, None, 401, cid(), {}),
        ]  # fmt: skip
    for i in range(10):
        email = f"new-{run}-{i}@example.com"
        body = {"studioName": f"New {run} {i}", "email": email, "password": PASSWORD, "displayName": "N"}
        calls.append(Call("register", "POST", "/auth/register", body, None, 201, cid(), {"email": email}))
    random.Random(7).shuffle(calls)
    return calls


def _send(api: str, call: Call) -> tuple[int, Any]:
    headers = {"X-Correlation-Id": call.correlation_id}
    if call.token:
        headers["Authorization"] = f"Bearer {call.token}"
    response = requests.request(
        call.method, f"{api}{call.path}", json=call.body, headers=headers, timeout=120
    )
    return response.status_code, response.json()


def _mismatch(call: Call, status: int, body: Any, projects: dict[str, set[str]]) -> str | None:
    """What is wrong with the answer to ``call`` (None if it is its own)."""
    if status != call.expected_status:
        return f"status {status}, expected {call.expected_status}: {body}"
    if call.kind == "me":
        ok = (
            body["user"]["userId"] == call.expect["userId"]
            and body["studio"]["studioId"] == call.expect["studioId"]
        )
    elif call.kind == "register":
        ok = body["user"]["email"] == call.expect["email"]
    elif call.kind == "create-project":
        ok = body["code"] == call.expect["code"] and body["createdBy"] == call.expect["createdBy"]
    elif call.kind == "list-projects":
        ok = {p["id"] for p in body["items"]} <= projects[call.expect["studioId"]]
    else:
        ok = body["error"]["correlationId"] == call.correlation_id
    return None if ok else f"a body that is not its own: {body}"


@pytest.mark.slow
def test_hundreds_of_concurrent_mixed_requests_each_get_their_own_answer(
    local_stack: LocalStackProcess,
) -> None:
    # Given a few studios, each with its admin signed in
    api, run = local_stack.http_url, uuid.uuid4().hex[:8]
    with ThreadPoolExecutor(4) as pool:
        accounts = list(pool.map(lambda i: _register(api, run, i), range(4)))
    calls = _calls(accounts, run)
    log_start = local_stack.log_path.stat().st_size

    # When 250 requests of seven kinds are sent 24 at a time, shuffled
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(lambda c: _send(api, c), calls))

    # Then every status and body belongs to its own request
    projects: dict[str, set[str]] = {a.studio_id: set() for a in accounts}  # each new studio's projects
    by_token = {a.token: a.studio_id for a in accounts}
    for call, (status, body) in zip(calls, answers, strict=True):
        if call.kind == "create-project" and status == 201:
            projects[by_token[call.token or ""]].add(body["id"])
    wrong = [
        (c.kind, m) for c, (s, b) in zip(calls, answers, strict=True) if (m := _mismatch(c, s, b, projects))
    ]
    assert wrong == [], f"{len(wrong)} of {len(calls)} answers were not their own: {wrong[:5]}"

    # And each refused request's log line carries its own correlation id, function and request id
    with local_stack.log_path.open("rb") as log:
        log.seek(log_start)
        lines = [
            json.loads(line)
            for line in log.read().decode(errors="replace").splitlines()
            if line.startswith("{")
        ]
    logged = {line.get("correlation_id"): line for line in lines if line.get("message") == "request failed"}
    for call in (c for c in calls if "function" in c.expect):
        line = logged.get(call.correlation_id)
        assert line is not None, f"no log line for {call.kind} {call.correlation_id}"
        assert line["function_name"] == f"keyframe-local-{call.expect['function']}", line
        if "error_code" in call.expect:
            assert line["error_code"] == call.expect["error_code"], line
    request_ids = [logged[c.correlation_id]["function_request_id"] for c in calls if "function" in c.expect]
    assert len(set(request_ids)) == len(request_ids)


def _create_asset(api: str, token: str, project_id: str, name: str) -> int:
    body = {"projectId": project_id, "name": name, "type": "PROP"}
    answer = requests.post(
        f"{api}/assets", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120
    )
    return answer.status_code


@pytest.mark.slow  # like the hundreds of requests below
def test_concurrent_asset_creates_on_the_local_stack(local_stack: LocalStackProcess) -> None:
    # Given a studio with one project
    api, run = local_stack.http_url, uuid.uuid4().hex[:8]
    admin = _register(api, run, 0)
    auth = {"Authorization": f"Bearer {admin.token}"}
    project = requests.post(f"{api}/projects", json={"name": "Crowd", "code": "CR"}, headers=auth, timeout=60)
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]

    # When 40 assets with distinct names are created 16 at a time (issue 9: several answered 500)
    with ThreadPoolExecutor(16) as pool:
        distinct = list(
            pool.map(lambda i: _create_asset(api, admin.token, project_id, f"Extra {i}"), range(40))
        )
    # And 20 with one name at once (issue 9: 20 assets were made)
    with ThreadPoolExecutor(20) as pool:
        same = list(pool.map(lambda _: _create_asset(api, admin.token, project_id, "Hero"), range(20)))

    # Then every distinct name is created, and exactly one of the same name
    assert distinct == [201] * 40
    assert sorted(same) == [201] + [409] * 19
    listed = requests.get(
        f"{api}/assets", params={"projectId": project_id, "limit": 100}, headers=auth, timeout=60
    )
    assert sorted(a["name"] for a in listed.json()["items"]).count("Hero") == 1
    assert len(listed.json()["items"]) == 41
