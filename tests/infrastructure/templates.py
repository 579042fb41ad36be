"""Read a synthesized CloudFormation template the way a reviewer would: by meaning, not by count."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.tables import TABLE_TAG


def of_type(resources: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource for every resource of ``resource_type``."""
    return {lid: res for lid, res in resources.items() if res["Type"] == resource_type}


def references(value: Any) -> set[str]:
    """Every logical id that ``value`` refers to through ``Ref`` or ``Fn::GetAtt`` (recursively)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def function_id(resources: dict[str, Any], name: str) -> str:
    """Logical id of the Lambda function whose ``POWERTOOLS_SERVICE_NAME`` is ``name``."""
    for lid, res in of_type(resources, "AWS::Lambda::Function").items():
        variables = res["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == name:
            return lid
    raise AssertionError(f"no function named {name}")


def alias_id(resources: dict[str, Any], name: str) -> str:
    """Logical id of the ``live`` alias of the function whose ``POWERTOOLS_SERVICE_NAME`` is ``name``."""
    function = function_id(resources, name)
    for lid, res in of_type(resources, "AWS::Lambda::Alias").items():
        props = res["Properties"]
        if props["Name"] == "live" and function in references(props["FunctionName"]):
            return lid
    raise AssertionError(f"no live alias of {name}")


def role_id(resources: dict[str, Any], function_logical_id: str) -> str:
    """Logical id of the execution role of a function."""
    return resources[function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]


def role_statements(resources: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every policy statement attached to a role (inline policies and ``AWS::IAM::Policy``)."""
    statements: list[dict[str, Any]] = []
    role = resources[role_logical_id]["Properties"]
    for policy in role.get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    for res in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in res["Properties"].get("Roles", []):
            statements.extend(res["Properties"]["PolicyDocument"]["Statement"])
    return statements


def function_statements(resources: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every statement of the role of the function named ``name``."""
    return role_statements(resources, role_id(resources, function_id(resources, name)))


def actions_of(statement: dict[str, Any]) -> list[str]:
    """The statement's actions as a list."""
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def table_ids(resources: dict[str, Any]) -> dict[str, str]:
    """Table key (``tenants``) -> logical id, read from the ``keyframe:table`` tag."""
    found: dict[str, str] = {}
    for lid, res in of_type(resources, "AWS::DynamoDB::GlobalTable").items():
        for replica in res["Properties"]["Replicas"]:
            for tag in replica.get("Tags", []):
                if tag["Key"] == TABLE_TAG:
                    found[tag["Value"]] = lid
    return found


def media_bucket_id(resources: dict[str, Any]) -> str:
    """Logical id of the media bucket (the versioned, KMS-encrypted one)."""
    for lid, res in of_type(resources, "AWS::S3::Bucket").items():
        rules = res["Properties"].get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        if any(r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" for r in rules):
            return lid
    raise AssertionError("no KMS-encrypted bucket")


def resource_paths(resources: dict[str, Any]) -> dict[str, str]:
    """``AWS::ApiGateway::Resource`` logical id -> full path (``/studio/members/{userId}``)."""
    nodes = of_type(resources, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(lid: str) -> str:
        if lid not in paths:
            props = nodes[lid]["Properties"]
            parent = props["ParentId"]
            prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
            paths[lid] = f"{prefix}/{props['PathPart']}"
        return paths[lid]

    for lid in nodes:
        path_of(lid)
    return paths


def methods(resources: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``(HTTP method, path)`` -> properties of every ``AWS::ApiGateway::Method``."""
    paths = resource_paths(resources)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for res in of_type(resources, "AWS::ApiGateway::Method").values():
        props = res["Properties"]
        resource = props["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"
        found[(props["HttpMethod"], path)] = props
    return found


def render_vtl(template: str, **values: str) -> Any:
    """Substitute API Gateway context variables in a response template and parse it as JSON.

    ``values`` maps a variable without ``$context.`` (``error_messageString`` for
    ``error.messageString``) to the raw text API Gateway would put there.
    """
    for name, value in values.items():
        template = template.replace("$context." + name.replace("_", "."), value)
    return json.loads(template)


def dependencies(resources: dict[str, Any]) -> dict[str, set[str]]:
    """Logical id -> the resources it needs first (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``DependsOn``)."""
    graph: dict[str, set[str]] = {}
    for lid, res in resources.items():
        needed = references(res.get("Properties", {})) | _sub_references(res.get("Properties", {}))
        depends_on = res.get("DependsOn", [])
        needed |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[lid] = {dep for dep in needed if dep in resources}
    return graph


def _sub_references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        sub = value.get("Fn::Sub")
        text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) else None
        if text:
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
        for item in value.values():
            found |= _sub_references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _sub_references(item)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A dependency cycle (as a list of logical ids), or None: CloudFormation refuses cycles at deploy."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def appends_only_to_the_outbox(resources: dict[str, Any], statements: list[dict[str, Any]]) -> bool:
    """True when every statement on the catalog table is a PutItem limited to outbox partitions.

    Emitting an event stores it in the outbox first (``keyframe.outbox.records``): a role that only
    emits events reaches the catalog table through ``STUDIO#*#OUTBOX`` and nothing else.
    """
    from keyframe.outbox.records import outbox_pk
    from keyframe.storage.tables import CATALOG

    catalog = table_ids(resources)[CATALOG.key]
    on_catalog = [s for s in statements if catalog in references(s["Resource"])]
    return bool(on_catalog) and all(
        actions_of(s) == ["dynamodb:PutItem"]
        and s.get("Condition") == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [outbox_pk("*")]}}
        for s in on_catalog
    )
