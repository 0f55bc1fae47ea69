"""SQS -> Lambda as Lambda's event source mapping does it; SNS -> SQS raw delivery."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.local.conftest import Overlap

from genjobs_local import LocalStack
from genjobs_local.sqs_poller import failed_message_ids


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_records_have_lambdas_sqs_event_shape(stack: LocalStack, fake: Any) -> None:
    # GIVEN a fake submitter
    submitter = fake("SubmitterFunction")

    # WHEN a message with an attribute is sent to its queue
    stack.client("sqs").send_message(
        QueueUrl=stack.resource("SubmitQueue"),
        MessageBody='{"jobId": "j1"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "submit"}},
    )
    _eventually(lambda: bool(submitter.calls))

    # THEN the function got one record shaped like Lambda's
    record = submitter.calls[0]["Records"][0]
    assert record["body"] == '{"jobId": "j1"}'
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:genjobs-local-submit"
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "submit",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert all(record[key] for key in ("messageId", "receiptHandle", "md5OfBody"))


def test_batch_item_failure_is_redelivered_then_lands_in_the_dlq(stack: LocalStack, fake: Any) -> None:
    # GIVEN a notifier that always fails "poison" (making it visible again at once) and accepts the rest
    sqs = stack.client("sqs")
    queue = stack.resource("NotifyQueue")

    def handle(event: Any, context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            if record["body"] == "poison":
                sqs.change_message_visibility(
                    QueueUrl=queue, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    notifier = fake("NotifierFunction", handle)

    # WHEN a good and a poison message are sent
    sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": "1", "MessageBody": "good"}, {"Id": "2", "MessageBody": "poison"}]
    )
    dlq = stack.resource("NotifyDLQ")
    _eventually(lambda: bool(sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0).get("Messages")))

    # THEN the good one was handled once and deleted, the poison one tried maxReceiveCount (5) times, then moved
    bodies = [r["body"] for call in notifier.calls for r in call["Records"]]
    assert bodies.count("good") == 1
    assert bodies.count("poison") == 5
    counts = [
        r["attributes"]["ApproximateReceiveCount"]
        for c in notifier.calls
        for r in c["Records"]
        if r["body"] == "poison"
    ]
    assert counts == ["1", "2", "3", "4", "5"]
    assert sqs.receive_message(QueueUrl=dlq)["Messages"][0]["Body"] == "poison"


def test_function_error_retries_the_whole_batch_after_the_visibility_timeout(
    stack: LocalStack, fake: Any
) -> None:
    # GIVEN a notifier that crashes on its first call only
    calls: list[float] = []

    def crash_once(event: Any, context: Any) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("cold dependency")

    notifier = fake("NotifierFunction", crash_once)

    # WHEN a message arrives
    stack.client("sqs").send_message(QueueUrl=stack.resource("NotifyQueue"), MessageBody="hello")
    _eventually(lambda: len(notifier.calls) >= 2)
    time.sleep(0.3)

    # THEN it came back after the queue's 60 s visibility timeout (scaled), and once more only
    assert len(notifier.calls) == 2
    assert notifier.calls[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert calls[1] - calls[0] >= 60 * 0.01 * 0.9


def test_maximum_concurrency_is_honoured(stack: LocalStack, fake: Any) -> None:
    # GIVEN a slow submitter; the session stack sets SubmitMaxConcurrency=3
    overlap = Overlap()

    def slow(event: Any, context: Any) -> None:
        with overlap:
            time.sleep(0.1)

    submitter = fake("SubmitterFunction", slow)

    # WHEN 40 messages arrive at once
    sqs = stack.client("sqs")
    for start in range(0, 40, 10):
        entries = [{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)]
        sqs.send_message_batch(QueueUrl=stack.resource("SubmitQueue"), Entries=entries)
    _eventually(lambda: sum(len(c["Records"]) for c in submitter.calls) >= 40)

    # THEN at most 3 batches ran at once, and batches held at most BatchSize (5) records
    assert overlap.peak == 3
    assert max(len(c["Records"]) for c in submitter.calls) <= 5


def test_sns_delivers_raw_messages_to_the_notify_queue(stack: LocalStack, fake: Any) -> None:
    # GIVEN a fake notifier behind the NotifyQueue subscription
    notifier = fake("NotifierFunction")
    message = json.dumps({"jobId": str(uuid.uuid4()), "status": "SUCCEEDED"})

    # WHEN a job event is published to the topic
    stack.client("sns").publish(
        TopicArn=stack.resource("JobEventsTopic"),
        Message=message,
        MessageAttributes={"eventType": {"DataType": "String", "StringValue": "JobFinished"}},
    )
    _eventually(lambda: bool(notifier.calls))

    # THEN the record's body is the message itself (RawMessageDelivery), attributes included
    record = notifier.calls[0]["Records"][0]
    assert record["body"] == message
    assert record["messageAttributes"]["eventType"]["stringValue"] == "JobFinished"


def test_malformed_batch_item_failures_fail_the_whole_batch() -> None:
    # GIVEN a batch of two messages
    batch = {"m1", "m2"}

    # THEN valid reports retry those ids; empty reports retry nothing; malformed ones retry all (None)
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, batch) == {"m2"}
    assert failed_message_ids({"batchItemFailures": []}, batch) == set()
    assert failed_message_ids(None, batch) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "other"}]}, batch) is None
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, batch) is None


def test_a_message_is_not_delivered_again_while_its_invocation_runs(stack: LocalStack, fake: Any) -> None:
    # GIVEN a notifier whose first invocation outlasts the queue's visibility timeout (60 s, 0.6 wall
    # seconds here) and then fails; the second succeeds
    spans: list[tuple[float, float]] = []

    def slow_then_fail(event: Any, context: Any) -> None:
        started = time.monotonic()
        if not spans:
            time.sleep(1.2)
        spans.append((started, time.monotonic()))
        if len(spans) == 1:
            raise RuntimeError("crashed after a long run")

    notifier = fake("NotifierFunction", slow_then_fail)

    # WHEN a message arrives
    stack.client("sqs").send_message(QueueUrl=stack.resource("NotifyQueue"), MessageBody="slow")
    _eventually(lambda: len(spans) >= 2)
    time.sleep(0.3)

    # THEN it was not handed to a second invocation while the first ran (AWS: the function's timeout
    # is below the visibility timeout); it came back once, a visibility timeout after the first ended
    assert len(notifier.calls) == 2
    (_, first_end), (second_start, _) = spans
    assert second_start - first_end >= 60 * 0.01 * 0.9
    assert notifier.calls[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_batch_waits_for_a_runtime_slot_before_it_is_received(stack: LocalStack, fake: Any) -> None:
    # GIVEN every slot of the runtime taken (a stack busy with other invocations)
    notifier = fake("NotifierFunction")
    limit = stack.runner.limit
    for _ in range(limit.limit):
        limit.acquire()
    try:
        # WHEN a message arrives and waits longer than the queue's visibility timeout
        stack.client("sqs").send_message(QueueUrl=stack.resource("NotifyQueue"), MessageBody="later")
        time.sleep(1.0)
        waited = len(notifier.calls)
    finally:
        for _ in range(limit.limit):
            limit.release()
    _eventually(lambda: bool(notifier.calls))

    # THEN it was not received while no slot was free: its first delivery is its first receive
    assert waited == 0
    assert notifier.calls[0]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1"


def test_an_idle_queue_is_not_received_from(stack: LocalStack) -> None:
    # GIVEN the pollers' SQS client, counting ReceiveMessage calls, and nothing queued
    stack.wait_idle()
    sqs = stack.client("sqs")
    calls: list[Any] = []
    original = sqs.receive_message

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(**kwargs)

    sqs.receive_message = counting
    try:
        # WHEN half a second passes
        time.sleep(0.5)
    finally:
        del sqs.receive_message

    # THEN no poller asked moto for messages (it waits on the queue in-process)
    assert calls == []
