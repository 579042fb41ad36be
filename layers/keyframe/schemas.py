"""Base pydantic models for the public JSON shapes (camelCase on the wire, strict on input)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """A response shape: snake_case in Python, camelCase in JSON (``model_dump(by_alias=True)``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    def to_json(self) -> dict:
        """The JSON-ready dict with camelCase keys, omitting ``None`` values."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RequestModel(ApiModel):
    """A request body: unknown fields are rejected (400 naming them), strings are stripped."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
    )
