"""genjobs_local.metering: DynamoDB item sizes and capacity units by AWS's rules, and the request and
capacity hooks on moto (enabled only inside the test)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from genjobs_local import metering
from genjobs_local.metering import item_size, read_units, value_size, write_units


def test_item_sizes_follow_the_dynamodb_rules() -> None:
    assert value_size({"S": "héllo"}) == 6
    assert value_size({"N": "12345"}) == 4  # (5 significant digits / 2, rounded up) + 1
    assert value_size({"BOOL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"NULL": True}]}) == 3 + (2 + 1) + (1 + 1)
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert item_size({"pk": {"S": "JOB#1"}, "n": {"N": "7"}}) == 2 + 5 + 1 + 2


def test_capacity_units_round_up_per_request() -> None:
    assert (write_units(0), write_units(1024), write_units(1025)) == (1, 1, 2)
    assert (read_units(4096, True), read_units(4097, True), read_units(100, False)) == (1, 2, 0.5)


@pytest.fixture
def meter() -> Iterator[metering.Meter]:
    meter = metering.enable()
    meter.reset()
    try:
        yield meter
    finally:
        metering.disable()
        meter.reset()


def test_hooks_count_requests_and_units(meter: metering.Meter) -> None:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        meter.reset()
        big = "x" * 1500  # an item of about 1.5 KB: 2 write units, 1 read unit
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"S": big}})
        ddb.get_item(TableName="t", Key={"pk": {"S": "a"}}, ConsistentRead=True)
        ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}, "v": {"S": "small"}}}}]
        )
    snapshot = meter.snapshot()
    assert snapshot["requests"]["dynamodb:PutItem"] == 1
    assert snapshot["requests"]["dynamodb:TransactWriteItems"] == 1
    assert snapshot["dynamodb_write_units"] == 2 + 2  # the transaction's 1 unit counts double
    # (a table without a sort key is named by its table, after the last "-")
    assert snapshot["dynamodb_write_units_by"] == {"PutItem[t]": 2, "TransactWriteItems[t]": 2}
    assert snapshot["dynamodb_read_units"] == 1


def test_disabled_meter_counts_nothing(meter: metering.Meter) -> None:
    metering.disable()
    with mock_aws():
        boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="q")
    assert meter.snapshot()["requests"] == {}
