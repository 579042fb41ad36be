"""The DynamoDB tables match ``keyframe.storage.tables`` (the schema moto, PynamoDB and CDK share)."""

from __future__ import annotations

import pytest

from keyframe.storage.tables import TABLES, create_table_request
from tests.infrastructure import templates as t

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def _table(synth, spec) -> dict:
    return synth.resources[t.table_ids(synth.resources)[spec.key]]


def test_every_spec_has_exactly_one_table(dev):
    # Given the tables of the template, found by their keyframe:table tag
    found = t.table_ids(dev.resources)
    # Then there is one per spec and no other
    assert sorted(found) == sorted(spec.key for spec in TABLES)
    assert len(t.of_type(dev.resources, "AWS::DynamoDB::GlobalTable")) == len(TABLES)


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.key)
def test_keys_and_indexes_are_those_the_local_stack_creates(dev, spec):
    # Given the create_table request the local stack and the tests send to moto
    expected = create_table_request(spec, "unused")
    # When the same table is read from the CloudFormation template
    props = _table(dev, spec)["Properties"]
    # Then key schema, attribute types and GSIs are identical
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        expected["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert props.get("GlobalSecondaryIndexes", []) == expected.get("GlobalSecondaryIndexes", [])
    assert props["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.key)
def test_ttl_and_streams_follow_the_spec(dev, spec):
    # Given a table of the template
    props = _table(dev, spec)["Properties"]
    # Then TTL is on the spec's attribute (or absent) and the stream exists only where asked for
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    if spec.stream:
        assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    else:
        assert "StreamSpecification" not in props


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_table_has_point_in_time_recovery_and_encryption(request, stage):
    synth = request.getfixturevalue(stage)
    for spec in TABLES:
        # Given a table of either stage
        props = _table(synth, spec)["Properties"]
        # Then it is encrypted with KMS and recoverable to any point of the last 35 days
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        for replica in props["Replicas"]:
            assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_prod_tables_are_retained_and_protected_from_deletion(prod):
    for spec in TABLES:
        # Given a prod table
        table = _table(prod, spec)
        # Then deleting the stack or replacing the resource keeps the data, and deletion is refused
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"
        assert all(r["DeletionProtectionEnabled"] is True for r in table["Properties"]["Replicas"])


def test_dev_tables_go_away_with_the_stack(dev):
    for spec in TABLES:
        # Given a dev table
        table = _table(dev, spec)
        # Then a developer's stack can be deleted with its data
        assert table["DeletionPolicy"] == "Delete"
        assert all(r["DeletionProtectionEnabled"] is False for r in table["Properties"]["Replicas"])
