"""The local DynamoDB refuses what DynamoDB refuses (local/genjobs_local/dynamodb_limits.py).

Each rule is answered with DynamoDB's ValidationException and message, and nothing is written;
items DynamoDB stores are stored, including ones moto's own size count refused.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from genjobs_local import LocalStack
from genjobs_local.intrinsics import REGION

MAX_ITEM_BYTES = 400 * 1024


@pytest.fixture
def table(stack: LocalStack) -> str:
    """A table shaped like the JobsTable but without its stream: the limits hold for every table, and
    the live channel's poller need not read these near-400 KB items back (seconds each)."""
    ddb, name = stack.client("dynamodb"), "genjobs-local-limits"
    if name not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
    return name


@pytest.fixture
def ddb(stack: LocalStack) -> Any:
    return stack.client("dynamodb")


def new_key() -> dict[str, Any]:
    return {"pk": {"S": f"LIMITS#{uuid.uuid4().hex}"}, "sk": {"S": "ITEM"}}


def key_bytes(key: dict[str, Any]) -> int:
    return sum(len(name) + len(value["S"]) for name, value in key.items())


def refusal(call: Any, **request: Any) -> str:
    """DynamoDB's answer to `call(**request)`, which must be refused: "<code>: <message>"."""
    with pytest.raises(ClientError) as refused:
        call(**request)
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return f"{error['Code']}: {error['Message']}"


def nested(levels: int) -> dict[str, Any]:
    """An attribute value `levels` deep: a string inside levels - 1 maps."""
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(levels - 1):
        value = {"M": {"a": value}}
    return value


def stored(ddb: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    item: dict[str, Any] | None = ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return item


NESTING_BARE = (
    "ValidationException: Nesting Levels have exceeded supported limits: "
    "Attributes in the item have nested levels beyond supported limit"
)
# PutItem and UpdateItem give it inside the validation envelope.
NESTING = NESTING_BARE.replace("ValidationException: ", "ValidationException: 1 validation error detected: ")


def test_an_item_nested_32_levels_is_stored_and_33_or_40_levels_refused(ddb: Any, table: str) -> None:
    deepest = new_key()
    ddb.put_item(TableName=table, Item={**deepest, "doc": nested(32)})
    assert stored(ddb, table, deepest) == {**deepest, "doc": nested(32)}

    for levels in (33, 40):
        key = new_key()
        assert refusal(ddb.put_item, TableName=table, Item={**key, "doc": nested(levels)}) == NESTING
        assert stored(ddb, table, key) is None


def test_a_very_deep_item_is_refused_not_crashed_on(stack: LocalStack, table: str) -> None:
    # The SDK refuses 200 levels itself; a client without its validation (as Step Functions'
    # service integrations call) reaches the service, which answers, never fails inside.
    stack.client("dynamodb")  # the operator's credentials, registered by the stack's first client
    raw = boto3.client(
        "dynamodb", region_name=REGION, endpoint_url=stack.moto_url, config=Config(parameter_validation=False)
    )
    key = new_key()
    answer = refusal(lambda: raw.put_item(TableName=table, Item={**key, "doc": nested(200)}))
    assert answer.startswith("ValidationException: ")
    assert answer.endswith(NESTING_BARE.removeprefix("ValidationException: "))
    assert stored(raw, table, key) is None


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (
            "123456789012345678901234567890123456789",
            "Attempting to store more than 38 significant digits in a Number",
        ),
        (
            "-1.23456789012345678901234567890123456789",
            "Attempting to store more than 38 significant digits in a Number",
        ),
        ("1e126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
        (
            "-1E+126",
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        ),
        (
            "1e-131",
            "Number underflow. Attempting to store a number with magnitude smaller than supported range",
        ),
    ],
)
def test_a_number_out_of_dynamodb_range_is_refused_wherever_it_is(
    ddb: Any, table: str, number: str, message: str
) -> None:
    for value in ({"N": number}, {"L": [{"N": "1"}, {"M": {"n": {"N": number}}}]}, {"NS": ["1", number]}):
        key = new_key()
        assert refusal(ddb.put_item, TableName=table, Item={**key, "n": value}) == (
            f"ValidationException: {message}"
        )
        assert stored(ddb, table, key) is None


def test_the_extreme_numbers_dynamodb_stores_are_stored(ddb: Any, table: str) -> None:
    key = new_key()
    numbers = {
        "most-digits": "12345678901234567890123456789012345678",
        "largest": "9.9999999999999999999999999999999999999E+125",
        "smallest": "-1E-130",
        "trailing-zeros": "1000000000000000000000000000000000000000000",
    }
    ddb.put_item(TableName=table, Item={**key, **{name: {"N": n} for name, n in numbers.items()}})
    assert set(stored(ddb, table, key) or {}) == {"pk", "sk", *numbers}


def test_an_empty_map_key_is_refused_and_the_table_stays_readable(ddb: Any, table: str) -> None:
    key = new_key()
    item = {**key, "doc": {"M": {"ok": {"S": "x"}, "": {"S": "no name"}}}}
    assert (
        refusal(lambda: ddb.put_item(TableName=table, Item=item))
        == "ValidationException: Empty attribute name"
    )
    assert stored(ddb, table, key) is None

    ddb.put_item(TableName=table, Item={**key, "doc": {"M": {}}})
    assert (
        refusal(
            lambda: ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET doc = :d",
                ExpressionAttributeValues={":d": {"M": {"": {"S": "no name"}}}},
            )
        )
        == "ValidationException: Empty attribute name"
    )
    assert stored(ddb, table, key) == {**key, "doc": {"M": {}}}


def test_an_empty_key_value_is_refused(ddb: Any, table: str) -> None:
    for call in (
        lambda: ddb.put_item(TableName=table, Item={"pk": {"S": ""}, "sk": {"S": "ITEM"}}),
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "LIMITS#empty-sk"}, "sk": {"S": ""}},
            UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"S": "x"}},
        ),
        lambda: ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": ""}, "sk": {"S": "ITEM"}}}}]
        ),
    ):
        answer = refusal(call)
        assert answer.startswith("ValidationException: One or more parameter values")
        assert "empty string" in answer
    assert (
        ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "LIMITS#empty-sk"}},
        )["Items"]
        == []
    )


def test_the_largest_item_dynamodb_stores_is_stored_and_one_byte_more_refused(ddb: Any, table: str) -> None:
    # 400 KB counted as DynamoDB counts: names and values, UTF-8. moto's own count refused
    # anything over 405,000 bytes, which DynamoDB stores.
    key = new_key()
    filler = MAX_ITEM_BYTES - key_bytes(key) - len("d")
    ddb.put_item(TableName=table, Item={**key, "d": {"S": "é" * (filler // 2) + "x" * (filler % 2)}})
    assert len((stored(ddb, table, key) or {})["d"]["S"].encode()) == filler

    over = new_key()
    assert refusal(lambda: ddb.put_item(TableName=table, Item={**over, "d": {"S": "x" * (filler + 1)}})) == (
        "ValidationException: Item size has exceeded the maximum allowed size"
    )
    assert stored(ddb, table, over) is None


def test_list_overheads_count_towards_the_limit(ddb: Any, table: str) -> None:
    # 205,000 NULLs in a list: 205,000 bytes of values, plus 3 for the list and 1 per element:
    # 410,003 bytes with the names, over 400 KB, which a count without overheads never reaches.
    key = new_key()
    item = {**key, "l": {"L": [{"NULL": True}] * 205_000}}
    assert refusal(lambda: ddb.put_item(TableName=table, Item=item)) == (
        "ValidationException: Item size has exceeded the maximum allowed size"
    )
    assert stored(ddb, table, key) is None

    # 200,000 of them (400,003 bytes and the names) fit.
    ddb.put_item(TableName=table, Item={**key, "l": {"L": [{"NULL": True}] * 200_000}})
    assert len((stored(ddb, table, key) or {})["l"]["L"]) == 200_000


def test_an_update_that_would_grow_the_item_over_the_limit_is_refused_and_not_applied(
    ddb: Any, table: str
) -> None:
    key = new_key()
    ddb.put_item(TableName=table, Item={**key, "a": {"S": "x" * 300_000}, "n": {"N": "1"}})

    assert (
        refusal(
            lambda: ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET b = :b ADD n :one",
                ExpressionAttributeValues={":b": {"S": "y" * 110_000}, ":one": {"N": "1"}},
            )
        )
        == "ValidationException: Item size to update has exceeded the maximum allowed size"
    )
    assert stored(ddb, table, key) == {**key, "a": {"S": "x" * 300_000}, "n": {"N": "1"}}

    # An update that would create an item breaking a rule creates nothing.
    created = new_key()
    assert (
        refusal(
            lambda: ddb.update_item(
                TableName=table,
                Key=created,
                UpdateExpression="SET doc = :d",
                ExpressionAttributeValues={":d": nested(33)},
            )
        )
        == NESTING
    )
    assert stored(ddb, table, created) is None


def put_and_update(
    ddb: Any, table: str, fresh: dict[str, Any], existing: dict[str, Any], name: str, value: dict[str, Any]
) -> None:
    """One transaction: put a small new item, and set `name` to `value` on an existing one."""
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**fresh, "ok": {"S": "fine"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": existing,
                    "UpdateExpression": f"SET {name} = :v",
                    "ExpressionAttributeValues": {":v": value},
                }
            },
        ]
    )


def test_a_transaction_with_one_bad_item_applies_nothing(ddb: Any, table: str) -> None:
    existing, fresh = new_key(), new_key()
    ddb.put_item(TableName=table, Item={**existing, "n": {"N": "1"}})

    with pytest.raises(ClientError) as refused:
        put_and_update(ddb, table, fresh, existing, "n", {"N": "1e126"})
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Number overflow" in str(refused.value)
    assert stored(ddb, table, fresh) is None
    assert stored(ddb, table, existing) == {**existing, "n": {"N": "1"}}


def test_a_transaction_whose_update_would_grow_an_item_over_the_limit_is_cancelled(
    ddb: Any, table: str
) -> None:
    existing, fresh = new_key(), new_key()
    ddb.put_item(TableName=table, Item={**existing, "a": {"S": "x" * 300_000}})

    with pytest.raises(ddb.exceptions.TransactionCanceledException) as cancelled:
        put_and_update(ddb, table, fresh, existing, "b", {"S": "y" * 110_000})
    assert cancelled.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "ValidationError", "Message": "Item size to update has exceeded the maximum allowed size"},
    ]
    assert stored(ddb, table, fresh) is None
    assert stored(ddb, table, existing) == {**existing, "a": {"S": "x" * 300_000}}


def test_a_batch_write_with_one_bad_item_writes_nothing(ddb: Any, table: str) -> None:
    first, bad = new_key(), new_key()
    assert (
        refusal(
            lambda: ddb.batch_write_item(
                RequestItems={
                    table: [
                        {"PutRequest": {"Item": {**first, "ok": {"S": "fine"}}}},
                        {"PutRequest": {"Item": {**bad, "doc": nested(33)}}},
                    ]
                }
            )
        )
        == NESTING_BARE
    )
    assert stored(ddb, table, first) is None
    assert stored(ddb, table, bad) is None


def test_a_function_writing_an_item_over_the_limit_fails_as_on_aws(stack: LocalStack) -> None:
    # A task's output written by the function's own code, role and the product's client.
    from genjobs.dal import aws

    key, table = new_key(), stack.resource("JobsTable")

    def write_output(event: Any, context: Any) -> str:
        try:
            aws.client("dynamodb").update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET outputs = :o",
                ExpressionAttributeValues={":o": {"L": [{"S": "u" * 1024}] * 420}},
            )
        except ClientError as error:
            return f"{error.response['Error']['Code']}: {error.response['Error']['Message']}"
        return "written"

    stack.override_handler("PollTaskFunction", write_output)
    try:
        answer = stack.invoke("PollTaskFunction", {})
    finally:
        stack.override_handler("PollTaskFunction", None)
    assert answer == "ValidationException: Item size to update has exceeded the maximum allowed size"
    assert stored(stack.client("dynamodb"), table, key) is None


def test_the_limit_counts_sizes_as_the_capacity_meter_does() -> None:
    # One rule for both: what an item costs (genjobs_local.metering) and whether it fits.
    from genjobs_local import dynamodb_limits, metering

    item = {
        "pk": {"S": "JOB#é"},
        "n": {"N": "-12345.678900"},
        "zero": {"N": "0"},
        "b": {"B": b"\x00\x01\x02"},
        "flags": {"L": [{"BOOL": True}, {"NULL": True}, {"SS": ["a", "bé"]}, {"NS": ["1", "22.5"]}]},
        "doc": {"M": {"k": {"M": {}}, "ü": {"L": []}, "s": {"S": ""}}},
    }
    assert dynamodb_limits.item_size(item) == metering.item_size(item)


def stream_changes(stack: LocalStack, table: str, key: dict[str, Any]) -> list[str]:
    """The event names the table's stream holds for `key`, in order."""
    ddb, streams = stack.client("dynamodb"), stack.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    changes: list[str] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            changes += [r["eventName"] for r in answer["Records"] if r["dynamodb"]["Keys"] == key]
            iterator = answer.get("NextShardIterator") if answer["Records"] else None
    return changes


def test_a_refused_update_leaves_no_record_in_the_table_stream(stack: LocalStack, ddb: Any) -> None:
    # GIVEN an item of the streamed JobsTable, and a key with no item
    table, existing, absent = stack.resource("JobsTable"), new_key(), new_key()
    ddb.put_item(TableName=table, Item={**existing, "doc": {"M": {}}})

    # WHEN updates DynamoDB refuses reach both (an empty map key; a result over the size limit)
    for key in (existing, absent):
        refusal(
            lambda key=key: ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET doc = :d",
                ExpressionAttributeValues={":d": {"M": {"": {"S": "no name"}}}},
            )
        )
        refusal(
            lambda key=key: ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET big = :b",
                ExpressionAttributeValues={":b": {"S": "x" * MAX_ITEM_BYTES}},
            )
        )

    # THEN the stream (what the live channel's function reads) holds only the put that happened
    assert stream_changes(stack, table, existing) == ["INSERT"]
    assert stream_changes(stack, table, absent) == []
