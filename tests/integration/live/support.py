"""Drive the WebSocket handlers the way the local gateway does, with a recording ``@connections`` fake.

- :class:`FakeConnections` stands in for boto3's ``apigatewaymanagementapi`` client and the
  fan-out's :class:`~keyframe.live.posting.ConnectionPoster`: it records every post and answers
  410 ``GoneException`` for connections marked gone or deleted.
- :class:`LiveClient` opens "sockets" through the real handler files (``registry.WEBSOCKET_AUTHORIZER``,
  ``$connect``, ``$default``, ``$disconnect``) with events shaped like API Gateway's.
- :func:`make_version` creates a project, an asset and a ready version through the catalog services.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyframe import registry
from keyframe.local import lambdas

CONNECTIONS_ENDPOINT = "https://live.test/local"
WEBSOCKET_URL = "ws://127.0.0.1:3001/live"


def _gone(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "GoneException", "Message": "Gone"},
            "ResponseMetadata": {"HTTPStatusCode": 410},
        },
        operation,
    )


class FakeConnections:
    """Records what the fan-out posts; connections in ``gone`` (or deleted) answer 410."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.deleted: list[str] = []
        self.gone: set[str] = set()
        self._lock = threading.Lock()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.gone or ConnectionId in self.deleted:
            raise _gone("PostToConnection")
        with self._lock:
            self.posts.append((ConnectionId, json.loads(Data)))
        return {}

    def post(self, connection_id: str, payload: bytes) -> None:
        """As :meth:`keyframe.live.posting.ConnectionPoster.post` (what the fan-out calls)."""
        from keyframe.live.posting import Gone

        try:
            self.post_to_connection(ConnectionId=connection_id, Data=payload)
        except ClientError as exc:
            raise Gone(connection_id) from exc

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        if ConnectionId in self.gone or ConnectionId in self.deleted:
            raise _gone("DeleteConnection")
        with self._lock:
            self.deleted.append(ConnectionId)
        return {}

    def get_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        if ConnectionId in self.gone or ConnectionId in self.deleted:
            raise _gone("GetConnection")
        return {"ConnectionId": ConnectionId}

    def received(self, connection_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """Envelopes posted to ``connection_id`` (of ``event_type`` only, when given), in order."""
        with self._lock:
            return [
                e
                for cid, e in self.posts
                if cid == connection_id and (event_type is None or e["type"] == event_type)
            ]


@pytest.fixture
def connections_api(monkeypatch: pytest.MonkeyPatch) -> FakeConnections:
    """Turn live delivery on (``LIVE_CONNECTIONS_ENDPOINT``) and send it to a :class:`FakeConnections`."""
    from keyframe.live import fanout

    fake = FakeConnections()
    monkeypatch.setenv("LIVE_CONNECTIONS_ENDPOINT", CONNECTIONS_ENDPOINT)
    monkeypatch.setenv("LIVE_WEBSOCKET_URL", WEBSOCKET_URL)
    monkeypatch.setattr(fanout, "management_client", lambda: fake)
    monkeypatch.setattr(fanout, "connection_poster", lambda: fake)
    return fake


class Refused(Exception):
    """The handshake was refused (API Gateway would answer 401)."""


@dataclass
class Socket:
    """One open connection: ``send`` a message, read what the fan-out ``received``."""

    connection_id: str
    authorizer: dict[str, Any]
    fake: FakeConnections
    closed: bool = False
    replies: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[dict[str, Any]] = field(default_factory=list)
    """The ``requestContext`` of each message sent, in order (``requestId`` ...)."""

    def _context(self, route_key: str, event_type: str) -> dict[str, Any]:
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "connectionId": self.connection_id,
            "messageId": uuid.uuid4().hex[:16],
            "requestId": str(uuid.uuid4()),
            "domainName": "127.0.0.1",
            "stage": "local",
            "apiId": "local-ws",
            "connectedAt": int(time.time() * 1000),
            "requestTimeEpoch": int(time.time() * 1000),
            "authorizer": self.authorizer,
        }

    def send_raw(self, body: str) -> dict[str, Any]:
        """Send a raw text frame; returns the reply frame."""
        context = self._context("$default", "MESSAGE")
        self.contexts.append(context)
        result = lambdas.invoke(
            registry.WEBSOCKET_ROUTES["$default"],
            {"requestContext": context, "body": body, "isBase64Encoded": False},
        )
        reply = json.loads(result["body"])
        self.replies.append(reply)
        return reply

    def send(self, **message: Any) -> dict[str, Any]:
        """Send a JSON message; returns the reply frame."""
        return self.send_raw(json.dumps(message))

    def received(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Envelopes the fan-out posted to this socket."""
        return self.fake.received(self.connection_id, event_type)

    def close(self) -> None:
        """The client goes away: API Gateway runs ``$disconnect``."""
        lambdas.invoke(
            registry.WEBSOCKET_ROUTES["$disconnect"],
            {"requestContext": self._context("$disconnect", "DISCONNECT")},
        )
        self.closed = True


class LiveClient:
    """Open sockets as a member would: a ticket over REST, then the handshake with ``?ticket=``."""

    def __init__(self, api: Any, fake: FakeConnections) -> None:
        self.api = api
        self.fake = fake

    def ticket(self, session: Any) -> dict[str, Any]:
        """``POST /live/tickets`` as ``session``."""
        response = self.api.post("/live/tickets", token=session.access_token)
        assert response.status == 201, response.body
        return response.json()

    def handshake(self, ticket: str | None) -> Socket:
        """Run the authorizer and ``$connect`` for ``ticket``.

        Raises
        ------
        Refused
            The authorizer refused (``Unauthorized``) or denied.
        """
        connection_id = uuid.uuid4().hex[:12] + "="
        event = {
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:000000000000:local-ws/local/$connect",
            "headers": {"Host": "127.0.0.1:3001"},
            "queryStringParameters": {"ticket": ticket} if ticket is not None else None,
            "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": connection_id},
        }
        try:
            policy = lambdas.invoke(registry.WEBSOCKET_AUTHORIZER, event)
        except Exception as exc:
            raise Refused(str(exc)) from exc
        statements = policy["policyDocument"]["Statement"]
        if not all(s["Effect"] == "Allow" for s in statements):
            raise Refused("Deny")
        socket = Socket(connection_id, {**policy["context"], "principalId": policy["principalId"]}, self.fake)
        result = lambdas.invoke(
            registry.WEBSOCKET_ROUTES["$connect"], {"requestContext": socket._context("$connect", "CONNECT")}
        )
        if result.get("statusCode") != 200:
            raise Refused(str(result))
        return socket

    def connect(self, session: Any) -> Socket:
        """A new socket for ``session``."""
        return self.handshake(self.ticket(session)["ticket"])


@pytest.fixture
def live(api: Any, connections_api: FakeConnections) -> LiveClient:
    """A :class:`LiveClient` over the ``api`` fixture with delivery to the fake."""
    return LiveClient(api, connections_api)


@dataclass(frozen=True)
class Target:
    """A project, an asset in it and its ready version 1."""

    project_id: str
    asset_id: str
    version: int


def make_version(session: Any, *, fps: float = 24, start_frame: int = 1001) -> Target:
    """Create a project (``fps``, ``start_frame``), an asset and a ready version 1 in ``session``'s studio."""
    from keyframe.catalog import assets, projects, versions
    from keyframe.catalog.schemas import AssetCreate, FileInfo, ProjectCreate

    code = "P" + uuid.uuid4().hex[:6].upper()
    project = projects.create_project(
        session.studio_id,
        session.user_id,
        ProjectCreate(name="Film", code=code, fps=fps, start_frame=start_frame),
    )
    asset = assets.create_asset(
        session.studio_id, session.user_id, AssetCreate(project_id=project.id, name="Hero", type="CHARACTER")
    )
    file = FileInfo(
        key=f"studios/{session.studio_id}/x.mp4", size=10, content_type="video/mp4", file_name="x.mp4"
    )
    published = versions.publish_version(session.studio_id, asset.id, created_by=session.user_id, file=file)
    versions.mark_version_ready(session.studio_id, asset.id, published.version, media={}, derived={})
    return Target(project.id, asset.id, published.version)


@dataclass
class SampleStudio:
    """The studio the sample events in ``events/live`` and ``events/reviews`` talk about, seeded.

    The samples name fixed ids; ``replacements`` maps those the services choose themselves (the
    asset, the project, the existing comment) to the seeded ones, for ``str.replace`` on a sample.
    """

    studio_id: str
    user_id: str
    asset_id: str
    project_id: str
    comment_id: str
    replacements: dict[str, str]

    def load(self, path: Any) -> dict[str, Any]:
        """A sample event with its ids pointing at the seeded data."""
        text = path.read_text()
        for sample_id, real_id in self.replacements.items():
            text = text.replace(sample_id, real_id)
        return json.loads(text)


SAMPLE_STUDIO = "0f3b6f0e-8c2d-4b8e-9d7a-5b1c2e3d4f50"
SAMPLE_USER = "7c1e2f8a-2b7d-4c51-9a35-3f0e7d6a1b42"
SAMPLE_ASSET = "3e9d1c2b-6a4f-4e8d-b7c1-2a5f6e7d8c90"
SAMPLE_COMMENT = "5d41402abc4b2a76b9719d911017c592"
SAMPLE_TICKET = "kq2WcT0b3mYl7fQ4n1sVxA8eR5uJ9pZ6hG0dC2iL4oE"


def seed_sample_studio() -> SampleStudio:
    """Seed what the samples expect (tables of the ``aws`` fixture).

    The sample user is a DIRECTOR of the sample studio; a project at 24 fps whose first frame is
    1001; an asset with three READY versions; a comment on version 3 at frame 1042; and the sample
    ticket, unused (its hash in the live table, bound to that user, expiring in a minute).
    """
    from keyframe.catalog import assets, projects, versions
    from keyframe.catalog.schemas import AssetCreate, FileInfo, ProjectCreate
    from keyframe.identity.models import MembershipItem
    from keyframe.identity.permissions import Principal, Role
    from keyframe.live.models import TICKET_SK, TicketItem, ticket_pk
    from keyframe.live.tickets import hash_ticket
    from keyframe.reviews import service
    from keyframe.reviews.schemas import CommentCreate

    now = datetime.now(UTC)
    MembershipItem.new(SAMPLE_STUDIO, SAMPLE_USER, "DIRECTOR", now.isoformat()).save()
    project = projects.create_project(
        SAMPLE_STUDIO, SAMPLE_USER, ProjectCreate(name="Sample film", code="SMP", fps=24, start_frame=1001)
    )
    asset = assets.create_asset(
        SAMPLE_STUDIO, SAMPLE_USER, AssetCreate(project_id=project.id, name="Luna", type="CHARACTER")
    )
    for n in range(1, 4):
        file = FileInfo(
            key=f"studios/{SAMPLE_STUDIO}/luna-{n}.mp4", size=10, content_type="video/mp4", file_name="l.mp4"
        )
        published = versions.publish_version(SAMPLE_STUDIO, asset.id, created_by=SAMPLE_USER, file=file)
        versions.mark_version_ready(SAMPLE_STUDIO, asset.id, published.version, media={}, derived={})
    director = Principal(studio_id=SAMPLE_STUDIO, user_id=SAMPLE_USER, role=Role.DIRECTOR)
    comment = service.add_comment(director, asset.id, 3, CommentCreate(body="Eyes drift here", frame=1042))
    expires = int(time.time()) + 60
    TicketItem(
        ticket_pk(hash_ticket(SAMPLE_TICKET)),
        TICKET_SK,
        studio_id=SAMPLE_STUDIO,
        user_id=SAMPLE_USER,
        role="DIRECTOR",
        expires_at=expires,
        ttl=datetime.fromtimestamp(expires + 60, UTC),
    ).save()
    return SampleStudio(
        studio_id=SAMPLE_STUDIO,
        user_id=SAMPLE_USER,
        asset_id=asset.id,
        project_id=project.id,
        comment_id=comment.comment_id,
        replacements={SAMPLE_ASSET: asset.id, SAMPLE_COMMENT: comment.comment_id},
    )
