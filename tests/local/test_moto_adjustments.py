"""One test per adjustment of moto (local/genjobs_local/moto_adjustments.py): AWS's behaviour holds."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from tests.local.conftest import TIME_SCALE

from genjobs_local import LocalStack
from genjobs_local.intrinsics import ACCOUNT_ID, REGION


def _run_state_machine(stack: LocalStack, definition: dict[str, Any], payload: Any = None) -> dict[str, Any]:
    """Create a throwaway state machine, run it to the end, return DescribeExecution."""
    sfn = stack.client("stepfunctions")
    role = stack.client("iam").get_role(RoleName=stack.resource("GenerationStateMachineRole"))["Role"]["Arn"]
    machine = sfn.create_state_machine(
        name=f"test-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="run", input=json.dumps(payload or {}))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise TimeoutError("execution still running")


def _function_arn(stack: LocalStack, logical_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{stack.resource(logical_id)}"


def test_lambda_code_runs_in_process_with_a_lambda_context(stack: LocalStack, fake: Any) -> None:
    # GIVEN a function that returns what it was given
    fake("SweeperFunction", lambda event, context: {"event": event, "name": context.function_name})

    # WHEN invoked through moto's Lambda API (as Step Functions, CLI and SDK calls do)
    response = stack.client("lambda").invoke(
        FunctionName=stack.resource("SweeperFunction"), Payload=b'{"a": 1}'
    )

    # THEN the code ran here, with a context naming the function
    assert json.loads(response["Payload"].read()) == {"event": {"a": 1}, "name": "genjobs-local-sweeper"}


def test_lambda_exception_is_a_lambda_error_payload(stack: LocalStack, fake: Any) -> None:
    # GIVEN a function that raises
    def fail(event: Any, context: Any) -> None:
        raise TimeoutError("provider too slow")

    fake("SweeperFunction", fail)

    # WHEN invoked through moto's Lambda API
    response = stack.client("lambda").invoke(FunctionName=stack.resource("SweeperFunction"), Payload=b"{}")

    # THEN the invocation reports a function error with Lambda's payload
    payload = json.loads(response["Payload"].read())
    assert response["FunctionError"]
    assert payload["errorType"] == "TimeoutError"
    assert payload["errorMessage"] == "provider too slow"
    assert any("in fail" in line for line in payload["stackTrace"])


def test_lambda_exception_reaches_catch_under_its_class_name(stack: LocalStack, fake: Any) -> None:
    # GIVEN a task whose function raises TimeoutError, caught by that name only
    def fail(event: Any, context: Any) -> None:
        raise TimeoutError("slow")

    fake("FailTaskFunction", fail)
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": _function_arn(stack, "FailTaskFunction"), "Payload": {}},
                "Catch": [{"ErrorEquals": ["TimeoutError"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }

    # WHEN the execution runs
    execution = _run_state_machine(stack, definition)

    # THEN the Catch matched the class name
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["error"]["Error"] == "TimeoutError"


def test_concurrent_atomic_adds_are_exact(stack: LocalStack) -> None:
    # GIVEN 20 threads each adding 1 to one counter 10 times
    ddb = stack.client("dynamodb")
    table, key = stack.resource("JobsTable"), {"pk": {"S": f"counter#{uuid.uuid4()}"}, "sk": {"S": "c"}}

    def add_ten() -> None:
        for _ in range(10):
            ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    threads = [threading.Thread(target=add_ten) for _ in range(20)]

    # WHEN they run at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN no update is lost
    assert ddb.get_item(TableName=table, Key=key)["Item"]["n"] == {"N": "200"}


def test_failed_transaction_rolls_back_only_its_items_without_copying_the_table(stack: LocalStack) -> None:
    # GIVEN an item, and a transaction that updates it, puts another, then fails a condition
    from moto.dynamodb.models import dynamodb_backends

    ddb, table = stack.client("dynamodb"), stack.resource("JobsTable")
    prefix = f"tx#{uuid.uuid4()}"
    ddb.put_item(TableName=table, Item={"pk": {"S": prefix}, "sk": {"S": "a"}, "n": {"N": "1"}})
    table_object = dynamodb_backends[ACCOUNT_ID][REGION].tables[table]
    items = [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": prefix}, "sk": {"S": "a"}},
                "UpdateExpression": "SET n = :two",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        {"Put": {"TableName": table, "Item": {"pk": {"S": prefix}, "sk": {"S": "b"}}}},
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": prefix}, "sk": {"S": "missing"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]

    # WHEN the transaction runs
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=items)

    # THEN both writes are undone, and the table object was kept (no whole-table copy swapped in)
    assert ddb.get_item(TableName=table, Key={"pk": {"S": prefix}, "sk": {"S": "a"}})["Item"]["n"] == {
        "N": "1"
    }
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": prefix}, "sk": {"S": "b"}})
    assert dynamodb_backends[ACCOUNT_ID][REGION].tables[table] is table_object


def test_queries_read_one_partition_and_order_and_page_as_dynamodb_does(stack: LocalStack) -> None:
    # GIVEN items in three partitions, each also in gsi1 under one shared index partition
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    ddb, table = stack.client("dynamodb"), stack.resource("JobsTable")
    run = uuid.uuid4().hex
    partitions = [f"q#{run}#{p}" for p in "abc"]
    for p in partitions:
        for i in (3, 1, 4, 0, 2):
            ddb.put_item(
                TableName=table,
                Item={
                    "pk": {"S": p},
                    "sk": {"S": f"item#{i}"},
                    "gsi1pk": {"S": f"q#{run}"},
                    "gsi1sk": {"S": f"{i}#{p}"},
                },
            )
    read: list[int] = []  # how many items each listing of the table handed to a query
    table_object = dynamodb_backends[ACCOUNT_ID][REGION].tables[table]
    listing = Table.all_items

    def counting(self: Table) -> Any:
        items = listing(self)
        read.append(len(items))
        return items

    def query(**kwargs: Any) -> list[str]:
        """Every page of a query, as pk|sk."""
        found, start = [], None
        while True:
            page = ddb.query(
                TableName=table, Limit=2, **kwargs, **({"ExclusiveStartKey": start} if start else {})
            )
            found += [f"{i['pk']['S'][-1]}|{i['sk']['S']}" for i in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    # WHEN the table is queried by partition (forward, backward, by key range) and the index is queried
    Table.all_items = counting  # type: ignore[method-assign]
    try:
        forward = query(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": partitions[1]}}
        )
        backward = query(
            KeyConditionExpression="pk = :p AND sk >= :s",
            ExpressionAttributeValues={":p": {"S": partitions[2]}, ":s": {"S": "item#2"}},
            ScanIndexForward=False,
        )
        table_queries_read = list(read)
        by_index = query(
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p AND gsi1sk < :s",
            ExpressionAttributeValues={":p": {"S": f"q#{run}"}, ":s": {"S": "2"}},
        )
    finally:
        Table.all_items = listing  # type: ignore[method-assign]

    # THEN each returns what DynamoDB returns, in its order, across pages
    assert forward == [f"b|item#{i}" for i in range(5)]
    assert backward == ["c|item#4", "c|item#3", "c|item#2"]
    assert by_index == ["a|item#0", "b|item#0", "c|item#0", "a|item#1", "b|item#1", "c|item#1"]
    # AND a table query read its own partition, not the whole table
    assert table_queries_read
    assert set(table_queries_read) == {5}
    assert len(table_object.all_items()) >= 15  # outside a query, moto's listing is the whole table


def test_state_machine_service_clients_are_reused() -> None:
    # GIVEN the interpreter's client factory, as its Task states call it
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    # WHEN the same service is asked for twice
    first = lambda_eval_utils.boto_client_for(REGION, "lambda")
    second = boto_client.boto_client_for(REGION, "lambda", None)

    # THEN it is one client (one connection pool), and another service gets its own
    assert first is second
    assert boto_client.boto_client_for(REGION, "sqs") is not first


def test_state_machine_json_paths_are_parsed_once() -> None:
    # GIVEN the interpreter's JSONPath evaluation
    from moto.stepfunctions.parser.asl.utils import json_path

    # WHEN a path is used twice on different data
    first = json_path.extract_json("$.a.b", {"a": {"b": 1}})
    second = json_path.extract_json("$.a.b", {"a": {"b": 2}})

    # THEN each read its own data, from one parsed path
    assert (first, second) == (1, 2)
    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")


def test_the_server_finds_each_hosts_backend_once(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto's package listing, which its server walks to find a request's backend
    from moto import backends

    listed: list[int] = []
    original = backends.list_of_moto_modules

    def list_of_moto_modules() -> Any:
        listed.append(1)
        return original()

    monkeypatch.setattr(backends, "list_of_moto_modules", list_of_moto_modules)

    # WHEN one service is called many times, each call on a host the server has routed before
    sqs = stack.client("sqs")
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for _ in range(5):
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])

    # THEN each still reached its service, and none listed moto's services again
    assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert listed == []


def test_sqs_mappings_are_polled_not_fired_inside_send_message(stack: LocalStack) -> None:
    # GIVEN the template's six SQS event source mappings (submit, its DLQ, notify, run, bulk, dispatch)
    from moto.sqs.models import sqs_backends

    mappings = stack.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    mappings = [m for m in mappings if m["EventSourceArn"].startswith("arn:aws:sqs:")]

    # THEN they exist in Lambda, but no moto queue fires them synchronously on SendMessage
    assert len(mappings) == 6
    queues = sqs_backends[ACCOUNT_ID][REGION].queues.values()
    assert all(not q.lambda_event_source_mappings for q in queues)


def test_the_stream_mapping_is_polled_not_fired_inside_the_write(stack: LocalStack) -> None:
    # GIVEN the template's mapping of the jobs table's stream to LiveFunction
    from moto.dynamodb.models import dynamodb_backends

    mappings = stack.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    streams = [m for m in mappings if ":dynamodb:" in m["EventSourceArn"]]

    # THEN it exists in Lambda, but no moto table invokes it inside a write (holding the DynamoDB lock)
    assert len(streams) == 1
    assert streams[0]["FunctionArn"].endswith(":genjobs-local-live")
    tables = dynamodb_backends[ACCOUNT_ID][REGION].tables.values()
    assert all(not t.lambda_event_source_mappings for t in tables)


def test_sqs_delays_and_visibility_timeouts_run_in_scaled_time(stack: LocalStack) -> None:
    # GIVEN a queue (no consumer) and a message delayed by 60 schedule seconds
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"scaled-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sent = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=60)

    # WHEN polling until it appears, then receiving it with a 30 s visibility timeout
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    while not (messages := sqs.receive_message(QueueUrl=url, VisibilityTimeout=30).get("Messages")):
        time.sleep(0.01)
    delayed = time.monotonic() - sent
    received = time.monotonic()
    while not sqs.receive_message(QueueUrl=url).get("Messages"):
        time.sleep(0.01)
    invisible = time.monotonic() - received

    # THEN both lasted their schedule seconds x TIME_SCALE, not wall seconds
    assert messages[0]["Body"] == "x"
    assert 60 * TIME_SCALE * 0.9 <= delayed < 60 * TIME_SCALE + 1.0
    assert 30 * TIME_SCALE * 0.9 <= invisible < 30 * TIME_SCALE + 1.0


def test_wait_states_last_their_scaled_seconds(stack: LocalStack) -> None:
    # GIVEN a Wait of 100 schedule seconds (1 wall second at TIME_SCALE 0.01)
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 100, "End": True}}}

    # WHEN it runs
    started = time.monotonic()
    execution = _run_state_machine(stack, definition)
    elapsed = time.monotonic() - started

    # THEN it took the scaled time, not 100 s and not nothing
    assert execution["status"] == "SUCCEEDED"
    assert 100 * TIME_SCALE * 0.9 <= elapsed < 100 * TIME_SCALE + 2.0


def test_retry_intervals_are_scaled(stack: LocalStack, fake: Any) -> None:
    # GIVEN a function failing twice, retried every 50 schedule seconds
    attempts: list[float] = []

    def flaky(event: Any, context: Any) -> str:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ConnectionError("blip")
        return "ok"

    fake("FailTaskFunction", flaky)
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": _function_arn(stack, "FailTaskFunction"), "Payload": {}},
                "Retry": [{"ErrorEquals": ["ConnectionError"], "IntervalSeconds": 50, "BackoffRate": 1.0}],
                "End": True,
            }
        },
    }

    # WHEN it runs
    execution = _run_state_machine(stack, definition)

    # THEN the two retries waited 0.5 wall seconds each
    assert execution["status"] == "SUCCEEDED"
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(50 * TIME_SCALE * 0.9 <= gap < 50 * TIME_SCALE + 1.0 for gap in gaps), gaps


def test_task_token_timeout_is_scaled(stack: LocalStack) -> None:
    # GIVEN a callback task nobody answers, with TimeoutSeconds 100 (1 wall second)
    queue = stack.client("sqs").create_queue(QueueName=f"tokens-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 100,
                "End": True,
            }
        },
    }

    # WHEN it runs
    started = time.monotonic()
    execution = _run_state_machine(stack, definition)
    elapsed = time.monotonic() - started

    # THEN it timed out after the scaled time
    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.Timeout"
    assert 100 * TIME_SCALE * 0.9 <= elapsed < 100 * TIME_SCALE + 2.0


def test_iam_takes_policies_without_version_and_has_aws_managed_policies(stack: LocalStack) -> None:
    # GIVEN the role SAM generated for the API function
    iam = stack.client("iam")
    role = stack.resource("ApiFunctionRole")

    # THEN its versionless inline policies and AWS managed policies are attached, as on AWS
    assert iam.list_role_policies(RoleName=role)["PolicyNames"]
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert "AWSLambdaBasicExecutionRole" in attached


def test_tls_only_bucket_policy_is_kept_and_does_not_deny_sdk_calls(stack: LocalStack) -> None:
    # GIVEN the outputs bucket with the template's "deny when not over TLS" policy, applied as declared
    s3, bucket = stack.client("s3"), stack.resource("OutputBucket")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"

    # WHEN objects are written and read (SDK calls, TLS on AWS)
    s3.put_object(Bucket=bucket, Key="manifests/probe.json", Body=b"[]")

    # THEN the conditional Deny does not apply, as on AWS
    assert s3.get_object(Bucket=bucket, Key="manifests/probe.json")["Body"].read() == b"[]"


def _s3_signing(stack: LocalStack, version: str) -> Any:
    """An S3 client presigning with SigV2 ("s3", boto3's default in us-east-1) or SigV4 ("s3v4")."""
    return boto3.client(
        "s3", region_name=REGION, endpoint_url=stack.moto_url, config=Config(signature_version=version)
    )


@pytest.mark.parametrize("version", ["s3", "s3v4"])
def test_presigned_get_is_served_until_it_expires_then_refused_as_s3_does(
    stack: LocalStack, version: str
) -> None:
    # GIVEN a private object and a URL presigned for it for a few seconds (SigV2 rounds its expiry
    # time down to the second, so a one-second URL may be expired before its first fetch)
    s3, bucket = _s3_signing(stack, version), stack.resource("OutputBucket")
    s3.put_object(Bucket=bucket, Key="outputs/probe/expiring.txt", Body=b"secret")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "outputs/probe/expiring.txt"}, ExpiresIn=4
    )

    # WHEN it is fetched at once, then after its expiry
    fresh = requests.get(url, timeout=10)
    time.sleep(5.1)
    stale = requests.get(url, timeout=10)

    # THEN the first is served and the second refused with S3's 403 AccessDenied "Request has expired"
    assert (fresh.status_code, fresh.content) == (200, b"secret")
    assert stale.status_code == 403
    assert "<Code>AccessDenied</Code>" in stale.text
    assert "<Message>Request has expired</Message>" in stale.text
    assert b"secret" not in stale.content


@pytest.mark.parametrize("version", ["s3", "s3v4"])
def test_presigned_get_with_a_tampered_signature_or_key_is_refused(stack: LocalStack, version: str) -> None:
    # GIVEN two private objects and a valid presigned URL for the first
    s3, bucket = _s3_signing(stack, version), stack.resource("OutputBucket")
    s3.put_object(Bucket=bucket, Key="outputs/probe/mine.txt", Body=b"mine")
    s3.put_object(Bucket=bucket, Key="outputs/probe/theirs.txt", Body=b"theirs")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "outputs/probe/mine.txt"}, ExpiresIn=300
    )
    name = "X-Amz-Signature=" if version == "s3v4" else "Signature="
    signature = url.split(name, 1)[1].split("&", 1)[0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    # WHEN the signature is altered, or the signed URL is pointed at another key
    forged = requests.get(url.replace(f"{name}{signature}", f"{name}{flipped}"), timeout=10)
    other_key = requests.get(url.replace("mine.txt", "theirs.txt"), timeout=10)

    # THEN both are refused with SignatureDoesNotMatch, and the untouched URL still works
    for refused in (forged, other_key):
        assert refused.status_code == 403, refused.text
        assert "<Code>SignatureDoesNotMatch</Code>" in refused.text
    assert requests.get(url, timeout=10).content == b"mine"


def test_a_presigned_get_fetched_seconds_after_signing_is_still_served(stack: LocalStack) -> None:
    # GIVEN a SigV4 URL signed now for five minutes
    s3, bucket = _s3_signing(stack, "s3v4"), stack.resource("OutputBucket")
    s3.put_object(Bucket=bucket, Key="outputs/probe/later.txt", Body=b"later")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "outputs/probe/later.txt"}, ExpiresIn=300
    )
    # WHEN it is fetched in a later second than it was signed in
    time.sleep(1.2)
    # THEN its signature still verifies (it is checked for its own X-Amz-Date, not the clock's)
    response = requests.get(url, timeout=10)
    assert (response.status_code, response.content) == (200, b"later")
