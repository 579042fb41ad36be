"""One schema source: every PynamoDB model must match its table spec (keys and indexes)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from pynamodb.models import Model

import keyframe
from keyframe.storage.tables import TABLES, create_table_request


def _all_models() -> list[type[Model]]:
    for module in pkgutil.walk_packages(keyframe.__path__, "keyframe."):
        if ".local" in module.name or ".cli" in module.name:
            continue
        importlib.import_module(module.name)
    found, stack = [], list(Model.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls.Meta, "spec_key", None) and cls._hash_keyname:
            found.append(cls)
    return found


MODELS = _all_models()


def test_models_exist_for_the_domains() -> None:
    # Given the package / When models are collected / Then the core models are among them
    names = {m.__name__ for m in MODELS}
    assert {"RoomCounter", "RoomEvent"} <= names


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__}.{m.__name__}")
def test_model_keys_and_indexes_match_the_spec(model: type[Model]) -> None:
    # Given the table spec the model is bound to
    spec = next(s for s in TABLES if s.key == model.Meta.spec_key)
    schema = model._get_schema()
    # Then the key schema is the spec's
    keys = {k["KeyType"]: k["AttributeName"] for k in schema["key_schema"]}
    assert keys.get("HASH") == spec.partition_key
    assert keys.get("RANGE") == spec.sort_key
    # And every index the model declares exists in the spec with the same keys
    spec_indexes = {i.name: i for i in spec.indexes}
    for index in schema["global_secondary_indexes"]:
        assert index["index_name"] in spec_indexes, f"{index['index_name']} is not in the {spec.key} spec"
        declared = {k["KeyType"]: k["AttributeName"] for k in index["key_schema"]}
        expected = spec_indexes[index["index_name"]]
        assert declared.get("HASH") == expected.partition_key
        assert declared.get("RANGE") == expected.sort_key
    # And every key attribute the model declares is a string, as the spec creates them
    for attr in schema["attribute_definitions"]:
        assert attr["AttributeType"] == "S", attr


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.key)
def test_create_table_request_declares_each_key_attribute_once(spec) -> None:
    request = create_table_request(spec, f"t-{spec.key}")
    names = [a["AttributeName"] for a in request["AttributeDefinitions"]]
    assert len(names) == len(set(names))
    assert request["BillingMode"] == "PAY_PER_REQUEST"
