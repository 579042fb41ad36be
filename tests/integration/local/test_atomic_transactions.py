"""moto's TransactWriteItems under :func:`keyframe.local.atomic.make_dynamodb_atomic`: all or nothing
(items and stream records) while saving only the items a transaction names, so its cost does not
grow with the table."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
import pytest

from keyframe.storage.tables import CATALOG


def _put(pk: str, **extra: Any) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"S": "X"}, **{k: {"S": v} for k, v in extra.items()}}
    return {"Put": {"TableName": os.environ[CATALOG.env_var], "Item": item}}


def _item(client: Any, pk: str) -> dict[str, Any] | None:
    answer = client.get_item(TableName=os.environ[CATALOG.env_var], Key={"pk": {"S": pk}, "sk": {"S": "X"}})
    return answer.get("Item")


def _stream_records(client: Any) -> int:
    """Records in the catalog table's stream shard (read from moto's backend: in-process moto does
    not serve the streams API)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_REGION"]].tables[
        os.environ[CATALOG.env_var]
    ]
    return len(table.stream_shard.items)


@pytest.mark.parametrize(
    "failing",
    [
        # a condition fails on the last operation: moto applied the first ones already
        {"ConditionCheck": {"Key": {"pk": {"S": "kept"}, "sk": {"S": "X"}}, "ConditionExpression": "a = :no",
                            "ExpressionAttributeValues": {":no": {"S": "no"}}}},
        # an update moto refuses while applying it (validation), after the first ones
        {"Update": {"Key": {"pk": {"S": "kept"}, "sk": {"S": "X"}}, "UpdateExpression": "SET a = :missing"}},
    ],
    ids=["condition", "validation"],
)  # fmt: skip
def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(aws, failing):
    client = boto3.client("dynamodb")
    table = os.environ[CATALOG.env_var]
    client.transact_write_items(TransactItems=[_put("kept", a="before"), _put("changed", a="before")])
    records = _stream_records(client)
    assert records >= 2
    failing = {kind: {"TableName": table, **op} for kind, op in failing.items()}

    with pytest.raises(client.exceptions.ClientError):
        client.transact_write_items(TransactItems=[_put("new", a="x"), _put("changed", a="after"), failing])

    assert _item(client, "new") is None
    assert _item(client, "changed")["a"] == {"S": "before"}
    assert _item(client, "kept")["a"] == {"S": "before"}
    assert _stream_records(client) == records


def test_a_transaction_costs_the_same_in_a_full_table(aws):
    client = boto3.client("dynamodb")
    table = boto3.resource("dynamodb").Table(os.environ[CATALOG.env_var])

    def cost() -> float:
        start = time.process_time()
        for i in range(10):
            client.transact_write_items(TransactItems=[_put(f"t{i}", a="x"), _put(f"u{i}", a="y")])
        return time.process_time() - start

    empty = cost()
    with table.batch_writer() as batch:
        for i in range(2000):
            batch.put_item(Item={"pk": f"fill{i}", "sk": "X", "a": "x" * 40, "n": i})

    assert cost() < max(5 * empty, 0.5)  # moto alone deep-copies the table: about 100x slower here
