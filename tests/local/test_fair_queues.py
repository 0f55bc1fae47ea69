"""The local SQS delivers a standard queue's message groups as SQS fair queues do
(local/genjobs_local/fair_queues.py): a quiet tenant's message is not kept behind a noisy one's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from genjobs_local import LocalStack


def _queue(stack: LocalStack) -> tuple[Any, str]:
    sqs = stack.client("sqs")
    return sqs, sqs.create_queue(QueueName=f"fair-{uuid.uuid4().hex[:8]}")["QueueUrl"]


def _send(sqs: Any, url: str, group: str | None, count: int) -> None:
    for n in range(count):
        extra = {} if group is None else {"MessageGroupId": group}
        sqs.send_message(QueueUrl=url, MessageBody=f"{group}-{n}", **extra)


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=43_200
    ).get("Messages", [])
    return messages


def _delete(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    sqs.delete_message_batch(QueueUrl=url, Entries=entries)


def test_a_quiet_groups_message_is_delivered_before_a_noisy_groups_backlog(stack: LocalStack) -> None:
    # GIVEN a tenant with 100 messages waiting, a batch of them being processed
    sqs, url = _queue(stack)
    _send(sqs, url, "noisy", 100)
    in_flight = _receive(sqs, url)

    # WHEN another tenant sends one message after them
    _send(sqs, url, "quiet", 1)

    # THEN the next batch holds it, first
    second = _receive(sqs, url)
    assert [m["Body"] for m in second][:2] == ["quiet-0", "noisy-10"]

    # AND once nothing is in flight, the noisy tenant's recent processing time keeps it behind
    _delete(sqs, url, in_flight + second)
    _send(sqs, url, "quiet", 1)
    batch = [m["Body"] for m in _receive(sqs, url)]
    assert batch[0] == "quiet-0"
    assert all(b.startswith("noisy-") for b in batch[1:])


def test_without_a_busy_group_messages_come_in_the_order_they_were_sent(stack: LocalStack) -> None:
    # GIVEN messages of two groups and of none, nothing received yet
    sqs, url = _queue(stack)
    _send(sqs, url, "a", 3)
    _send(sqs, url, None, 2)
    _send(sqs, url, "b", 3)

    # WHEN received
    bodies = [m["Body"] for m in _receive(sqs, url)]

    # THEN in the order they were sent
    assert bodies == ["a-0", "a-1", "a-2", "None-0", "None-1", "b-0", "b-1", "b-2"]


def test_a_message_group_id_sqs_would_refuse_is_refused(stack: LocalStack) -> None:
    sqs, url = _queue(stack)
    with pytest.raises(ClientError, match="MessageGroupId"):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="a user id with spaces")
