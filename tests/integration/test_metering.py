"""genjobs_local.metering: DynamoDB item sizes and capacity units by AWS's rules, and the request and
capacity hooks on moto (enabled only inside the test)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from samtranslator.yaml_helper import yaml_parse

from genjobs_local import environments, metering, metering_logs
from genjobs_local.metering import item_size, read_units, value_size, write_units
from genjobs_local.paths import DEFAULT_TEMPLATE


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
    with metering.counting() as meter:
        yield meter


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


def test_log_lines_written_in_an_invocation_are_counted_for_its_function(meter: metering.Meter) -> None:
    # GIVEN a logging handler made before the meter (as powertools keeps its handler for the process)
    handler = logging.StreamHandler(getattr(sys.stdout, "inner", sys.stdout))
    log = logging.getLogger("metering-test")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    metering.enable()
    try:
        line = json.dumps({"level": "INFO", "location": "handler:12", "message": "polled"})
        emf = json.dumps({"_aws": {"CloudWatchMetrics": []}, "Polls": 1})
        # WHEN a function logs a JSON line and prints an EMF line (in two writes, as print does)
        with environments.running("PollTaskFunction"), metering_logs.invocation("PollTaskFunction"):
            log.info(line)
            print(emf)
        print("outside any invocation")
    finally:
        log.removeHandler(handler)
    # THEN each line is an event of that function's log group: its bytes plus CloudWatch's 26
    snapshot = meter.snapshot()
    assert snapshot["log_lines"] == {"PollTaskFunction": 2}
    assert snapshot["log_bytes"] == {"PollTaskFunction": len(line) + len(emf) + 2 * 26}
    assert snapshot["log_emitters"] == {
        "PollTaskFunction|INFO handler:12": {"lines": 1, "bytes": len(line) + 26},
        "PollTaskFunction|metrics": {"lines": 1, "bytes": len(emf) + 26},
    }


def _levels(system: str, state_machine: str) -> dict[str, Any]:
    """A template with only the log settings the meter reads."""
    return {
        "Globals": {"Function": {"LoggingConfig": {"SystemLogLevel": system}}},
        "Resources": {
            "M": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {"Logging": {"Level": state_machine}},
            }
        },
    }


@pytest.fixture
def log_levels() -> Iterator[Callable[[str, str], None]]:
    yield lambda system, state_machine: metering_logs.configure(_levels(system, state_machine)) and None
    metering_logs.configure(dict(yaml_parse(DEFAULT_TEMPLATE.read_text())))  # the stack's own again


@pytest.mark.parametrize(("system", "platform_lines"), [("INFO", 2), ("WARN", 0)])
def test_an_invocation_adds_lambdas_platform_lines_at_info_and_always_its_error_record(
    meter: metering.Meter, log_levels: Callable[[str, str], None], system: str, platform_lines: int
) -> None:
    log_levels(system, "FATAL")
    error = json.dumps({"errorType": "TaskNotReady", "errorMessage": "running", "stackTrace": ["x" * 1000]})
    meter.invocation_started("PollTaskFunction")
    meter.invocation("PollTaskFunction", 256, 0.1, error)
    snapshot = meter.snapshot()
    platform = (sum(metering_logs.PLATFORM_LINE_BYTES) + 2 * 26) if platform_lines else 0
    record = len(error) + metering_logs.ERROR_RECORD_ENVELOPE_BYTES + 26
    assert snapshot["log_bytes"] == {"PollTaskFunction": platform + record}
    assert snapshot["log_lines"] == {"PollTaskFunction": platform_lines + 1}
    assert snapshot["lambda_peak_concurrency"] == {"PollTaskFunction": 1}
    assert snapshot["lambda_gb_seconds_by"] == {"PollTaskFunction": pytest.approx(0.025)}


def test_the_state_machines_log_takes_failures_at_error_and_only_the_executions_at_fatal(
    log_levels: Callable[[str, str], None],
) -> None:
    failed = {"taskFailedEventDetails": {"error": "TaskNotReady", "cause": "running", "input": "x" * 500}}
    logged = (
        len(json.dumps({"taskFailedEventDetails": {"error": "TaskNotReady", "cause": "running"}}))
        + metering_logs.STATE_MACHINE_RECORD_BYTES
        + 26
    )
    log_levels("WARN", "ERROR")
    assert metering_logs.state_machine_record_bytes("TaskFailed", failed) == logged
    assert metering_logs.state_machine_record_bytes("TaskSucceeded", {"x": {}}) == 0
    assert metering_logs.state_machine_record_bytes("TaskStateEntered", {"x": {}}) == 0
    log_levels("WARN", "FATAL")
    assert metering_logs.state_machine_record_bytes("TaskFailed", failed) == 0
    assert metering_logs.state_machine_record_bytes("ExecutionFailed", {"x": {}}) > 0


def test_sqs_requests_are_billed_per_64_kb_of_their_messages() -> None:
    kb = 1024
    batch = {
        "Entries": [{"Id": "a", "MessageBody": "x" * 40 * kb}, {"Id": "b", "MessageBody": "y" * 40 * kb}]
    }
    assert metering.sqs_units("SendMessageBatch", json.dumps(batch), None) == 2
    assert metering.sqs_units("SendMessage", json.dumps({"MessageBody": "small"}), None) == 1
    received = json.dumps({"Messages": [{"Body": "z" * 130 * kb}]})
    assert metering.sqs_units("ReceiveMessage", "{}", (200, {}, received)) == 3
    assert metering.sqs_units("DeleteMessage", "{}", None) == 1


def test_sqs_requests_and_state_machine_executions_are_counted(meter: metering.Meter) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        meter.reset()
        sqs.send_message(QueueUrl=url, MessageBody="x" * 70 * 1024)  # two 64 KB units
        sqs.receive_message(QueueUrl=url)
        sqs.receive_message(QueueUrl=url)  # empty: a local poller's, not billed here
    snapshot = meter.snapshot()
    assert snapshot["sqs_billed_requests"] == 2 + 2
    assert snapshot["requests"]["sqs:ReceiveMessage(empty)"] == 1


def test_trace_roots_are_executions_and_sqs_triggered_invocations(meter: metering.Meter) -> None:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        role = "arn:aws:iam::123456789012:role/sfn"
        arn = sfn.create_state_machine(name="m", definition=definition, roleArn=role)["stateMachineArn"]
        meter.reset()
        sfn.start_execution(stateMachineArn=arn, name="job-1")
    assert meter.snapshot()["trace_roots"] == {"execution": 1}
    # an SQS event source mapping's invocation starts a trace; a state machine's Lambda task joins one
    assert metering._sqs_triggered({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})
    assert not metering._sqs_triggered({"jobId": "job-1", "Records": "not a batch"})
    assert not metering._sqs_triggered({"jobId": "job-1"})


def test_an_index_is_written_only_when_what_it_keeps_changes(meter: metering.Meter) -> None:
    # GIVEN a table with an index keeping everything and a keys-only index, the item in both
    key_attrs = [("pk", "HASH")]
    indexes = [("all", "ALL"), ("keys", "KEYS_ONLY")]
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": n, "KeyType": k} for n, k in key_attrs],
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "all_pk", "keys_pk")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": name,
                    "KeySchema": [{"AttributeName": f"{name}_pk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": kind},
                }
                for name, kind in indexes
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        item = {"pk": {"S": "a"}, "all_pk": {"S": "u"}, "keys_pk": {"S": "due"}, "n": {"N": "1"}}

        def units(write: Callable[[], Any]) -> float:
            meter.reset()
            write()
            return float(meter.snapshot()["dynamodb_write_units"])

        # WHEN the item is put (table 1, each index 1)
        assert units(lambda: ddb.put_item(TableName="t", Item=item)) == 3
        # AND a non-key attribute changes: the ALL index rewrites its copy, the keys-only one nothing
        change = {"UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "2"}}}
        assert units(lambda: ddb.update_item(TableName="t", Key={"pk": {"S": "a"}}, **change)) == 1 + 1
        # AND the keys-only index's key changes: its entry is deleted and put again (2)
        move = {"UpdateExpression": "SET keys_pk = :k", "ExpressionAttributeValues": {":k": {"S": "later"}}}
        assert units(lambda: ddb.update_item(TableName="t", Key={"pk": {"S": "a"}}, **move)) == 1 + 1 + 2
        # AND an update that changes nothing at all writes the table only
        same = {"UpdateExpression": "SET n = :n", "ExpressionAttributeValues": {":n": {"N": "2"}}}
        assert units(lambda: ddb.update_item(TableName="t", Key={"pk": {"S": "a"}}, **same)) == 1
