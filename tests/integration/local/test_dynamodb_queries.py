"""Queries that read only what they can match (:mod:`keyframe.local.dynamodb_queries`) answer what
moto answers on the whole table: the same items, order, counts and pages, on the table and on its
indexes, for random tables and random queries."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from keyframe.local import dynamodb_queries

TABLE = "query-check"
REGION = "us-east-1"
PARTITIONS = ["a", "b", "c", "d"]
KINDS = ["shot", "rig", "prop"]


def _keys(partition: str, sort: str | None = None) -> list[dict[str, str]]:
    """A ``KeySchema``: the partition key, then the sort key if any."""
    keys = [{"AttributeName": partition, "KeyType": "HASH"}]
    return keys + ([{"AttributeName": sort, "KeyType": "RANGE"}] if sort else [])


def _index(name: str, keys: list[dict[str, str]], projection: str) -> dict[str, Any]:
    return {"IndexName": name, "KeySchema": keys, "Projection": {"ProjectionType": projection}}


@pytest.fixture
def dynamodb(aws: None) -> Any:
    """A client and a table with a string sort key, two global indexes (string and number partition
    keys) and a local index on a number, filled with 160 random items; some lack an index's keys."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (("pk", "S"), ("sk", "S"), ("kind", "S"), ("rank", "N"), ("level", "N"))
        ],
        KeySchema=_keys("pk", "sk"),
        GlobalSecondaryIndexes=[
            _index("byKind", _keys("kind", "rank"), "ALL"),
            _index("byLevel", _keys("level"), "KEYS_ONLY"),
        ],
        LocalSecondaryIndexes=[_index("byRank", _keys("pk", "rank"), "ALL")],
    )
    draw = random.Random(15)
    for number in range(160):
        item: dict[str, Any] = {
            "pk": {"S": draw.choice(PARTITIONS)},
            "sk": {"S": f"ITEM#{number:03d}"},
            "size": {"N": str(draw.randint(0, 9))},
        }
        if draw.random() < 0.8:
            item["kind"] = {"S": draw.choice(KINDS)}
        if draw.random() < 0.8:
            item["rank"] = {"N": str(draw.randint(0, 30))}
        if draw.random() < 0.7:  # numbers written two ways: 2 and 2.0 are the same key
            level = draw.randint(1, 3)
            item["level"] = {"N": draw.choice([str(level), f"{level}.0"])}
        client.put_item(TableName=TABLE, Item=item)
    return client


def _random_query(draw: random.Random) -> dict[str, Any]:
    """Query parameters on the table or one of its indexes, with key conditions, direction, a page
    size and sometimes a filter, a projection or a count."""
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    shape = draw.choice(["table", "byKind", "byLevel", "byRank"])
    if shape in ("table", "byRank"):
        values[":p"] = {"S": draw.choice([*PARTITIONS, "none"])}
        condition = "pk = :p"
    elif shape == "byKind":
        values[":p"] = {"S": draw.choice([*KINDS, "none"])}
        names["#k"] = "kind"
        condition = "#k = :p"
    else:
        values[":p"] = {"N": draw.choice(["1", "2", "3.0", "4"])}
        names["#l"] = "level"
        condition = "#l = :p"
    sort_key = {"table": ("sk", "S"), "byKind": ("rank", "N"), "byRank": ("rank", "N")}.get(shape)
    if sort_key is not None and draw.random() < 0.6:
        condition += _sort_condition(draw, *sort_key, values, names)
    params: dict[str, Any] = {
        "TableName": TABLE,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": draw.random() < 0.5,
        "Limit": draw.randint(1, 40),
    }
    if shape != "table":
        params["IndexName"] = shape
    if draw.random() < 0.3:
        values[":size"] = {"N": str(draw.randint(0, 9))}
        params["FilterExpression"] = "#z >= :size"
        names["#z"] = "size"
    if draw.random() < 0.2:
        params["Select"] = "COUNT"
    elif draw.random() < 0.2 and shape != "byLevel":
        params["ProjectionExpression"] = "pk, sk"
    if names:
        params["ExpressionAttributeNames"] = names
    return params


def _sort_condition(
    draw: random.Random, name: str, kind: str, values: dict[str, Any], names: dict[str, str]
) -> str:
    """A random condition on the sort key ``name`` of type ``kind`` (``S`` or ``N``), `` AND ...``."""
    if kind == "S":
        low, high = f"ITEM#{draw.randint(0, 80):03d}", f"ITEM#{draw.randint(80, 159):03d}"
    else:
        low, high = str(draw.randint(0, 15)), str(draw.randint(15, 30))
    operator = draw.choice(["=", "<", "<=", ">", ">=", "between", "begins"] if kind == "S" else
                           ["=", "<", "<=", ">", ">=", "between"])  # fmt: skip
    names["#s"] = name
    if operator == "between":
        values[":lo"], values[":hi"] = {kind: low}, {kind: high}
        return " AND #s BETWEEN :lo AND :hi"
    if operator == "begins":
        values[":lo"] = {"S": f"ITEM#{draw.randint(0, 15):02d}"}
        return " AND begins_with(#s, :lo)"
    values[":lo"] = {kind: low}
    return f" AND #s {operator} :lo"


def _pages(client: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the query (``Items``, ``Count``, ``ScannedCount``, ``LastEvaluatedKey``)."""
    pages: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        answer = client.query(**params, **({"ExclusiveStartKey": start} if start else {}))
        answer.pop("ResponseMetadata", None)
        pages.append(answer)
        start = answer.get("LastEvaluatedKey")
        if not start or len(pages) > 200:
            return pages


def test_random_queries_answer_what_moto_answers_on_the_whole_table(dynamodb: Any) -> None:
    # Given a table with random items, and 120 random queries on it and its indexes
    draw = random.Random(11)
    queries = [_random_query(draw) for _ in range(120)]
    answered_items = 0
    for params in queries:
        # When each is paged through reading what it can match, and again as moto reads (every item)
        narrowed = _pages(dynamodb, params)
        with dynamodb_queries.moto_own_reads():
            whole = _pages(dynamodb, params)
        # Then the pages are the same: items, their order, counts and the keys to go on from
        assert narrowed == whole, params
        answered_items += sum(page["Count"] for page in narrowed)
    assert answered_items > 400  # the queries found things, not only empty pages


def test_a_query_reads_its_partition_and_an_index_query_the_items_with_its_key(dynamodb: Any) -> None:
    # Given the filled table as moto holds it
    table = dynamodb_backends["123456789012"][REGION].tables[TABLE]
    every = [item for partition in table.items.values() for item in partition.values()]

    # When the candidates of a partition query and of an index query are read
    partition = dynamodb_queries._read(table, DynamoType({"S": "b"}), None, None)
    kind = dynamodb_queries._read(table, None, "byKind", [("kind", DynamoType({"S": "rig"}))])
    level = dynamodb_queries._read(table, None, "byLevel", [("level", DynamoType({"N": "2"}))])

    # Then the partition query reads that partition only, the string index key only its items, and
    # a number key (compared by moto as a decimal) every item that has it
    assert sorted(item.range_key.value for item in partition) == sorted(
        item.range_key.value for item in every if item.hash_key.value == "b"
    )
    assert 0 < len(partition) < len(every)
    assert {item.attrs["kind"].value for item in kind} == {"rig"}
    assert len(kind) == sum(1 for item in every if "kind" in item.attrs and item.attrs["kind"].value == "rig")
    assert len(level) == sum(1 for item in every if "level" in item.attrs)
    assert dynamodb_queries._read(table, DynamoType({"S": "none"}), None, None) == []


def _some_key(draw: random.Random) -> dict[str, Any]:
    return {"pk": {"S": draw.choice(PARTITIONS)}, "sk": {"S": f"ITEM#{draw.randint(0, 199):03d}"}}


def _random_write(client: Any, draw: random.Random) -> None:
    """One write that may change what the string index ``byKind`` (and the local index on ``pk``)
    hold: a put, an update setting or removing ``kind``, a delete, a batch, a transaction that
    commits or is cancelled, or a conditional put that fails."""
    key = _some_key(draw)
    kind = {"S": draw.choice([*KINDS, "set"])}
    shape = draw.choice(["put", "set", "remove", "delete", "batch", "transaction", "cancelled", "refused"])
    if shape == "put":  # the table named by its name or by its ARN, as DynamoDB accepts both
        name = draw.choice([TABLE, f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}"])
        client.put_item(TableName=name, Item={**key, "kind": kind, "rank": {"N": str(draw.randint(0, 30))}})
    elif shape in ("set", "remove"):
        expression = "SET #k = :k" if shape == "set" else "REMOVE #k"
        values = {"ExpressionAttributeValues": {":k": kind}} if shape == "set" else {}
        client.update_item(
            TableName=TABLE, Key=key, UpdateExpression=expression, ExpressionAttributeNames={"#k": "kind"},
            **values,
        )  # fmt: skip
    elif shape == "delete":
        client.delete_item(TableName=TABLE, Key=key)
    elif shape == "batch":
        other = _some_key(draw)
        if other == key:
            return
        client.batch_write_item(
            RequestItems={
                TABLE: [{"PutRequest": {"Item": {**key, "kind": kind}}}, {"DeleteRequest": {"Key": other}}]
            }
        )
    elif shape in ("transaction", "cancelled"):
        other = _some_key(draw)
        if other == key:
            return
        check = "attribute_not_exists(nothing)" if shape == "transaction" else "attribute_exists(nothing)"
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": TABLE, "Item": {**key, "kind": kind}}},
                    {"Delete": {"TableName": TABLE, "Key": other, "ConditionExpression": check}},
                ]
            )
        except client.exceptions.TransactionCanceledException:
            assert shape == "cancelled"
    else:
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName=TABLE, Item={**key, "kind": kind}, ConditionExpression="attribute_exists(nothing)"
            )


@pytest.mark.slow  # a stateful hypothesis run
def test_queries_answer_what_moto_answers_while_the_items_change(dynamodb: Any) -> None:
    # Given the filled table, its index maps built by a first query on each index
    draw = random.Random(23)
    for index in ("byKind", "byRank"):
        dynamodb.query(
            TableName=TABLE, IndexName=index, KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": "kind" if index == "byKind" else "pk"},
            ExpressionAttributeValues={":v": {"S": "rig" if index == "byKind" else "a"}},
        )  # fmt: skip
    table = dynamodb_backends["123456789012"][REGION].tables[TABLE]
    kind_map = dynamodb_queries._maps[table]["kind"]
    answered_items = 0
    for _ in range(400):
        # When writes of every kind change the items between the queries
        if draw.random() < 0.6:
            _random_write(dynamodb, draw)
            continue
        params = _random_query(draw)
        narrowed = _pages(dynamodb, params)
        with dynamodb_queries.moto_own_reads():
            whole = _pages(dynamodb, params)
        # Then every query answers what moto answers reading the whole table
        assert narrowed == whole, params
        answered_items += sum(page["Count"] for page in narrowed)
    assert answered_items > 400
    # And the writes kept the map up to date rather than having it built again
    assert dynamodb_queries._maps[table]["kind"] is kind_map


def test_an_item_stored_without_a_request_is_found_once_the_maps_are_forgotten(dynamodb: Any) -> None:
    # Given the index maps built, then an item written straight into moto's table (as a restore does)
    def riggers() -> int:
        return dynamodb.query(
            TableName=TABLE, IndexName="byKind", KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": "kind"}, ExpressionAttributeValues={":v": {"S": "restored"}},
        )["Count"]  # fmt: skip

    assert riggers() == 0
    table = dynamodb_backends["123456789012"][REGION].tables[TABLE]
    pk, sk = DynamoType({"S": "a"}), DynamoType({"S": "ITEM#999"})
    table.items[pk][sk] = Item(
        pk, sk, {"pk": {"S": "a"}, "sk": {"S": "ITEM#999"}, "kind": {"S": "restored"}, "rank": {"N": "1"}}
    )
    # When the maps are forgotten / Then the query finds it
    dynamodb_queries.forget_index_maps()
    assert riggers() == 1
    # And a request that is neither an item write nor a read (here UpdateTable) forgets them too
    table.items[pk][DynamoType({"S": "ITEM#998"})] = Item(
        pk,
        DynamoType({"S": "ITEM#998"}),
        {"pk": {"S": "a"}, "sk": {"S": "ITEM#998"}, "kind": {"S": "restored"}, "rank": {"N": "1"}},
    )
    dynamodb.update_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST")
    assert riggers() == 2
    # And an item the maps hold but the table no longer does is not answered
    del table.items[pk][sk]
    assert riggers() == 1
