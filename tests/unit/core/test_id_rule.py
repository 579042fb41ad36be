"""Every id a route takes in its path or query string follows the one id rule (keyframe.schemas).

Keyframe makes every id as a UUID, so a value outside the rule names nothing: the route answers 400
``VALIDATION_ERROR`` before any lookup, and the OpenAPI document shows the same rule on every id.
"""

from keyframe.http import openapi
from keyframe.schemas import ID_MAX_LENGTH, ID_PATTERN


def test_every_id_parameter_of_the_document_carries_the_one_rule() -> None:
    document = openapi.committed()
    off_rule = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if "$ref" in parameter or not parameter["name"].endswith("Id"):
                    continue
                schema = parameter["schema"]
                schema = schema.get("anyOf", [schema])[0]  # an optional query filter: the string branch
                rule = (schema.get("pattern"), schema.get("minLength"), schema.get("maxLength"))
                if rule != (ID_PATTERN, 1, ID_MAX_LENGTH):
                    off_rule.append(f"{method.upper()} {path} {parameter['name']}: {rule}")
    assert off_rule == []
