"""Issue 9, "Done when": generated bad and odd bodies to every write route, as each role.

Every REST route that takes a JSON body (read from the generated OpenAPI document, so a new route
is covered without editing this file) gets bodies hypothesis builds from the route's own schema:
each field set to an odd value (null, the wrong JSON type, control characters, lone surrogates,
huge numbers, deep nesting, unknown keys) or to a plausible one, plus raw bodies that are not
UTF-8, repeat a key, nest too deep or carry another media type. Sent as every role and anonymously.

The properties: no answer is a server error (5xx), every answer is in the one error shape, after
every refused request (4xx) the project, the asset, its versions and comments, the members and their
listings read back exactly as before, and no accepted request leaves a record that a read cannot
parse (the ``UnreadableRecords`` metric stays at zero).

Bounded time: a fixed profile (derandomised, no example database, ``MAX_EXAMPLES`` per route).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keyframe import settings as keyframe_settings
from tests.support.identity import Session, add_member, register_studio
from tests.support.world import moto_world

# generated bodies to every route as every role, like schemathesis: in `make test-slow` (CI runs it)
pytestmark = [pytest.mark.slow]

MAX_EXAMPLES = 10
"""Examples per route (19 routes with a body: a few tens of seconds in all on an idle machine)."""

settings.register_profile(
    "keyframe-bodies",
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = settings.get_profile("keyframe-bodies")

ROLES = ("ADMIN", "PRODUCER", "DIRECTOR", "ARTIST", "VIEWER", None)
"""Each role of a studio, and no token at all."""


@dataclass
class World:
    """One studio with a member of each role, a project, two assets (one version, one comment)."""

    api: Any
    tokens: dict[str | None, str | None]
    ids: dict[str, str]
    reads: list[str]
    snapshot: dict[str, Any] = field(default_factory=dict)
    unreadable: list[dict[str, Any]] = field(default_factory=list)

    def read_back(self, paths: list[str] | None = None) -> dict[str, Any]:
        """What a user sees of the world: the reads ``paths`` (default: all), as the ADMIN."""
        seen = {}
        for path in self.reads if paths is None else paths:
            response = self.api.get(path, token=self.tokens["ADMIN"])
            assert response.status == 200, (path, response.status, response.body)
            seen[path] = _without_signatures(response.json())
        return seen


def _without_signatures(value: Any) -> Any:
    """``value`` with every presigned link reduced to what it points at.

    A listing signs its thumbnail links afresh on every read (new ``X-Amz-Date``, new ``expiresAt``),
    so two reads of an unchanged resource differ only there; the object a link names must not.
    """
    if isinstance(value, dict):
        if isinstance(value.get("url"), str) and "expiresAt" in value:
            return {"url": value["url"].split("?", 1)[0]}
        return {
            # a profile picture's link (keyframe.identity.avatars) is signed afresh on every read too
            key: item.split("?", 1)[0]
            if key == "avatarUrl" and isinstance(item, str)
            else _without_signatures(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_signatures(item) for item in value]
    return value


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from tests.integration.catalog.conftest import publish

    patcher = pytest.MonkeyPatch()
    with moto_world(execute_state_machines=True) as api:
        admin = register_studio(api)
        members: dict[str, Session] = {role: add_member(api, admin, role) for role in ROLES[1:-1]}
        spare = add_member(api, admin, "ARTIST")  # the {userId} of member routes, never the ADMIN
        token = admin.access_token
        project = api.post("/projects", json={"name": "Props", "code": "PR"}, token=token).json()
        asset, other = (
            api.post(
                "/assets", json={"projectId": project["id"], "name": n, "type": "PROP"}, token=token
            ).json()
            for n in ("Lamp", "Chair")
        )
        version = publish(admin, asset["id"])
        comment = api.post(
            f"/assets/{asset['id']}/versions/{version}/comments", json={"body": "first"}, token=token
        ).json()
        opened = api.post(
            f"/assets/{asset['id']}/uploads",
            json={"fileName": "lamp.mov", "size": 1024, "contentType": "video/quicktime"},
            token=token,
        ).json()
        patcher.setenv("WEBHOOK_ALLOW_LOCAL_HTTP", "true")  # the endpoint below is on 127.0.0.1
        keyframe_settings.reset()
        webhook = api.post(
            "/studio/webhooks", json={"url": "http://127.0.0.1:9/keyframe"}, token=token
        ).json()
        policy = api.post(
            f"/projects/{project['id']}/render-policies",
            json={"assetTypes": ["PROP"], "presets": ["hls"], "enabled": False},
            token=token,
        ).json()
        ids = {
            "policyId": policy["policyId"],
            "webhookId": webhook["webhookId"],
            "projectId": project["id"],
            "assetId": asset["id"],
            "dependsOnId": other["id"],
            "version": str(version),
            "commentId": comment["commentId"],
            "uploadId": opened.get("uploadId") or opened.get("id") or "missing-upload",
            "userId": spare.user_id,
            "renderJobId": "00000000-0000-4000-8000-000000000000",
        }
        reads = [
            f"/projects/{project['id']}",
            "/projects",
            f"/assets/{asset['id']}",
            f"/assets/{other['id']}",
            f"/assets?projectId={project['id']}",
            f"/assets/{asset['id']}/versions",
            f"/assets/{asset['id']}/versions/{version}/comments",
            "/studio/members",
            f"/studio/webhooks/{webhook['webhookId']}",
            f"/projects/{project['id']}/render-policies",
        ]  # the order _touched() relies on
        tokens: dict[str | None, str | None] = {"ADMIN": token, None: None}
        tokens.update({role: session.access_token for role, session in members.items()})
        built = World(api, tokens, ids, reads)
        built.snapshot = built.read_back()
        _count_unreadable(patcher, built.unreadable)
        yield built
    patcher.undo()


def _count_unreadable(patcher: pytest.MonkeyPatch, found: list[dict[str, Any]]) -> None:
    """Collect every ``UnreadableRecords`` metric: an accepted write must never store a record that
    a later read cannot parse (reads tolerate it, but it is still a bug)."""
    from keyframe.observability import metrics
    from keyframe.storage.pages import UNREADABLE_METRIC

    original = metrics.add_metric

    def add_metric(**kwargs: Any) -> None:
        if kwargs.get("name") == UNREADABLE_METRIC:
            found.append(kwargs)
        original(**kwargs)

    patcher.setattr(metrics, "add_metric", add_metric)


# --- routes and their schemas, from the committed OpenAPI document --------------------------------


def _document() -> dict[str, Any]:
    from keyframe.http.openapi import committed

    return committed()


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return _resolve(document["components"]["schemas"][ref.rsplit("/", 1)[-1]], document)
    return schema


def _write_routes() -> list[tuple[str, str, dict[str, Any]]]:
    document = _document()
    routes = []
    for path, item in sorted(document["paths"].items()):
        for method, operation in sorted(item.items()):
            if method not in ("post", "put", "patch") or "requestBody" not in operation:
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            routes.append((method.upper(), path, _resolve(schema, document)))
    return routes


WRITE_ROUTES = _write_routes()


# --- strategies -----------------------------------------------------------------------------------

ODD_TEXT = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "bell\x07", "line\nbreak", "\ud800", "\u202eevil", "x" * 5000, "../../etc"]
)
ODD_NUMBERS = st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308])


def _odd_value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), ODD_NUMBERS, ODD_TEXT, st.text(max_size=20))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _plausible(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A value of roughly the declared type (enums from the enum) to reach deeper checks."""
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return st.one_of([_plausible(o, depth) for o in options])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(max_size=30)
    if kind == "integer":
        return st.integers(min_value=-5, max_value=10_000)
    if kind == "number":
        return st.sampled_from([24, 25, 29.97, 23.976, 0, -1])
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array" and depth < 2:
        return st.lists(_plausible(schema.get("items") or {}, depth + 1), max_size=3)
    if kind == "object" and depth < 2 and schema.get("properties"):
        return _object(schema, depth + 1)
    return _odd_value()


def _object(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    document = _document()
    properties = {k: _resolve(v, document) for k, v in (schema.get("properties") or {}).items()}
    if not properties:
        return st.dictionaries(st.text(max_size=8), _odd_value(), max_size=3)
    per_field = {name: st.one_of(_plausible(sub, depth), _odd_value()) for name, sub in properties.items()}
    return st.fixed_dictionaries({}, optional=per_field).flatmap(
        lambda body: st.one_of(
            st.just(body),
            st.dictionaries(st.sampled_from(["studioId", "id", "", "x\x00"]), _odd_value(), max_size=1).map(
                lambda extra: {**body, **extra}
            ),
        )
    )


RAW_BODIES = st.sampled_from(
    [
        (b"\xff\xfe{}", "application/json"),
        (b"[" * 200 + b"]" * 200, "application/json"),
        (b'{"a": 1, "a": 2}', "application/json"),
        (b"{", "application/json"),
        (b"NaN", "application/json"),
        (b"{}", "application/json; charset=utf-16"),
        (b"{}", "text/plain"),
        (b"{}", "APPLICATION/JSON"),
        (b"null", "application/json"),
        (b"[]", "application/json"),
        (b'"text"', "application/json"),
    ]
)


def _request(schema: dict[str, Any]) -> st.SearchStrategy[tuple[bytes, str]]:
    as_json = st.one_of(_object(schema), _odd_value()).map(
        lambda v: (json.dumps(v).encode(), "application/json")
    )
    return st.one_of(as_json, as_json, as_json, RAW_BODIES)


def _touched(world: World, path: str) -> list[str]:
    """The reads that show what a request to ``path`` could change: the resource and its listing."""
    project, projects, asset, other, assets, versions, comments, members, webhook, policies = world.reads
    if path.startswith("/studio/webhooks"):
        return [webhook]
    if path.startswith("/projects/{projectId}/render-policies"):
        return [policies]
    if path.startswith("/projects"):
        return [project, projects]
    if path.startswith("/assets/{assetId}/dependencies"):
        return [asset, other]
    if path.startswith("/assets/{assetId}/versions"):
        return [asset, versions, comments]
    if path.startswith(("/assets", "/renders")):
        return [asset, assets, versions]
    if path.startswith("/comments"):
        return [comments]
    return [members]


# --- the property ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "schema"), WRITE_ROUTES, ids=[f"{m} {p}" for m, p, _ in WRITE_ROUTES]
)
def test_odd_bodies_never_break_a_route_or_change_what_a_refusal_touched(world, method, path, schema):
    url = path.format(**world.ids)
    reads = _touched(world, path)

    @PROFILE
    @given(role=st.sampled_from(ROLES), body=_request(schema))
    @example(role="ADMIN", body=(b'{"fps": null, "code": "NEW"}', "application/json"))  # issue 9: 500
    @example(role="ARTIST", body=(b'{"size": true, "body": "a\\u0000b"}', "application/json"))
    @example(role=None, body=(b"[" * 1000 + b"]" * 1000, "application/json"))
    def check(role: str | None, body: tuple[bytes, str]) -> None:
        raw, content_type = body
        # When the body is sent as the role
        response = world.api.request(
            method, url, raw_body=raw, headers={"Content-Type": content_type}, token=world.tokens[role]
        )

        # Then no server error, and an error answer is in the one shape
        assert response.status < 500, (method, url, role, raw[:300], response.status, response.body)
        if response.status >= 400:
            error = response.json()["error"]
            assert error["code"] and error["message"], error
            # And a refused request changed nothing a user can read
            before = {read: world.snapshot[read] for read in reads}
            assert world.read_back(reads) == before, (method, url, role, raw[:300], response.body)
        else:
            world.snapshot = world.read_back()
        assert world.unreadable == [], (method, url, role, raw[:300], "left a record reads cannot parse")

    check()
