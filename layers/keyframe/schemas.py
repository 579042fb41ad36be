"""Base pydantic models for the public JSON shapes (camelCase on the wire, strict on input).

Every request body (REST and socket) is a :class:`RequestModel`, which refuses, for every field:

* a JSON type other than the declared one where pydantic would convert: ``true`` for a number,
  ``"12"`` for a number, ``"true"``/``1`` for a boolean (type ``strict_type``);
* NUL, other control characters (Unicode category ``Cc``) and lone surrogates (``Cs``) in any
  string, keys of free-form objects included (type ``control_character``). A field whose type
  carries :data:`MULTILINE` (descriptions, comment bodies, notes) may contain ``\\n``, ``\\r`` and
  ``\\t``.
"""

from __future__ import annotations

import types
import typing
import unicodedata
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError


class _Multiline:
    """Marker: the string may span lines (see :data:`MULTILINE`)."""

    def __repr__(self) -> str:
        return "MULTILINE"


MULTILINE = _Multiline()
"""Put in ``Annotated[str, ..., MULTILINE]`` for text that may contain newlines and tabs."""


class _OwnTextRules:
    """Marker: the domain checks this text itself and names its own error code."""

    def __repr__(self) -> str:
        return "OWN_TEXT_RULES"


OWN_TEXT_RULES = _OwnTextRules()
"""Put in ``Annotated[str, ..., OWN_TEXT_RULES]`` when a domain rule refuses control characters with
a more precise code (file names: ``INVALID_FILE_NAME``); type strictness still applies."""

MultilineText = Annotated[str, MULTILINE]
"""Free text over several lines (newlines and tabs allowed; other control characters refused)."""

ID_PATTERN = r"^[A-Za-z0-9-]+$"
"""What an id may hold: letters, digits and ``-``. Every id Keyframe makes is a UUID (``str(uuid4())``
or ``uuid4().hex``), so none holds another character; the REST routes' path and query ids
(:mod:`keyframe.http.params`), request bodies and socket messages share this one rule."""

ID_MAX_LENGTH = 64
"""The longest id, in characters."""

Identifier = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""An id in a request body, a socket message or a task's input (a studio, user, comment or upload id)."""

_LINE_BREAKS = frozenset("\n\r\t")
_NUMERIC: tuple[type, ...] = (int, float, Decimal)


class ApiModel(BaseModel):
    """A response shape: snake_case in Python, camelCase in JSON (``model_dump(by_alias=True)``).

    Validators and serializers are built on a model's first use (``defer_build``), not when its module
    is imported: a function's cold start pays only for the shapes its first request touches.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True, defer_build=True
    )

    def to_json(self) -> dict:
        """The JSON-ready dict with camelCase keys, omitting ``None`` values."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _members(annotation: Any, multiline: Any = False) -> list[tuple[Any, Any]]:
    """The union members of ``annotation`` with ``Annotated`` unwrapped: ``[(type, text rule)]``,
    the text rule being False (one line), True (:data:`MULTILINE`) or :data:`OWN_TEXT_RULES`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        for marker in metadata:
            if marker is OWN_TEXT_RULES or (marker is MULTILINE and multiline is False):
                multiline = True if marker is MULTILINE else marker
        return _members(inner, multiline)
    if origin in (typing.Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg, multiline)]
    return [(annotation, multiline)]


def _is(kind: Any, cls: type | tuple[type, ...]) -> bool:
    return isinstance(kind, type) and issubclass(kind, cls) and not issubclass(kind, Enum)


Problem = tuple[str, str] | None
"""``(pydantic error type, message)`` of a refused value, or ``None``."""


def _bad_text(value: str, multiline: Any) -> Problem:
    if multiline is OWN_TEXT_RULES:
        return None
    for char in value:
        if char in _LINE_BREAKS and multiline:
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            return "control_character", f"must not contain the control character U+{ord(char):04X}"
    return None


def _strict_problem(value: Any, annotation: Any, multiline: Any = False) -> Problem:  # noqa: C901, PLR0912
    """Why ``value`` (parsed JSON) may not fill a field of type ``annotation``; ``None`` when it may."""
    members = _members(annotation, multiline)
    kinds = [kind for kind, _ in members]
    rules = [flag for _, flag in members if flag is not False]
    multiline = rules[0] if rules else False
    if value is None or any(kind is Any or kind is object for kind in kinds):
        return _bad_nested_text(value, multiline) if value is not None else None
    if any(isinstance(kind, type) and issubclass(kind, BaseModel) for kind in kinds):
        return None  # a nested request model runs these checks itself
    scalar_kinds = [k for k in kinds if get_origin(k) is None and k is not type(None)]
    if isinstance(value, bool):
        if scalar_kinds and not any(_is(k, bool) for k in scalar_kinds):
            return "strict_type", "must not be a boolean (true/false)"
        return None
    if isinstance(value, (int, float)):
        if scalar_kinds and all(_is(k, bool) for k in scalar_kinds):
            return "strict_type", "must be true or false, not a number"
        return None
    if isinstance(value, str):
        if scalar_kinds and all(_is(k, bool) or _is(k, _NUMERIC) for k in scalar_kinds):
            return "strict_type", "must not be a string"
        return _bad_text(value, multiline)
    if isinstance(value, list):
        for kind in kinds:
            if get_origin(kind) in (list, tuple, set, frozenset):
                args = get_args(kind)
                inner = args[0] if args else Any
                for item in value:
                    problem = _strict_problem(item, inner, multiline)
                    if problem:
                        return problem
                return None
        return _bad_nested_text(value, multiline)
    if isinstance(value, dict):
        for kind in kinds:
            if get_origin(kind) is dict:
                key_type, value_type = get_args(kind) or (str, Any)
                for key, item in value.items():
                    problem = _strict_problem(key, key_type) or _strict_problem(item, value_type, multiline)
                    if problem:
                        return problem
                return None
        return _bad_nested_text(value, multiline)
    return None


def _bad_nested_text(value: Any, multiline: Any) -> Problem:
    """Control characters anywhere in a free-form JSON value (keys are single-line)."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            problem = _bad_text(current, multiline)
            if problem:
                return problem
        elif isinstance(current, dict):
            for key, item in current.items():
                problem = _bad_text(str(key), False)
                if problem:
                    return problem
                stack.append(item)
        elif isinstance(current, list):
            stack.extend(current)
    return None


class RequestModel(ApiModel):
    """A request body: unknown fields are rejected (400 naming them), strings are stripped, and no
    field takes a value pydantic would have to convert or text with control characters (see the
    module docstring)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _strict_input(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields_by_key = {}
        for name, field in cls.model_fields.items():
            fields_by_key[name] = field
            if field.alias:
                fields_by_key[field.alias] = field
        refused: list[InitErrorDetails] = []
        for key, value in data.items():
            known = fields_by_key.get(key)
            if known is None:
                continue  # unknown fields are refused by extra="forbid"
            annotation: Any = known.annotation
            if known.metadata:
                annotation = Annotated[(annotation, *known.metadata)]
            problem = _strict_problem(value, annotation)
            if problem:
                refused.append(InitErrorDetails(type=PydanticCustomError(*problem), loc=(key,), input=value))
        if refused:
            raise ValidationError.from_exception_data(cls.__name__, refused)
        return data
