"""Tenancy on every route: studio B's ADMIN with studio A's ids gets 404, never 200, 403 or 500.

The matrix is driven by :func:`keyframe.registry.endpoints`, so a route added later is covered with
no change here, unless it takes a path or query parameter this module has no value for, or needs a
request body: then :func:`test_every_id_parameter_has_a_value_of_studio_a` or
:func:`test_every_route_with_a_request_body_has_a_minimal_valid_one` fails and says what to add to
:data:`ID_VALUES` or :data:`BODIES`.

One moto world serves the whole module (setup is the costly part). Studio A and studio B each own one
of every kind of thing: a project, two assets with a dependency between them, a READY version 1 made
by a (stand-in) pipeline run, an open upload, a render job, a comment, a member and a room. Studio
A's world is never written to: B's requests must all fail, and the owner's own checks are reads.

Powertools validates a request before the route runs, so a 404 answer also proves that the body sent
was valid: the 404 comes from tenancy, not from validation.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import pytest

from keyframe import registry, settings
from keyframe.local.apigateway import GatewayResponse
from tests.support.identity import Session, add_member, invite, register_studio
from tests.support.world import moto_world

# --------------------------------------------------------------------------------------------- world


@dataclass(frozen=True)
class Studio:
    """One studio's signed-in ADMIN and the ids of one of every kind of thing it owns."""

    admin: Session
    member_id: str
    project_id: str
    asset_id: str
    uses_id: str
    """The asset ``asset_id`` depends on."""
    version: int
    upload_id: str
    render_job_id: str
    comment_id: str
    invitation_id: str
    """A pending invitation."""
    session_id: str
    """The ADMIN's session."""
    webhook_id: str
    """An outbound webhook endpoint (to a closed port on 127.0.0.1: its ping is only queued)."""
    delivery_id: str
    """The endpoint's test ping delivery."""
    policy_id: str
    """A render policy of the project."""

    @property
    def room(self) -> str:
        """The live room of the asset."""
        return f"asset:{self.asset_id}"


@dataclass(frozen=True)
class World:
    """Studio A (the owner of every id) and studio B (the stranger) in one moto world."""

    api: Any
    a: Studio
    b: Studio


ID_VALUES: dict[str, Callable[[Studio], str]] = {
    "projectId": lambda s: s.project_id,
    "assetId": lambda s: s.asset_id,
    "dependsOnId": lambda s: s.uses_id,
    "version": lambda s: str(s.version),
    "uploadId": lambda s: s.upload_id,
    "renderJobId": lambda s: s.render_job_id,
    "commentId": lambda s: s.comment_id,
    "userId": lambda s: s.member_id,
    "invitationId": lambda s: s.invitation_id,
    "sessionId": lambda s: s.session_id,
    "webhookId": lambda s: s.webhook_id,
    "deliveryId": lambda s: s.delivery_id,
    "policyId": lambda s: s.policy_id,
    "studioId": lambda s: s.admin.studio_id,
    "room": lambda s: s.room,
    "actorId": lambda s: s.member_id,
    "name": lambda s: "thumbnail",
}
"""Every path or query parameter that names something of a studio -> that studio's value.

A route with a parameter missing here fails :func:`test_every_id_parameter_has_a_value_of_studio_a`:
add the new parameter (and, if it names a new kind of thing, create one in :func:`_build_studio`)."""

NOT_IDS: frozenset[str] = frozenset({"version", "name"})
"""Parameters that only qualify an id (a version number, a derived file's kind): equal in both studios,
so the mixed matrix does not swap them."""

OPEN_UPLOAD = {"fileName": "shot_020.mov", "size": 1024, "contentType": "video/quicktime"}

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/studio/webhooks/{webhookId}"): {"active": False},
    ("POST", "/projects/{projectId}/render-policies"): {"assetTypes": ["SHOT"], "presets": ["hls"]},
    ("PATCH", "/projects/{projectId}/render-policies/{policyId}"): {"enabled": False},
    ("PATCH", "/projects/{projectId}"): {"name": "Renamed"},
    ("PATCH", "/assets/{assetId}"): {"name": "Renamed"},
    ("PATCH", "/assets/{assetId}/rollback"): {"version": 1},
    ("PUT", "/assets/{assetId}/dependencies/{dependsOnId}"): {"note": "uses"},
    ("POST", "/assets/{assetId}/renders"): {"preset": "hls"},
    ("PUT", "/me/playback/{renderJobId}"): {"positionSeconds": 12.5},
    ("POST", "/assets/{assetId}/uploads"): OPEN_UPLOAD,
    ("POST", "/assets/{assetId}/uploads/{uploadId}/complete"): {"parts": [{"partNumber": 1, "etag": "e1"}]},
    ("POST", "/assets/{assetId}/versions/{version}/comments"): {"body": "Too dark in the last shot"},
    ("POST", "/assets/{assetId}/versions/{version}/review"): {"decision": "APPROVED"},
    ("PATCH", "/comments/{commentId}"): {"resolved": True},
    ("PATCH", "/studio/members/{userId}"): {"role": "VIEWER"},
}
"""A minimal VALID body per (method, path) of a route that takes one; others are sent with none."""

QUERY_XFAIL: dict[tuple[str, str], str] = {}
"""(path, query parameter) -> why the route does not answer 404 for another studio's id yet (each
becomes a strict xfail, so the fix turns it into a failure until the entry is removed). Empty: every
list answers 404 for another studio's id (``GET /renders?assetId`` was fixed while this was written)."""

QUERY_NOT_RESOURCES: dict[tuple[str, str], str] = {
    ("/activity", "actorId"): (
        "a filter on who acted, not a resource: a former member's id has activity but no membership, "
        "so a foreign id cannot be told from a departed one; it must just find nothing"
    ),
}
"""Query parameters naming a studio's thing for which 200 with no items is the right answer."""

CORRELATION_ID = "cross-studio-matrix"
RENDER_MEDIA = {"duration": 2.0, "frameCount": 48, "fps": 24, "width": 1280, "height": 720}


def _expect(response: GatewayResponse, status: int, what: str) -> dict[str, Any]:
    assert response.status == status, f"{what}: expected {status}, got {response.status}: {response.body!r}"
    return response.json()


def _ready_version_from_a_pipeline(session: Session, asset_id: str) -> int:
    """Version 1 of ``asset_id``: a real object (and thumbnail) in the bucket, published and made
    READY through the domain functions by a SUCCEEDED pipeline run (so ``GET …/pipeline`` finds it)."""
    from keyframe.catalog.versions import FileInfo, mark_version_ready, publish_version
    from keyframe.pipeline import service
    from keyframe.pipeline.starter import PipelineInput
    from tests.support.environment import MEDIA_BUCKET

    data = b"\x00\x00\x00\x18ftypmp42" + uuid.uuid4().bytes
    upload_id = str(uuid.uuid4())
    key = f"studios/{session.studio_id}/assets/{asset_id}/uploads/{upload_id}/shot.mp4"
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=data, ContentType="video/mp4")
    record, _ = service.create(
        PipelineInput(
            studio_id=session.studio_id,
            asset_id=asset_id,
            upload_id=upload_id,
            bucket=MEDIA_BUCKET,
            key=key,
            size=len(data),
            file_name="shot.mp4",
            declared_content_type="video/mp4",
            sha256=None,
            change_note="first pass",
            created_by=session.user_id,
        )
    )
    version = publish_version(
        session.studio_id,
        asset_id,
        created_by=session.user_id,
        upload_id=upload_id,
        file=FileInfo(key=key, size=len(data), content_type="video/mp4", file_name="shot.mp4"),
    ).version
    thumbnail = f"studios/{session.studio_id}/assets/{asset_id}/derived/{upload_id}/thumbnail.jpg"
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=thumbnail, Body=b"\xff\xd8\xff\xd9")
    derived = {"thumbnail": thumbnail}
    mark_version_ready(session.studio_id, asset_id, version, media=RENDER_MEDIA, derived=derived)
    record.update(actions=service.set_version(session.studio_id, asset_id, version))
    service.finish_succeeded(record)
    return version


def _build_studio(api: Any, name: str, code: str) -> Studio:
    """A studio with one of every kind of thing, made through the API where a client would."""
    admin = register_studio(api, studio_name=name)
    token = admin.access_token
    member = add_member(api, admin, "ARTIST")
    invitation_id = invite(api, admin, "VIEWER")["invitationId"]
    project_id = _expect(
        api.post("/projects", json={"name": name, "code": code}, token=token), 201, "project"
    )["id"]

    def asset(asset_name: str) -> str:
        body = {"projectId": project_id, "name": asset_name, "type": "SHOT"}
        return _expect(api.post("/assets", json=body, token=token), 201, "asset")["id"]

    asset_id, uses_id = asset("Shot 010"), asset("Forest set")
    _expect(api.put(f"/assets/{asset_id}/dependencies/{uses_id}", json={}, token=token), 201, "dependency")
    version = _ready_version_from_a_pipeline(admin, asset_id)
    upload_id = _expect(
        api.post(f"/assets/{asset_id}/uploads", json=OPEN_UPLOAD, token=token), 201, "upload"
    )["uploadId"]
    render_job_id = _expect(
        api.post(f"/assets/{asset_id}/renders", json={"preset": "hls"}, token=token), 202, "render"
    )["renderJobId"]
    comment_id = _expect(
        api.post(f"/assets/{asset_id}/versions/{version}/comments", json={"body": "Nice"}, token=token),
        201,
        "comment",
    )["commentId"]
    webhook_id = _expect(
        api.post("/studio/webhooks", json={"url": "http://127.0.0.1:9/keyframe"}, token=token),
        201,
        "webhook",
    )["webhookId"]
    delivery_id = _expect(api.post(f"/studio/webhooks/{webhook_id}/test", token=token), 202, "ping")[
        "deliveryId"
    ]
    policy_id = _expect(
        api.post(
            f"/projects/{project_id}/render-policies",
            json={"assetTypes": ["SHOT"], "presets": ["hls"], "enabled": False},
            token=token,
        ),
        201,
        "render policy",
    )["policyId"]
    return Studio(
        admin=admin,
        policy_id=policy_id,
        webhook_id=webhook_id,
        delivery_id=delivery_id,
        member_id=member.user_id,
        project_id=project_id,
        asset_id=asset_id,
        uses_id=uses_id,
        version=version,
        upload_id=upload_id,
        render_job_id=render_job_id,
        comment_id=comment_id,
        invitation_id=invitation_id,
        session_id=_expect(api.get("/me/sessions", token=token), 200, "sessions")["items"][0]["sessionId"],
    )


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """One moto world for the module: studio A and studio B, each fully stocked (see :class:`Studio`).

    Render jobs start a one-state stand-in of the render state machine (StartExecution is real;
    Batch cannot run in-process); passwords are hashed at argon2's lowest cost.
    """
    with moto_world(execute_state_machines=True) as api, pytest.MonkeyPatch.context() as mp:
        arn = boto3.client("stepfunctions").create_state_machine(
            name="keyframe-test-render",
            definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/keyframe-test-states",
        )["stateMachineArn"]
        mp.setenv("RENDER_STATE_MACHINE_ARN", arn)
        mp.setenv("WEBHOOK_ALLOW_LOCAL_HTTP", "true")  # the studios' endpoints are on 127.0.0.1
        settings.reset()
        built = World(api, _build_studio(api, "Studio A", "A"), _build_studio(api, "Studio B", "B"))
        mp.undo()
        settings.reset()
        yield built


# --------------------------------------------------------------------------------------------- routes


def _path_params(path: str) -> list[str]:
    return re.findall(r"{([^}/+]+)\+?}", path)


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{([^}/+]+)\+?}", lambda m: values[m.group(1)], path)


ID_ROUTES: list[registry.Endpoint] = [
    e for e in registry.endpoints() if not e.public and _path_params(e.path)
]
"""Every route behind the authorizer that names something in its path."""

READ_ROUTES: list[registry.Endpoint] = [e for e in ID_ROUTES if e.method == "GET"]


def _route_id(endpoint: registry.Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


@cache
def _openapi_operations() -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) -> its OpenAPI operation, for every API function (as the registry reads them)."""
    from keyframe.http.app import KeyframeResolver

    operations: dict[tuple[str, str], dict[str, Any]] = {}
    for spec in registry.api_functions():
        app = KeyframeResolver(enable_validation=True)
        for router in registry.routers_of(spec):
            app.include_router(router)
        schema = json.loads(app.get_openapi_json_schema())
        for path, item in schema["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and method in ("get", "put", "post", "patch", "delete"):
                    operations[(method.upper(), path)] = operation
    return operations


def _query_id_cases() -> list[tuple[str, str]]:
    """(path, query parameter) of every authorised GET route whose query names a studio's thing."""
    cases = []
    for endpoint in registry.endpoints():
        if endpoint.public or endpoint.method != "GET":
            continue
        for parameter in _openapi_operations()[(endpoint.method, endpoint.path)].get("parameters", []):
            if parameter["in"] == "query" and parameter["name"].endswith("Id"):
                cases.append((endpoint.path, parameter["name"]))
    return cases


QUERY_ID_CASES = _query_id_cases()


def _send(world: World, session: Session, method: str, path: str, values: dict[str, str]) -> GatewayResponse:
    body = BODIES.get((method, path))
    return world.api.request(
        method,
        _fill(path, values),
        json_body=body,
        token=session.access_token,
        headers={"X-Correlation-Id": CORRELATION_ID},
    )


def _ids(studio: Studio, path: str) -> dict[str, str]:
    return {name: ID_VALUES[name](studio) for name in _path_params(path) if name in ID_VALUES}


def _assert_not_found(response: GatewayResponse, what: str) -> None:
    """404 in the one error shape, with the request's correlation id."""
    assert response.status == 404, (
        f"{what}: studio B got {response.status} with studio A's ids (must be 404): {response.body[:400]!r}"
    )
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "details", "correlationId"}, error
    assert error["code"] and error["message"], error
    assert error["code"] != "ROUTE_NOT_FOUND", f"{what}: the path did not match a route: {error}"
    assert error["correlationId"] == CORRELATION_ID, error


# --------------------------------------------------------------------------------------------- tables


def test_every_id_parameter_has_a_value_of_studio_a() -> None:
    # Given every route's path parameters and its query parameters that name a thing ("…Id")
    used = {name for e in ID_ROUTES for name in _path_params(e.path)} | {name for _, name in QUERY_ID_CASES}
    # Then the matrix knows a value of studio A for each
    unknown = sorted(used - set(ID_VALUES))
    assert not unknown, (
        f"routes take parameters the cross-studio matrix has no value for: {unknown}. Add each to ID_VALUES "
        "in tests/integration/test_cross_studio_matrix.py (and create the thing in _build_studio)."
    )


def test_every_route_with_a_request_body_has_a_minimal_valid_one() -> None:
    # Given the routes of the matrix that declare a required request body
    needing = {
        _route_id(e)
        for e in ID_ROUTES
        if _openapi_operations()[(e.method, e.path)].get("requestBody", {}).get("required")
    }
    # Then each has a body, so its 404 cannot be a validation 400 in disguise
    missing = sorted(needing - {f"{m} {p}" for m, p in BODIES})
    assert not missing, f"add a minimal valid body to BODIES for: {missing}"


def test_the_matrix_covers_routes_of_every_domain() -> None:
    # Then the registry gave the matrix routes of every API function that serves ids (a guard
    # against an empty or truncated parametrisation passing vacuously)
    functions = {e.function for e in ID_ROUTES}
    domains = {"catalog-api", "uploads-api", "renders-api", "reviews-api", "pipeline-api", "identity-api"}
    assert domains <= functions, sorted(domains - functions)


# --------------------------------------------------------------------------------------------- matrix
# Reads by the owners come first: B's writes below must all fail, but if one wrongly succeeded it
# must not change what these sanity checks see.


@pytest.mark.parametrize("owner", ["a", "b"])
@pytest.mark.parametrize("endpoint", READ_ROUTES, ids=_route_id)
def test_the_owner_reads_its_own_ids(world: World, endpoint: registry.Endpoint, owner: str) -> None:
    # Given a studio's ADMIN and that studio's ids
    studio: Studio = getattr(world, owner)
    # When they read the route
    response = _send(world, studio.admin, endpoint.method, endpoint.path, _ids(studio, endpoint.path))
    # Then the ids are real: anything but 404 (playback of a job that has not finished is 409)
    assert response.status != 404 and response.status < 500, (
        f"{_route_id(endpoint)}: the owner got {response.status}: {response.body[:400]!r}"
    )


@pytest.mark.parametrize("endpoint", ID_ROUTES, ids=_route_id)
def test_another_studio_gets_404_with_studio_a_ids(world: World, endpoint: registry.Endpoint) -> None:
    # Given studio B's ADMIN and studio A's ids in the path (and a valid body where one is needed)
    missing = [name for name in _path_params(endpoint.path) if name not in ID_VALUES]
    if missing:
        pytest.fail(f"{_route_id(endpoint)}: no value for {missing}; add them to ID_VALUES")
    # When B calls the route
    response = _send(world, world.b.admin, endpoint.method, endpoint.path, _ids(world.a, endpoint.path))
    # Then 404 in the one error shape: A's things do not exist for B
    _assert_not_found(response, _route_id(endpoint))


def _mixed_cases() -> list[Any]:
    """(route, parameter): B's own ids in the path, except ``parameter`` which is A's."""
    cases = []
    for endpoint in ID_ROUTES:
        names = [n for n in _path_params(endpoint.path) if n not in NOT_IDS]
        if len(names) > 1:
            cases += [pytest.param(endpoint, n, id=f"{_route_id(endpoint)} [{n} of A]") for n in names]
    return cases


@pytest.mark.parametrize(("endpoint", "foreign"), _mixed_cases())
def test_one_foreign_id_among_own_ids_is_404(world: World, endpoint: registry.Endpoint, foreign: str) -> None:
    # Given studio B's ADMIN, B's own ids in the path but one of A's (e.g. B's asset uses A's asset)
    values = _ids(world.b, endpoint.path) | {foreign: ID_VALUES[foreign](world.a)}
    # When B calls the route
    response = _send(world, world.b.admin, endpoint.method, endpoint.path, values)
    # Then 404: a studio cannot reach into another one through an id of its own
    _assert_not_found(response, f"{_route_id(endpoint)} with {foreign} of A")


def _query_params() -> list[Any]:
    cases = []
    for path, name in QUERY_ID_CASES:
        if (path, name) in QUERY_NOT_RESOURCES:
            continue
        marks = []
        if (path, name) in QUERY_XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=QUERY_XFAIL[(path, name)]))
        cases.append(pytest.param(path, name, marks=marks, id=f"GET {path}?{name}"))
    return cases


@pytest.mark.parametrize(("path", "name"), [pytest.param(p, n, id=f"GET {p}?{n}") for p, n in QUERY_ID_CASES])
def test_a_list_filtered_by_another_studios_id_leaks_nothing(world: World, path: str, name: str) -> None:
    # Given studio B's ADMIN and an id of studio A in the list's query
    url = f"{path}?{name}={ID_VALUES[name](world.a)}"
    # When B lists
    response = world.api.get(url, token=world.b.admin.access_token)
    # Then nothing of A comes back: 404, or (where a foreign id may not be told apart) no items
    assert response.status in (200, 404), f"GET {url}: {response.status}: {response.body[:400]!r}"
    if response.status == 200:
        assert response.json()["items"] == [], f"GET {path}?{name}: studio A's items leaked to studio B"
    # And A's owner, with the same query, gets a 200 list (the id is real)
    assert world.api.get(url, token=world.a.admin.access_token).status == 200


@pytest.mark.parametrize(("path", "name"), _query_params())
def test_a_list_filtered_by_another_studios_id_is_404(world: World, path: str, name: str) -> None:
    # Given studio B's ADMIN and an id of studio A in the list's query
    response = world.api.get(
        f"{path}?{name}={ID_VALUES[name](world.a)}",
        token=world.b.admin.access_token,
        headers={"X-Correlation-Id": CORRELATION_ID},
    )
    # Then 404, as for the same id in a path
    _assert_not_found(response, f"GET {path}?{name}")


def test_ids_of_another_studio_in_a_body_are_404(world: World) -> None:
    # Given studio B's ADMIN
    token = world.b.admin.access_token
    # When B creates an asset in A's project
    asset = world.api.post(
        "/assets", json={"projectId": world.a.project_id, "name": "Intruder", "type": "PROP"}, token=token,
        headers={"X-Correlation-Id": CORRELATION_ID},
    )  # fmt: skip
    # Then 404
    _assert_not_found(asset, "POST /assets with projectId of A")
    # When B replies, on B's own version, to A's comment
    reply = world.api.post(
        f"/assets/{world.b.asset_id}/versions/{world.b.version}/comments",
        json={"body": "Agreed", "parentId": world.a.comment_id},
        token=token,
        headers={"X-Correlation-Id": CORRELATION_ID},
    )
    # Then 404
    _assert_not_found(reply, "POST …/comments with parentId of A")


def _state_of(world: World, studio: Studio) -> dict[str, Any]:
    """What B's writes would have changed in ``studio``, read by its owner."""
    token = studio.admin.access_token

    def read(url: str) -> Any:
        response = world.api.get(url, token=token)
        assert response.status == 200, f"GET {url}: {response.status}: {response.body[:400]!r}"
        return response.json()

    project = read(f"/projects/{studio.project_id}")
    asset = read(f"/assets/{studio.asset_id}")
    comments = read(f"/assets/{studio.asset_id}/versions/{studio.version}/comments")
    members = read("/studio/members")
    return {
        "project": (project["name"], project["archived"]),
        "asset": (asset["name"], asset["status"], asset["currentVersion"], asset["archived"]),
        "versions": [
            (v["version"], v["status"]) for v in read(f"/assets/{studio.asset_id}/versions")["items"]
        ],
        "dependencies": read(f"/assets/{studio.asset_id}/dependencies"),
        "upload": read(f"/assets/{studio.asset_id}/uploads/{studio.upload_id}")["status"],
        "render": read(f"/renders/{studio.render_job_id}")["status"],
        "comments": comments,
        "reviews": read(f"/assets/{studio.asset_id}/versions/{studio.version}/reviews"),
        "members": members,
    }


def test_studio_a_is_unchanged_by_every_refused_request(world: World) -> None:
    # Given every request of studio B above was refused (this test runs last in the module)
    # Then studio A's owner still sees its world as it was built: a 404 hid no write
    state = _state_of(world, world.a)
    assert state["project"] == ("Studio A", False)
    assert state["asset"] == ("Shot 010", "PENDING_REVIEW", 1, False)
    assert state["versions"] == [(1, "READY")]
    assert [d["assetId"] for d in state["dependencies"]["items"]] == [world.a.uses_id]
    assert state["upload"] == "OPEN"
    assert state["render"] == "QUEUED"
    assert [(c["commentId"], c["body"], c["resolved"]) for c in state["comments"]["items"]] == [
        (world.a.comment_id, "Nice", False)
    ]
    assert state["reviews"]["items"] == []
    roles = {m["userId"]: m["role"] for m in state["members"]["items"]}
    assert roles == {world.a.admin.user_id: "ADMIN", world.a.member_id: "ARTIST"}


def test_another_person_s_avatar_upload_is_not_found(world: World) -> None:
    # Given a picture file studio A's ADMIN uploaded (an upload names no studio: it is its uploader's)
    from keyframe.identity.avatars import upload_key
    from tests.support.environment import MEDIA_BUCKET

    started = _expect(world.api.post("/me/avatar/uploads", token=world.a.admin.access_token), 201, "upload")
    key = upload_key(world.a.admin.user_id, started["uploadId"])
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=b"\x89PNG\r\n\x1a\n")
    # When studio B's ADMIN names it / Then 404 in the error shape, and A's file is untouched
    answer = world.api.request(
        "PUT",
        "/me/avatar",
        json_body={"uploadId": started["uploadId"]},
        token=world.b.admin.access_token,
        headers={"X-Correlation-Id": CORRELATION_ID},
    )
    _assert_not_found(answer, "PUT /me/avatar")
    assert boto3.client("s3").head_object(Bucket=MEDIA_BUCKET, Key=key)["ContentLength"] == 8
