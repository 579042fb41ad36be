"""moto's action lookup remembered per response class answers every action as before."""

from __future__ import annotations

import inspect

import boto3
import pytest
from moto.core import responses
from moto.dynamodb.responses import DynamoHandler
from moto.s3.responses import S3Response

from keyframe.local.moto_dispatch import remember_action_methods


@pytest.mark.parametrize("handler", [DynamoHandler, S3Response])
def test_the_remembered_lookup_lists_the_same_action_methods(handler: type) -> None:
    remember_action_methods()
    listed = [name for name, _ in inspect.getmembers(handler, predicate=inspect.isfunction)]
    assert responses.method_names_from_class(handler) == listed
    assert "put_item" in responses.method_names_from_class(DynamoHandler)


def test_requests_are_answered_and_a_missing_table_still_refused(aws: None) -> None:
    # Given the lookup remembered (the test world applies it)
    remember_action_methods()
    dynamodb = boto3.client("dynamodb")
    # When requests of several actions go to the same handler class
    tables = dynamodb.list_tables()["TableNames"]
    described = dynamodb.describe_table(TableName=tables[0])["Table"]["TableName"]
    # Then each is answered by its own method
    assert described == tables[0]
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName="no-such-table")
