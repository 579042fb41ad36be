"""The AsyncAPI 3.0 document of the live (WebSocket) API, generated from the models the code uses.

- what a client sends: one message per action of :data:`keyframe.live.messages.ClientMessage`
  (``subscribe``, ``comment`` … the same models :func:`~keyframe.live.messages.validate_message`
  validates with);
- what the server sends: the room events of :data:`keyframe.live.contract.EVENTS` in the envelope
  ``{type, room, seq, ts, correlationId, data}``, and the reply frames of
  :data:`keyframe.live.contract.REPLIES`.

``make openapi`` writes it to ``layers/keyframe/live/asyncapi.json`` (committed, served by
``GET /asyncapi.json``); ``tests/unit/live/test_asyncapi.py`` fails when the committed copy drifts,
and validates it with the AsyncAPI parser.
"""

from __future__ import annotations

import json
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from keyframe.live import contract, messages

COMMITTED = Path(__file__).with_name("asyncapi.json")
TITLE = "Keyframe live review"
VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

DESCRIPTION = (
    "Live review over a WebSocket. Get a single-use ticket with `POST /live/tickets` (60 s) and open "
    "the `url` it returns (`…/live?ticket=…`). Every connection is in its studio's `studio` room; "
    "`subscribe` to `project:{id}` or `asset:{id}` rooms for their events. Every message a client "
    "sends gets exactly one reply frame (`subscribed`, `unsubscribed`, `pong`, `ack` or `error`, with "
    "the message's `correlationId`). Room events arrive in the envelope "
    "`{type, room, seq, ts, correlationId, data}`; `seq` counts per room, so a gap means missed "
    "events: fetch them with `GET /rooms/{room}/events?after={seq}` (kept 24 h)."
)


def _client_messages() -> list[type[BaseModel]]:
    union = typing.get_args(messages.ClientMessage)[0]
    return list(typing.get_args(union))


def _action(model: type[BaseModel]) -> str:
    return typing.get_args(model.model_fields["action"].annotation)[0]


def _schemas() -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    models: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in _client_messages()]
    models += [(spec.data, "serialization") for spec in contract.EVENTS]
    models += [(spec.data, "serialization") for spec in contract.REPLIES]
    models.append((contract.Envelope, "serialization"))
    refs, defs = models_json_schema(models, ref_template=REF)
    return refs, defs.get("$defs", {})


def _event_payload(event_type: str, data_ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "allOf": [
            {"$ref": REF.format(model="Envelope")},
            {
                "type": "object",
                "properties": {"type": {"const": event_type}, "data": data_ref},
            },
        ]
    }


def _reply_payload(reply_type: str, data_ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "data"] if reply_type == "error" else ["type", "correlationId", "data"],
        "properties": {
            "type": {"const": reply_type},
            "correlationId": {"type": "string"},
            "data": data_ref,
        },
    }


def _message_name(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace(":", "-").split("-"))


def generate() -> dict[str, Any]:
    """Build the AsyncAPI 3.0 document."""
    refs, schemas = _schemas()
    component_messages: dict[str, Any] = {}
    channel_messages: dict[str, Any] = {}
    sent: list[str] = []
    received: list[str] = []

    def add(name: str, message: dict[str, Any], into: list[str]) -> None:
        component_messages[name] = message
        channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        into.append(name)

    for model in _client_messages():
        action = _action(model)
        add(
            f"{_message_name(action)}Action",
            {
                "name": action,
                "title": f"action: {action}",
                "summary": (model.__doc__ or "").strip().splitlines()[0],
                "payload": refs[(model, "validation")],
            },
            received,
        )
    for spec in contract.EVENTS:
        add(
            f"{_message_name(spec.type)}Event",
            {
                "name": spec.type,
                "title": spec.type,
                "summary": spec.summary,
                "description": f"Sent to the rooms: {spec.rooms}.",
                "payload": _event_payload(spec.type, refs[(spec.data, "serialization")]),
            },
            sent,
        )
    for reply in contract.REPLIES:
        add(
            f"{_message_name(reply.type)}Reply",
            {
                "name": reply.type,
                "title": f"reply: {reply.type}",
                "summary": reply.summary,
                "payload": _reply_payload(reply.type, refs[(reply.data, "serialization")]),
            },
            sent,
        )

    def operation(action: str, names: list[str], summary: str) -> dict[str, Any]:
        return {
            "action": action,
            "channel": {"$ref": "#/channels/live"},
            "summary": summary,
            "messages": [{"$ref": f"#/channels/live/messages/{name}"} for name in names],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:3001",
                "protocol": "ws",
                "description": "make dev (KEYFRAME_WS_PORT)",
            },
            "cloud": {
                "host": "{apiId}.execute-api.{region}.amazonaws.com",
                "protocol": "wss",
                "pathname": "/{stage}",
                "description": "API Gateway WebSocket API (LIVE_WEBSOCKET_URL)",
                "variables": {
                    "apiId": {"description": "The WebSocket API's id"},
                    "region": {"description": "AWS region", "default": "eu-west-1"},
                    "stage": {"enum": ["dev", "prod"], "default": "dev"},
                },
            },
        },
        "channels": {
            "live": {
                "address": "/live",
                "title": "The live review socket",
                "description": "One socket per browser tab; open it with `?ticket=` from POST /live/tickets.",
                "messages": channel_messages,
                "bindings": {
                    "ws": {
                        "query": {
                            "type": "object",
                            "required": ["ticket"],
                            "properties": {"ticket": {"type": "string", "description": "single-use, 60 s"}},
                        },
                        "bindingVersion": "0.1.0",
                    }
                },
            }
        },
        "operations": {
            "receiveActions": operation(
                "receive", received, "What a client may send: one JSON object per frame, chosen by action"
            ),
            "sendEvents": operation(
                "send", sent, "Room events to every member of the room, and one reply per message"
            ),
        },
        "components": {"schemas": schemas, "messages": component_messages},
    }


def render(document: dict[str, Any]) -> str:
    """The canonical text of the document (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def committed() -> dict[str, Any]:
    """The committed document (what ``GET /asyncapi.json`` serves)."""
    return json.loads(COMMITTED.read_text())


def main() -> None:
    """Regenerate the committed copy (``make openapi``)."""
    COMMITTED.write_text(render(generate()))
    sys.stdout.write(f"wrote {COMMITTED}\n")


if __name__ == "__main__":
    main()
